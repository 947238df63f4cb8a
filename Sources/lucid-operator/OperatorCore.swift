import ArgumentParser
import ControllerRuntime
import Foundation
import HTTP
import KubeClient
import Logging
import Metrics
import Prometheus
import Reconcilers
import ServiceLifecycle
import Synchronization

/// Settings shared by `run` and `dev`.
struct OperatorSettings: Sendable {
    var namespace: String?
    var workers = 2
    var leaderElection = true
    var leaseNamespace = "default"
    var identity = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    var metrics = BindAddress(host: "0.0.0.0", port: 8080)
    var probes = BindAddress(host: "0.0.0.0", port: 8081)
    var payouts = PayoutConfiguration()
    /// The service registry in etcd; nil: off.
    var registry: RegistrySettings?
    /// The sidecar path's flags (`MeshOptions`).
    var mesh = SidecarSettings()
}

struct BindAddress: Sendable, ExpressibleByArgument {
    var host: String
    var port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// ":8080" (all interfaces), "127.0.0.1:0" (a free loopback port).
    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = Int(argument[argument.index(after: colon)...]) else { return nil }
        let host = String(argument[..<colon])
        self.init(host: host.isEmpty ? "0.0.0.0" : host, port: port)
    }

    /// As `--help` shows a default: the argument form.
    var defaultValueDescription: String { "\(host):\(port)" }
}

/// The metrics registry of this process; `MetricsSystem` is bootstrapped with it once.
enum OperatorMetrics {
    static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    static func bootstrap() {
        let first = bootstrapped.withLock { b in
            defer { b = true }
            return !b
        }
        guard first else { return }
        var factory = PrometheusMetricsFactory(registry: registry)
        // A payout confirms in about a minute on a real chain (19 blocks of 3 s to be solid).
        factory.durationHistogramBuckets["lucid_payout_confirmation_seconds"] = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600].map { .seconds($0) }
        MetricsSystem.bootstrap(factory)
    }

    /// `rest_client_requests_total{code,method}` and its latency, fed by the KubeClient.
    @Sendable static func record(_ request: RequestRecord) {
        Counter(label: "rest_client_requests_total", dimensions: [("code", request.code), ("method", request.method)]).increment()
        Metrics.Timer(label: "rest_client_request_duration_seconds", dimensions: [("verb", request.verb)])
            .recordNanoseconds(request.duration.components.seconds * 1_000_000_000 + request.duration.components.attoseconds / 1_000_000_000)
    }
}

/// The operator in one process: the manager with its informers and controllers (behind leader
/// election when asked), and the metrics and probe endpoints, as the services of one group.
struct OperatorCore {
    let config: KubeConfig
    let settings: OperatorSettings
    let logger: Logger

    /// Builds everything and binds the endpoints; the services run in this order and stop in
    /// reverse. The HTTP client lives as long as the process.
    func services() async throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let settings = self.settings, logger = self.logger
        let http = try HTTPClient()
        let userAgent = "lucid-operator/0.1 (\(settings.identity))"
        let leaseClient = try KubeClient(config: config, http: http, userAgent: userAgent, observer: OperatorMetrics.record)
        let elector = settings.leaderElection
            ? LeaderElector(client: leaseClient, namespace: settings.leaseNamespace, identity: settings.identity, logger: logger) : nil
        // The controllers' client: with leader election, no write leaves once leadership runs out.
        var gate: (@Sendable () -> Bool)?
        if let elector { gate = { elector.mayWrite() } }
        let client = try KubeClient(config: config, http: http, userAgent: userAgent, observer: OperatorMetrics.record, writeGate: gate)
        let manager = Manager(client: client, logger: logger)
        let events = EventRecorder(client: client, instance: settings.identity)
        let written = Counter(label: "lucid_sidecar_configs_written_total")
        let sidecars = SidecarReconciler(manager: manager, events: events, namespace: settings.namespace, settings: settings.mesh,
                                         logger: logger, onWrite: { written.increment() })
        for controller in sidecars.controllers(workers: settings.workers) { manager.add(controller) }
        let payouts = try await PayoutReconciler.make(manager: manager, events: events, configuration: settings.payouts, http: http,
                                                      namespace: settings.namespace, logger: logger)
        manager.add(payouts.controller(workers: settings.workers))
        let registry = try registryServices(manager: manager, events: events)

        let metrics = try await EndpointServer(host: settings.metrics.host, port: settings.metrics.port, routes: [
            "/metrics": {
                payouts.recordGauges()
                return EndpointServer.Response(status: 200, contentType: "text/plain; version=0.0.4", body: OperatorMetrics.registry.emitToBuffer())
            },
        ])
        let probes = try await EndpointServer(host: settings.probes.host, port: settings.probes.port, routes: [
            "/healthz": { .text(200, "ok") },
            "/livez": { .text(200, "ok") },
            // Ready once every cache listed (standbys too: their caches are warm for a takeover).
            "/readyz": { manager.hasSynced ? .text(200, "ok") : .text(503, "caches not synced") },
        ])
        announce("metrics on http://\(settings.metrics.host):\(metrics.port)/metrics, probes on http://\(settings.probes.host):\(probes.port)/healthz and /readyz")
        logger.info("operator starting", metadata: ["identity": "\(settings.identity)", "leaderElection": "\(settings.leaderElection)",
                                                   "namespace": "\(settings.namespace ?? "<all>")", "workers": "\(settings.workers)"])
        // The recorder stops after the controllers (services stop in reverse), sending what they queued.
        let pieces: [any Service] = [metrics, probes, events] + registry + manager.services(leaderElector: elector, onLeading: {
            announce("leading as \(settings.identity)")
        })
        return pieces.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup) }
    }
}

/// One line on standard output, unbuffered (tests and people read it while the process runs).
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
