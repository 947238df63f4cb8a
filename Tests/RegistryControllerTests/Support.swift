import APIServer
import ControllerRuntime
import EtcdClient
import EtcdServer
import Foundation
import KubeClient
import LoopbackServer
import LucidAPI
import Reconcilers
import Registry
import ServiceLifecycle
import YAML

/// One etcd for the tests that only need keys of their own (each works under a unique prefix),
/// started on first use; tests that kill etcd start their own.
actor SharedEtcd {
    static let shared = SharedEtcd()
    private var server: EtcdServer?
    private var starting: Task<EtcdServer, any Error>?

    func get() async throws -> EtcdServer {
        if let server { return server }
        if let starting { return try await starting.value }
        let task = Task { try await EtcdServer.start(EtcdServer.Options(progressNotifyInterval: .milliseconds(500))) }
        starting = task
        let started = try await task.value
        server = started
        return started
    }
}

/// Registry options under a prefix no other test uses (entries and, with `dns`, the DNS zone).
func uniqueOptions(dns: Bool = true, _ name: String = #function) throws -> RegistryOptions {
    let base = "/t/\(name.prefix { $0 != "(" })-\(UUID().uuidString.prefix(8))"
    return try RegistryOptions(prefix: base + "/registry/", dns: dns ? try DNSOptions(domain: "lucid.local", root: base + "/skydns") : nil)
}

/// An API server with the CRDs and a namespace `lucid`.
func withCluster<T: Sendable>(_ body: @Sendable (APIServer, KubeClient) async throws -> T) async throws -> T {
    try await APIServer.run { server in
        try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
        try server.install([["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "lucid"]]])
        let client = try KubeClient(config: KubeConfig(server: server.url), retry: RetryPolicy(maxAttempts: 8, baseDelay: .milliseconds(20)))
        return try await body(server, client)
    }
}

/// The operator's registry controller (and, with `sidecars`, the sidecar controller) in this
/// process against `server` and `etcd`, for the duration of `body`.
struct RunningOperator: Sendable {
    let manager: Manager
    let registry: RegistryReconciler
    let controller: Controller
}

func withOperator<T: Sendable>(_ server: APIServer, etcd: EtcdConfiguration, options: RegistryOptions, sidecars: Bool = false,
                               mirror: RegistryMirror.Configuration = RegistryMirror.Configuration(),
                               waitForEtcd: Bool = true,
                               _ body: @Sendable (RunningOperator) async throws -> T) async throws -> T {
    let client = try KubeClient(config: KubeConfig(server: server.url))
    let manager = Manager(client: client)
    let events = EventRecorder(client: client, instance: "registry-test")
    let etcdClient = try EtcdClient(etcd)
    defer { etcdClient.shutdown() }
    let registry = RegistryReconciler(manager: manager, events: events, etcd: etcdClient, options: options, mirror: mirror)
    let controller = registry.controller(workers: 2)
    manager.add(controller)
    if sidecars { manager.add(SidecarReconciler(manager: manager, events: events).controller(workers: 2)) }
    let running = RunningOperator(manager: manager, registry: registry, controller: controller)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        for service in [registry.mirror as any ServiceLifecycle.Service, registry.events] + manager.services(leaderElector: nil) {
            group.addTask { try await service.run() }
        }
        do {
            try await waitUntil(.seconds(30), "the caches to sync") { manager.hasSynced && controller.hasSynced && (!waitForEtcd || registry.mirror.isSynced) }
            let result = try await body(running)
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// A mesh Service: `cluster` and `plane` labels, one port, optional extra labels and annotations.
func meshService(_ name: String, cluster: String = "tron-payment", plane: String = "wallet", port: JSON = ["name": "http", "port": 8080],
                 labels: [String: String] = [:], annotations: [String: String] = [:], spec: JSONObject = [:]) -> JSON {
    var allLabels: JSONObject = ["mesh.lucid.io/cluster": .string(cluster), "mesh.lucid.io/plane": .string(plane)]
    for (k, v) in labels.sorted(by: { $0.key < $1.key }) { allLabels[k] = .string(v) }
    var metadata: JSONObject = ["name": .string(name), "namespace": "lucid", "labels": .object(allLabels)]
    if !annotations.isEmpty {
        var a = JSONObject()
        for (k, v) in annotations.sorted(by: { $0.key < $1.key }) { a[k] = .string(v) }
        metadata["annotations"] = .object(a)
    }
    var fullSpec: JSONObject = ["ports": [port]]
    for (k, v) in spec { fullSpec[k] = v }
    return ["apiVersion": "v1", "kind": "Service", "metadata": .object(metadata), "spec": .object(fullSpec)]
}

/// An EndpointSlice of `service` with one endpoint per (address, ready) pair (pods named after the address).
func endpointSlice(_ name: String, service: String, _ endpoints: [(String, Bool)]) -> JSON {
    ["apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
     "metadata": ["name": .string(name), "namespace": "lucid", "labels": ["kubernetes.io/service-name": .string(service)]],
     "ports": [["name": "http", "port": 8080, "protocol": "TCP"]],
     "endpoints": .array(endpoints.map { address, ready in
         ["addresses": [.string(address)], "conditions": ["ready": .bool(ready)],
          "targetRef": ["kind": "Pod", "namespace": "lucid", "name": .string("pod-\(address)"), "uid": .string("uid-\(address)")]]
     })]
}

extension EtcdClient {
    /// The entry at `key`, parsed; nil when there is none.
    func entry(_ key: String) async throws -> JSON? {
        guard let kv = try await get(key) else { return nil }
        return try JSON.parse(kv.value)
    }

    /// Every key under `prefix`, as text.
    func keys(_ prefix: String) async throws -> [String] {
        try await range(RangeRequest(.prefix(prefix), keysOnly: true)).kvs.map(\.keyText).sorted()
    }

    /// Every key of `options` (entries, DNS records, strays) with its mod revision: what a
    /// write under them would change. (The store's revision moves with other tests' writes.)
    func snapshot(_ options: RegistryOptions) async throws -> [String: Int64] {
        var keys: [String: Int64] = [:]
        for prefix in [options.prefix] + (options.dns.map { [$0.zonePath + "/"] } ?? []) {
            for kv in try await range(RangeRequest(.prefix(prefix), keysOnly: true)).kvs { keys[kv.keyText] = kv.modRevision }
        }
        return keys
    }
}

/// Events about `name` (a Service in `lucid`) with `reason`, by note.
func events(_ client: KubeClient, about name: String, reason: String) async throws -> [String] {
    try await client.listAll(.events, namespace: "lucid").items
        .filter { $0[path: "regarding", "name"]?.stringValue == name && $0["reason"]?.stringValue == reason }
        .compactMap { $0["note"]?.stringValue }
}

/// The built `lucid-operator`, beside the test bundle.
let operatorBinary: String? = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return [dir, dir.deletingLastPathComponent()].map { $0.appendingPathComponent("lucid-operator").path }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// A temporary folder, removed by the caller.
func temporaryFolder(_ name: String) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-\(name)-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder
}

/// Polls `value` until it gives something; throws `TimedOutWaiting` after `limit`.
func poll<T: Sendable>(_ limit: Duration, _ what: String, interval: Duration = .milliseconds(20),
                       _ value: @Sendable () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + limit
    while true {
        if let found = try await value() { return found }
        guard ContinuousClock.now < deadline else { throw TestFailure(description: "timed out waiting for \(what)") }
        try await Task.sleep(for: interval)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
}
