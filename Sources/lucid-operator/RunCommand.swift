import ArgumentParser
import ControllerRuntime
import Foundation
import KubeClient
import Logging
import ServiceLifecycle

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the controllers against a cluster (in-cluster config, or a kubeconfig).",
        discussion: """
            In a pod it uses the service account; elsewhere KUBECONFIG or ~/.kube/config (or --kubeconfig,
            --context). With leader election (the default) only the replica holding the Lease
            coordination.k8s.io/v1 lucid-operator-leader writes; SIGTERM releases it.
            """)

    @Option(help: "A kubeconfig file; default: in-cluster, else KUBECONFIG, else ~/.kube/config.") var kubeconfig: String?
    @Option(help: "The kubeconfig context to use.") var context: String?
    @Option(help: "Watch only this namespace (default: all).") var namespace: String?
    @Option(help: "Concurrent reconciles per controller.") var workers = 2
    @Flag(inversion: .prefixedNo, help: "Elect a leader among replicas through a Lease.") var leaderElect = true
    @Option(help: "Namespace of the leader Lease (default: the pod's namespace, or the context's).") var leaderElectionNamespace: String?
    @Option(help: "This replica's identity in the Lease (default: hostname-pid).") var identity: String?
    @Option(help: "Where /metrics listens (host:port; :8080 for all interfaces; port 0 picks one).") var metricsBindAddress = BindAddress(host: "0.0.0.0", port: 8080)
    @Option(help: "Where /healthz and /readyz listen.") var healthProbeBindAddress = BindAddress(host: "0.0.0.0", port: 8081)
    @OptionGroup(title: "Payouts") var payouts: PayoutOptions
    @OptionGroup(title: "Service registry") var registry: RegistryFlags
    @OptionGroup(title: "Sidecars") var mesh: MeshOptions

    func run() async throws {
        OperatorMetrics.bootstrap()
        var environment = ProcessInfo.processInfo.environment
        if let kubeconfig { environment["KUBECONFIG"] = kubeconfig }
        let config = try KubeConfig.load(environment: environment, context: context)
        var settings = OperatorSettings()
        settings.namespace = namespace
        settings.workers = workers
        settings.leaderElection = leaderElect
        settings.leaseNamespace = leaderElectionNamespace ?? config.namespace
        if let identity { settings.identity = identity }
        settings.metrics = metricsBindAddress
        settings.probes = healthProbeBindAddress
        settings.payouts = try payouts.configuration(namespace: namespace ?? config.namespace)
        settings.registry = try registry.settings()
        settings.mesh = mesh.settings()
        let logger = Logger(label: "lucid.operator")
        let services = try await OperatorCore(config: config, settings: settings, logger: logger).services()
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("operator stopped", metadata: ["identity": "\(settings.identity)"])
    }
}
