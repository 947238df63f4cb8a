// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "lucid-operator",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "HTTP", targets: ["HTTP"]),
        .library(name: "YAML", targets: ["YAML"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // C libraries the design rests on, found through pkg-config.
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CYAML", pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]),
        // Typed wrappers for libcurl's variadic setopt/getinfo, which Swift cannot call.
        .target(name: "CCurlShim", dependencies: ["CCurl"]),

        .target(
            name: "HTTP",
            dependencies: ["CCurl", "CCurlShim"]),
        .target(
            name: "YAML",
            dependencies: ["CYAML"]),
        .target(
            name: "KubeClient",
            dependencies: ["HTTP", "YAML", .product(name: "Logging", package: "swift-log")]),

        // Test support: a programmable HTTP/1.1 server on loopback (SwiftNIO).
        .target(
            name: "LoopbackServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]),

        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "LoopbackServer"]),
        .testTarget(name: "YAMLTests", dependencies: ["YAML", "LoopbackServer"], exclude: ["Corpus", "pyyaml_to_json.py"]),
        .testTarget(name: "KubeClientTests", dependencies: ["KubeClient", "LoopbackServer", "YAML", "HTTP"]),
    ]
)
