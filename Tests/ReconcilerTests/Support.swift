import APIServer
import ControllerRuntime
import EnvoyCheck
import Foundation
import KubeClient
import LoopbackServer
import Logging
import LucidAPI
import Reconcilers
import Testing
import YAML

let tp = SidecarReconciler.trafficPolicies

/// Runs a server with the CRDs (and cert-manager's Certificate CRD), the sidecar controllers
/// against it, and `body` with a client.
func withOperator(_ configuration: APIServer.Configuration = APIServer.Configuration(), retry: RetryPolicy = RetryPolicy(),
                  settings: SidecarSettings = SidecarSettings(), logger: Logger = Logger(label: "lucid.test"),
                  observer: (@Sendable (RequestRecord) -> Void)? = nil,
                  _ body: @Sendable (APIServer, KubeClient) async throws -> Void) async throws {
    try await APIServer.run(configuration) { server in
        try installCRDs(server)
        try await runOperator(server, retry: retry, settings: settings, logger: logger, observer: observer) { try await body(server, $0) }
    }
}

/// The Lucid CRDs and cert-manager's Certificate CRD (`crds/third-party`).
func installCRDs(_ server: APIServer) throws {
    try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
    try server.install(try readYAML("crds/third-party/cert-manager-certificates.yaml"))
}

/// The sidecar controllers against `server` while `body` runs (with a client of its own).
func runOperator(_ server: APIServer, retry: RetryPolicy = RetryPolicy(), settings: SidecarSettings = SidecarSettings(),
                 logger: Logger = Logger(label: "lucid.test"), observer: (@Sendable (RequestRecord) -> Void)? = nil,
                 _ body: @Sendable (KubeClient) async throws -> Void) async throws {
    let operatorClient = try KubeClient(config: KubeConfig(server: server.url), retry: retry, logger: logger, observer: observer)
    let manager = Manager(client: operatorClient, logger: logger)
    let reconciler = SidecarReconciler(manager: manager, events: EventRecorder(client: operatorClient, instance: "test", logger: logger),
                                       settings: settings, logger: logger)
    let controllers = reconciler.controllers(workers: 2)
    for controller in controllers { manager.add(controller) }
    let client = try KubeClient(config: KubeConfig(server: server.url), retry: RetryPolicy(maxAttempts: 8, baseDelay: .milliseconds(20)))
    try await withThrowingTaskGroup(of: Void.self) { group in
        for service in manager.services(leaderElector: nil) { group.addTask { try await service.run() } }
        do {
            try await waitUntil(.seconds(30), "the caches to sync") { controllers.allSatisfy(\.hasSynced) }
            try await body(client)
        } catch {
            group.cancelAll()
            throw error
        }
        group.cancelAll()
    }
}

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func readYAML(_ relativePath: String) throws -> [JSON] {
    try YAML.parseAll(try String(contentsOf: repositoryRoot.appendingPathComponent(relativePath), encoding: .utf8)).filter { $0 != .null }
}

func meshService(_ name: String, cluster: String? = nil, plane: String = "wallet", port: Int64 = 80) -> JSON {
    ["apiVersion": "v1", "kind": "Service",
     "metadata": ["name": .string(name), "labels": ["mesh.lucid.io/cluster": .string(cluster ?? name), "mesh.lucid.io/plane": .string(plane)]],
     "spec": ["ports": [["name": "http", "port": .int(port)]]]]
}

func trafficPolicy(_ name: String, source: String = "gateway", destination: String = "payments", priority: Int64 = 0, rules: JSON) -> JSON {
    ["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "TrafficPolicy", "metadata": ["name": .string(name)],
     "spec": ["source": .string(source), "destination": .string(destination), "priority": .int(priority), "rules": rules]]
}

/// The sidecar ConfigMap as one config, checked against Envoy's API (outside of waits: the first
/// check starts the checker, and under a loaded suite a check can take a while).
func expectValidEnvoy(_ client: KubeClient, _ namespace: String, _ services: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
    var configs: [[String: String]] = []
    for service in services {
        let cm = try await client.get(.configMaps, namespace: namespace, name: "\(service)-sidecar")
        var files: [String: String] = [:]
        for (name, value) in cm["data"]?.objectValue ?? [:] { files[name] = value.stringValue ?? "" }
        configs.append(files)
    }
    for (service, problems) in zip(services, try await EnvoyCheck.problems(configs)) {
        #expect(problems.isEmpty, "\(service): \(problems)", sourceLocation: sourceLocation)
    }
}

/// The sidecar's routes by virtual host name.
func routes(_ client: KubeClient, _ namespace: String, _ service: String) async throws -> [String: [JSON]] {
    let cm = try await client.get(.configMaps, namespace: namespace, name: "\(service)-sidecar")
    let lds = try JSON.parse(cm[path: "data", "lds.json"]?.stringValue ?? "")
    let hosts = lds["resources"]?[0]?[path: "filter_chains"]?[0]?["filters"]?[0]?[path: "typed_config", "route_config", "virtual_hosts"]?.arrayValue ?? []
    return Dictionary(hosts.map { ($0["name"]?.stringValue ?? "", $0["routes"]?.arrayValue ?? []) }, uniquingKeysWith: { a, _ in a })
}

/// Whether the policy is Ready=status for its current generation.
func ready(_ client: KubeClient, _ namespace: String, _ name: String, _ status: String = "True", reason: String? = nil) async throws -> Bool {
    let p = try await client.get(tp, namespace: namespace, name: name)
    let condition = p[path: "status", "conditions"]?.arrayValue?.first { $0["type"] == "Ready" }
    return condition?["status"]?.stringValue == status && p[path: "status", "observedGeneration"] == p[path: "metadata", "generation"]
        && (reason == nil || condition?["reason"]?.stringValue == reason)
}

/// Creates, retrying through injected failures (a create is not retried by the client: it is
/// not idempotent); an object that turns out to exist counts as created.
func create(_ client: KubeClient, _ resource: GroupVersionResource, _ namespace: String?, _ object: JSON) async throws {
    for attempt in 1...20 {
        do throws(KubeError) {
            _ = try await client.create(resource, namespace: namespace, object)
            return
        } catch {
            if error.isAlreadyExists { return }
            if attempt == 20 || (error.httpStatus ?? 500) < 500 && error.httpStatus != 429 { throw error }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Runs `write` until it gets through the injected failures (a merge patch is idempotent here).
func retrying(_ write: @Sendable () async throws -> JSON) async throws {
    for attempt in 1...20 {
        do {
            _ = try await write()
            return
        } catch {
            if attempt == 20 { throw error }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
