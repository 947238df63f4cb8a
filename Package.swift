// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "lucid-operator",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "HTTP", targets: ["HTTP"]),
        .library(name: "YAML", targets: ["YAML"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
        .library(name: "Tron", targets: ["Tron"]),
        .executable(name: "lucid-payout", targets: ["lucid-payout"]),
        .executable(name: "lucid-operator", targets: ["lucid-operator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
    ],
    targets: [
        // C libraries the design rests on, found through pkg-config.
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CYAML", pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(
            name: "CSecp256k1", pkgConfig: "libsecp256k1",
            providers: [.apt(["libsecp256k1-dev"])]),
        // Typed wrappers for libcurl's variadic setopt/getinfo, which Swift cannot call.
        .target(name: "CCurlShim", dependencies: ["CCurl"]),
        // glibc's malloc_trim, which the Glibc module does not export.
        .target(name: "CHeap"),

        .target(
            name: "HTTP",
            dependencies: ["CCurl", "CCurlShim"]),
        .target(
            name: "YAML",
            dependencies: ["CYAML"]),
        .target(
            name: "KubeClient",
            dependencies: ["HTTP", "YAML", .product(name: "Logging", package: "swift-log")]),

        // CEL (x-kubernetes-validations): parser, checker, evaluator. Pure; used offline too.
        .target(name: "CEL", dependencies: ["YAML"]),
        .target(name: "StructuralSchema", dependencies: ["YAML", "CEL"]),
        .target(
            name: "ControllerRuntime",
            dependencies: [
                "KubeClient", "YAML", "CHeap",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),
        .target(name: "LucidAPI", dependencies: ["StructuralSchema", "YAML", "Tron"]),
        .target(name: "Mesh", dependencies: ["LucidAPI", "YAML", "Tron"]),
        // `lucid-operator validate`: manifests checked offline (schemas, CEL, semantic rules, references).
        .target(name: "ManifestValidation", dependencies: ["LucidAPI", "Mesh", "StructuralSchema", "YAML"]),
        // The payout state machine, the Job builder and reader: pure.
        .target(name: "Payouts", dependencies: ["LucidAPI", "Tron", "YAML"]),
        .target(
            name: "Reconcilers",
            dependencies: ["ControllerRuntime", "KubeClient", "LucidAPI", "Mesh", "YAML",
                           .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
                           "Payouts", "Tron", "HTTP", "EtcdClient", "Registry", .product(name: "Metrics", package: "swift-metrics"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .target(
            name: "Tron",
            dependencies: ["HTTP", "YAML", "CSecp256k1", .product(name: "Crypto", package: "swift-crypto")]),
        .executableTarget(
            name: "lucid-operator",
            dependencies: [
                "LucidAPI", "APIServer", "YAML", "ControllerRuntime", "Reconcilers", "KubeClient", "HTTP", "ManifestValidation", "Mesh",
                "Payouts", "Tron", "DevJobRunner", "FakeTronGrid", "LoopbackServer", "EtcdClient", "EtcdServer", "Registry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "lucid-payout",
            dependencies: ["Tron", "HTTP", "YAML", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // Test support: a programmable HTTP/1.1 server on loopback (SwiftNIO).
        .target(
            name: "LoopbackServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),

        // The embedded Kubernetes API server (tests, benchmarks, `lucid-operator dev`).
        // With RBAC on it serves HTTPS (kubectl sends credentials over TLS only).
        .target(name: "APIServer", dependencies: ["LoopbackServer", "StructuralSchema", "YAML",
                                                  .product(name: "NIOCore", package: "swift-nio"),
                                                  .product(name: "NIOPosix", package: "swift-nio"),
                                                  .product(name: "NIOSSL", package: "swift-nio-ssl")]),

        // Test support: rendered Envoy configs checked against Envoy's v3 API (hack/envoy-check.py).
        .target(name: "EnvoyCheck", dependencies: ["HTTP", "LoopbackServer", "YAML"]),

        // Test support: a simulated TRON chain behind TronGrid's HTTP API.
        .target(name: "FakeTronGrid", dependencies: ["Tron", "LoopbackServer", "YAML"]),

        // Development only (`lucid-operator dev`, tests): runs payout Jobs on this machine.
        .target(
            name: "DevJobRunner",
            dependencies: [
                "KubeClient", "YAML",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        // The etcd v3 client over the JSON gateway, and the pure registry entries written with it.
        .target(name: "EtcdClient", dependencies: ["HTTP", "YAML"]),
        .target(name: "Registry", dependencies: ["YAML"]),
        // Test support (and `lucid-operator dev`): a real etcd process on free loopback ports.
        .target(name: "EtcdServer", dependencies: ["HTTP", "YAML", "LoopbackServer"]),

        // Benchmarks: `swift run -c release <name>`.
        .executableTarget(
            name: "api-server-benchmark",
            dependencies: ["APIServer", "KubeClient", "HTTP", "LoopbackServer", "YAML"],
            path: "Benchmarks/APIServerBenchmark"),
        .executableTarget(
            name: "operator-benchmark",
            dependencies: ["APIServer", "HTTP", "KubeClient", "LoopbackServer", "LucidAPI", "Mesh", "YAML", "lucid-operator"],
            path: "Benchmarks/OperatorBenchmark"),
        .executableTarget(
            name: "registry-benchmark",
            dependencies: ["APIServer", "EtcdClient", "EtcdServer", "HTTP", "KubeClient", "Registry", "YAML", "lucid-operator"],
            path: "Benchmarks/RegistryBenchmark"),

        .testTarget(name: "CELTests", dependencies: ["CEL", "StructuralSchema", "LucidAPI", "YAML"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "LoopbackServer"]),
        .testTarget(name: "YAMLTests", dependencies: ["YAML", "LoopbackServer"], exclude: ["Corpus", "pyyaml_to_json.py"]),
        .testTarget(name: "APIServerTests", dependencies: ["APIServer", "KubeClient", "LucidAPI", "StructuralSchema", "YAML", "LoopbackServer", "HTTP", "ControllerRuntime"],
                    exclude: ["Corpus", "Python"]),
        .testTarget(name: "ControllerRuntimeTests", dependencies: [
            "ControllerRuntime", "KubeClient", "APIServer", "YAML", "LoopbackServer",
            .product(name: "Logging", package: "swift-log"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "ReconcilerTests", dependencies: ["Reconcilers", "ControllerRuntime", "APIServer", "KubeClient", "LucidAPI", "Mesh", "YAML",
                                                           "LoopbackServer", "EnvoyCheck", "HTTP", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "OperatorTests", dependencies: ["APIServer", "KubeClient", "HTTP", "LoopbackServer", "LucidAPI", "YAML"]),
        .testTarget(name: "LucidAPITests", dependencies: ["LucidAPI", "StructuralSchema", "YAML", "LoopbackServer"]),
        .testTarget(name: "TronTests", dependencies: ["Tron", "FakeTronGrid", "LoopbackServer", "HTTP", "YAML"]),
        .testTarget(name: "MeshTests", dependencies: ["Mesh", "LucidAPI", "YAML", "EnvoyCheck", "LoopbackServer"], exclude: ["Golden"]),
        // The `render` and `who-can-call` commands, the built binary against golden files.
        .testTarget(name: "MeshCommandTests", dependencies: ["APIServer", "KubeClient", "LoopbackServer", "LucidAPI", "YAML"]),
        .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "LoopbackServer", "YAML", "HTTP"]),
        .testTarget(name: "SecurityTests", dependencies: ["Mesh", "LucidAPI", "StructuralSchema", "YAML", "EnvoyCheck"], exclude: ["Golden"]),
        .testTarget(name: "ValidateTests", dependencies: ["ManifestValidation", "YAML"]),
        .testTarget(name: "PayoutsTests", dependencies: ["Payouts", "LucidAPI", "Tron", "YAML"]),
        // The deployment: kustomize bases, RBAC under the operator, alerts, Argo CD health, the image.
        .testTarget(name: "DeployTests", dependencies: ["APIServer", "KubeClient", "HTTP", "LoopbackServer", "LucidAPI", "YAML",
                                                      "DevJobRunner", "EtcdClient", "EtcdServer", "FakeTronGrid"],
                    exclude: ["Fixtures"]),
        .testTarget(
            name: "DevJobRunnerTests",
            dependencies: ["DevJobRunner", "APIServer", "KubeClient", "FakeTronGrid", "Payouts", "LucidAPI", "Tron", "YAML", "LoopbackServer", "HTTP"]),
        .testTarget(name: "EtcdClientTests", dependencies: ["EtcdClient", "EtcdServer", "Registry", "HTTP", "YAML", "LoopbackServer"]),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "YAML"]),
        .testTarget(
            name: "PayoutControllerTests",
            dependencies: ["Reconcilers", "ControllerRuntime", "DevJobRunner", "APIServer", "KubeClient", "FakeTronGrid", "Payouts", "LucidAPI",
                           "Tron", "YAML", "LoopbackServer", "HTTP", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "RegistryControllerTests",
            dependencies: ["Reconcilers", "ControllerRuntime", "EtcdClient", "EtcdServer", "Registry", "APIServer", "KubeClient", "LucidAPI",
                           "HTTP", "LoopbackServer", "YAML", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
    ]
)
