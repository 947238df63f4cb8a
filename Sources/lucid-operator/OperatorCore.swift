import ControllerRuntime
import Foundation
import KubeClient
import LoopbackServer
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
}

import ArgumentParser

/// The metrics registry of this process; `MetricsSystem` is bootstrapped with it once.
enum OperatorMetrics {
    static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    static func bootstrap() {
        let first = bootstrapped.withLock { b in
            defer { b = true }
            return !b
        }
        if first { MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry)) }
    }

    /// `rest_client_requests_total{code,method}` and its latency, fed by the KubeClient.
    @Sendable static func record(_ request: RequestRecord) {
        Counter(label: "rest_client_requests_total", dimensions: [("code", request.code), ("method", request.method)]).increment()
        Metrics.Timer(label: "rest_client_request_duration_seconds", dimensions: [("verb", request.verb)])
            .recordNanoseconds(request.duration.components.seconds * 1_000_000_000 + request.duration.components.attoseconds / 1_000_000_000)
    }
}

/// The controllers, behind leader election when asked, with the metrics and probe servers.
/// Returns on graceful shutdown (releasing the lease); throws when leadership is lost.
struct OperatorCore: Service {
    let client: KubeClient
    let settings: OperatorSettings
    let logger: Logger

    func run() async throws {
        let written = Counter(label: "lucid_sidecar_configs_written_total")
        let reconciler = SidecarReconciler(client: client, events: EventRecorder(client: client, instance: settings.identity),
                                           logger: logger, onWrite: { written.increment() })
        let controller = reconciler.controller(namespace: settings.namespace, workers: settings.workers)
        let standingBy = Atomic<Bool>(settings.leaderElection)
        let settings = self.settings, logger = self.logger, client = self.client

        try await LoopbackServer.run(host: settings.metrics.host, port: settings.metrics.port, handler: { request, writer in
            guard request.path == "/metrics" else { return try await writer.respond(status: 404, text: "not found") }
            try await writer.respond(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")], body: OperatorMetrics.registry.emitToBuffer())
        }) { metrics in
            try await LoopbackServer.run(host: settings.probes.host, port: settings.probes.port, handler: { request, writer in
                switch request.path {
                case "/healthz", "/livez": try await writer.respond(status: 200, text: "ok")
                case "/readyz":
                    // A standby is ready (it has nothing to sync); a leader once its caches listed.
                    let ready = standingBy.load(ordering: .relaxed) || controller.hasSynced
                    try await writer.respond(status: ready ? 200 : 503, text: ready ? "ok" : "caches not synced")
                default: try await writer.respond(status: 404, text: "not found")
                }
            }) { probes in
                announce("metrics on http://\(settings.metrics.host):\(metrics.port)/metrics, probes on http://\(settings.probes.host):\(probes.port)/healthz and /readyz")
                logger.info("operator starting", metadata: ["identity": "\(settings.identity)", "leaderElection": "\(settings.leaderElection)",
                                                           "namespace": "\(settings.namespace ?? "<all>")", "workers": "\(settings.workers)"])
                if settings.leaderElection {
                    let elector = LeaderElector(client: client, namespace: settings.leaseNamespace, identity: settings.identity, logger: logger)
                    try await elector.run {
                        standingBy.store(false, ordering: .relaxed)
                        announce("leading as \(settings.identity)")
                        try await controller.run()
                    }
                } else {
                    try await controller.run()
                }
                logger.info("operator stopped", metadata: ["identity": "\(settings.identity)"])
            }
        }
    }
}

/// One line on standard output, unbuffered (tests and people read it while the process runs).
func announce(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
