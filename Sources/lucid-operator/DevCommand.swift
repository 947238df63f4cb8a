import APIServer
import ArgumentParser
import EtcdServer
import Foundation
import HTTP
import KubeClient
import Logging
import LucidAPI
import ServiceLifecycle
import YAML

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run the operator on an embedded Kubernetes API server on 127.0.0.1, with the Lucid CRDs installed.",
        discussion: """
            Writes a kubeconfig for the server and prints the kubectl lines to use. State lives in
            memory and is gone when the process stops (SIGINT or SIGTERM).
            """)

    @Option(help: "Port on 127.0.0.1; 0 picks a free one.") var port = 0
    @Option(help: "Where to write the kubeconfig.") var kubeconfig = "lucid-dev.kubeconfig"
    @Flag(help: "Run the API server only, without the controllers.") var noControllers = false
    @Flag(help: "Load manifests/samples/ (or --samples-path) into the server at start.") var samples = false
    @Option(help: "Where the samples are.") var samplesPath = "manifests/samples"
    @Option(help: "Where the operator's /metrics listens.") var metricsBindAddress = BindAddress(host: "127.0.0.1", port: 0)
    @Option(help: "Where the operator's /healthz and /readyz listen.") var healthProbeBindAddress = BindAddress(host: "127.0.0.1", port: 0)
    @Option(help: "Events kept for resuming watches; older resourceVersions get 410.") var historyWindow = 10_000
    @Option(help: "Seconds between watch bookmarks.") var bookmarkSeconds = 10
    @Option(help: "Fault injection: fraction (0-1) of API requests to fail.") var errorRate = 0.0
    @Option(help: "Fault injection: fail with 429 and this Retry-After (seconds) instead of 500.") var tooManyRequestsRetryAfter: Int?
    @Option(help: "Fault injection: milliseconds added to every request.") var latencyMs = 0
    @Option(help: "Fault injection: cut every watch this many seconds after it started.") var dropWatchesEvery: Int?
    @Flag(help: "Fault injection: answer every resumed watch with 410 Expired.") var forceGone = false
    @OptionGroup(title: "Payouts") var payouts: PayoutOptions
    @OptionGroup(title: "Payouts in dev") var devPayouts: DevPayoutOptions
    @OptionGroup(title: "Service registry (default: a real etcd started for dev)") var registry: RegistryFlags
    @Flag(help: """
        Authenticate and authorize with RBAC, as a real cluster: the server speaks HTTPS, the kubeconfig holds the admin's token, and the controllers run as ServiceAccount lucid-system/lucid-operator with the rights --rbac-manifest gives it.
        """) var rbac = false
    @Option(help: "With --rbac: the ServiceAccount, roles and bindings installed for the operator.") var rbacManifest = "manifests/default/rbac.yaml"
    @Option(name: .customLong("third-party-crds"), help: "Third-party CRDs to install (cert-manager's Certificate); without them no Certificates are made.") var thirdPartyCRDs = "crds/third-party"
    @OptionGroup(title: "Sidecars (no issuer runs in dev: the default ClusterIssuer/lucid-dev-mesh-ca never signs)") var mesh: MeshOptions

    func run() async throws {
        var faults = APIServer.Faults()
        if errorRate > 0 { faults.errorRate["*"] = errorRate }
        faults.tooManyRequestsRetryAfter = tooManyRequestsRetryAfter
        faults.latency = .milliseconds(latencyMs)
        faults.dropWatchesAfter = dropWatchesEvery.map { .seconds($0) }
        faults.forceGone = forceGone
        let configuration = APIServer.Configuration(historyWindow: historyWindow, bookmarkInterval: .seconds(bookmarkSeconds), faults: faults, rbac: rbac)

        OperatorMetrics.bootstrap()
        let logger = Logger(label: "lucid.dev")
        var settings = OperatorSettings()
        settings.leaderElection = false
        settings.identity = "lucid-dev"
        settings.metrics = metricsBindAddress
        settings.probes = healthProbeBindAddress
        let dev = noControllers ? nil : try DevPayouts(tronURLs: payouts.tronURLs, payoutBinary: devPayouts.payoutBinary)
        var payoutOptions = payouts
        payoutOptions.tronURLs += dev?.tronURLs ?? []
        settings.payouts = try payoutOptions.configuration(namespace: "default", pollInterval: 1)
        let thirdParty = FileManager.default.fileExists(atPath: thirdPartyCRDs) ? thirdPartyCRDs : nil
        settings.mesh = mesh.settings(defaultIssuer: thirdParty == nil ? nil : "ClusterIssuer/lucid-dev-mesh-ca")
        if thirdParty == nil {
            // Without cert-manager's CRD the Certificates' informer could never list.
            settings.mesh.certificates = nil
            logger.warning("no third-party CRDs, so no Certificates", metadata: ["path": "\(thirdPartyCRDs)"])
        }
        // The registry: the given etcd, else one of dev's own, stopped when dev ends.
        var devEtcd: EtcdServer?
        if !noControllers { (settings.registry, devEtcd) = try await registry.devSettings() }
        defer { devEtcd?.stop() }
        var service = EmbeddedAPIServer(configuration: configuration, port: port, kubeconfigPath: kubeconfig,
                                        controllers: noControllers ? nil : settings, samplesPath: samples ? samplesPath : nil, payouts: dev, logger: logger)
        if rbac { service.rbacManifest = rbacManifest }
        service.thirdPartyCRDsPath = thirdParty
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The embedded API server as a lifecycle service: up until graceful shutdown.
struct EmbeddedAPIServer: Service {
    let configuration: APIServer.Configuration
    let port: Int
    let kubeconfigPath: String
    let controllers: OperatorSettings?
    let samplesPath: String?
    let payouts: DevPayouts?
    let logger: Logger
    /// With RBAC: the operator's ServiceAccount, roles and bindings (it runs with that token).
    var rbacManifest: String?
    /// YAML files of CRDs to install besides the Lucid ones.
    var thirdPartyCRDsPath: String?

    func run() async throws {
        let path = URL(fileURLWithPath: kubeconfigPath).standardizedFileURL.path
        let logger = logger
        try await APIServer.run(configuration, port: port) { server in
            try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
            if let thirdPartyCRDsPath {
                for file in try FileManager.default.contentsOfDirectory(atPath: thirdPartyCRDsPath).filter({ $0.hasSuffix(".yaml") }).sorted() {
                    try server.install(try YAML.parseAll(try String(contentsOfFile: "\(thirdPartyCRDsPath)/\(file)", encoding: .utf8)).filter { $0 != .null })
                }
            }
            if let samplesPath {
                let files = try FileManager.default.contentsOfDirectory(atPath: samplesPath).filter { $0.hasSuffix(".yaml") }.sorted()
                for file in files {
                    try server.install(try YAML.parseAll(try String(contentsOfFile: "\(samplesPath)/\(file)", encoding: .utf8)).filter { $0 != .null })
                }
                logger.info("samples loaded", metadata: ["path": "\(samplesPath)", "files": "\(files.count)"])
            }
            var operatorConfig = KubeConfig(server: server.url)
            if let rbacManifest, controllers != nil {
                try server.install([["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "lucid-system"]]])
                try server.install(try YAML.parseAll(try String(contentsOfFile: rbacManifest, encoding: .utf8)).filter { $0 != .null })
                let token = try server.token(forServiceAccount: "lucid-operator", namespace: "lucid-system", expiresIn: .seconds(366 * 86_400))
                operatorConfig = KubeConfig(server: server.url, tls: TLSConfiguration(certificateAuthority: server.certificateAuthority.map { .pem(Array($0.utf8)) }),
                                            credentials: .token(token))
                logger.info("RBAC on: the controllers run as system:serviceaccount:lucid-system:lucid-operator", metadata: ["rbac": "\(rbacManifest)"])
            }
            try server.kubeconfig().write(toFile: path, atomically: true, encoding: .utf8)
            logger.info("API server listening", metadata: ["url": "\(server.url)", "kubeconfig": "\(path)"])
            var banner = """
                Lucid dev API server on \(server.url), with the Lucid CRDs installed.
                  kubectl --kubeconfig \(path) get crds
                  kubectl --kubeconfig \(path) apply -f manifests/samples/
                  kubectl --kubeconfig \(path) get lucid -A
                  kubectl --kubeconfig \(path) get configmaps -l app.kubernetes.io/managed-by=lucid-operator -A
                Stop with Ctrl-C.

                """
            banner += controllers == nil ? "Controllers: off (--no-controllers).\n" : "Controllers: on.\n"
            banner += payouts?.banner(kubeconfig: path) ?? ""
            FileHandle.standardOutput.write(Data(banner.utf8))
            if let settings = controllers {
                // The dev Job runner plays the Job controller and kubelet: it acts as the admin.
                var runnerConfig = KubeConfig(server: server.url)
                if rbacManifest != nil {
                    runnerConfig = KubeConfig(server: server.url, tls: operatorConfig.tls, credentials: .token(server.adminToken))
                }
                let services = try await OperatorCore(config: operatorConfig, settings: settings, logger: logger).services()
                    + (try payouts?.services(config: runnerConfig, logger: logger) ?? []).map { .init(service: $0) }
                // A group inside this service: it stops when `dev` is shut down gracefully.
                try await ServiceGroup(configuration: .init(services: services, logger: logger)).run()
            } else {
                try? await gracefulShutdown()
            }
            logger.info("shutting down")
        }
    }
}
