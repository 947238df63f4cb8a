import APIServer
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import LucidAPI
import Synchronization
import Testing
import YAML

/// A cluster of `pairs` mesh Services and TrafficPolicies (policy i: svc-i → svc-(i+1)) served
/// by the embedded API server, with a kubeconfig in `folder` and a checker that watches every
/// ConfigMap the operator writes.
struct ConvergedCluster {
    let server: APIServer
    let client: KubeClient
    let kubeconfig: String
    let folder: String
    let pairs: Int

    static func load(_ server: APIServer, pairs: Int, folder: String) throws -> ConvergedCluster {
        try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
        try server.install([["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "shop"]]])
        try server.install((0..<pairs).map { i in
            ["apiVersion": "v1", "kind": "Service",
             "metadata": ["name": .string("svc-\(i)"), "namespace": "shop",
                          "labels": ["mesh.lucid.io/cluster": .string("svc-\(i)"), "mesh.lucid.io/plane": "ops"]],
             "spec": ["ports": [["name": "http", "port": 80]]]]
        })
        try server.install((0..<pairs).map { i in
            ["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "TrafficPolicy", "metadata": ["name": .string("p-\(i)"), "namespace": "shop"],
             "spec": ["source": .string("svc-\(i)"), "destination": .string("svc-\((i + 1) % pairs)"), "rules": [
                ["action": "allow", "match": ["path": "/api"], "timeout": 2500], ["action": "deny", "match": ["path": "/admin"]]]]]
        })
        let kubeconfig = "\(folder)/kubeconfig"
        try server.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        return ConvergedCluster(server: server, client: try KubeClient(config: KubeConfig(server: server.url)), kubeconfig: kubeconfig,
                                folder: folder, pairs: pairs)
    }

    /// Every policy Ready for its generation and every sidecar ConfigMap there.
    func converged() async throws -> Bool {
        let policies = try await client.listAll(trafficPolicies, namespace: "shop").items
        let ready = policies.filter { p in
            p[path: "status", "conditions"]?[0]?["status"] == "True" && p[path: "status", "observedGeneration"] == p[path: "metadata", "generation"]
        }
        guard ready.count == pairs else { return false }
        return try await client.listAll(.configMaps, namespace: "shop", options: ListOptions(labelSelector: "app.kubernetes.io/managed-by=lucid-operator")).items.count == pairs
    }

    /// Writes other than Lease renewals.
    var nonLeaseWrites: Int { server.writes.total - server.writes.byResource["leases", default: 0] }

    /// Watches ConfigMaps from now on and records every one written without the routes of its
    /// policy (the allow and deny rules): such a sidecar would drop traffic it should carry.
    func watchForIncompleteSidecars() async throws -> (Task<Void, Never>, Findings) {
        let bad = Findings()
        let stream = try await client.watch(.configMaps, namespace: "shop", options: WatchOptions(resourceVersion: server.resourceVersion))
        let task = Task {
            do {
                for try await event in stream where event.type == .added || event.type == .modified {
                    let name = event.object[path: "metadata", "name"]?.stringValue ?? "?"
                    let lds = (try? JSON.parse(event.object[path: "data", "lds.json"]?.stringValue ?? "")) ?? .null
                    let routes = lds["resources"]?[0]?[path: "filter_chains"]?[0]?["filters"]?[0]?[path: "typed_config", "route_config", "virtual_hosts"]?[0]?["routes"]?.arrayValue ?? []
                    let prefixes = Set(routes.compactMap { $0[path: "match", "prefix"]?.stringValue })
                    if !prefixes.isSuperset(of: ["/api", "/admin"]) { bad.add("\(name) with routes \(prefixes.sorted())") }
                }
            } catch {}
        }
        return (task, bad)
    }
}

/// What a watcher found, readable while it runs.
final class Findings: Sendable {
    private let items = Mutex<[String]>([])
    func add(_ item: String) { items.withLock { $0.append(item) } }
    var all: [String] { items.withLock { $0 } }
}

let trafficPolicies = GroupVersionResource(group: "mesh.lucid.io", version: "v1alpha1", resource: "trafficpolicies")

/// Restarts and handovers over a converged cluster must write nothing: run alone (`hack/test.sh`, second phase).
@Suite(.serialized) struct RestartTimingTests {
    func folder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-restart-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// SIGKILL over 500 converged pairs, then a new process: once its caches synced, 15 s without a write.
    @Test(.timeLimit(.minutes(4))) func aRestartOverAConvergedClusterWritesNothing() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await APIServer.run(APIServer.Configuration(historyWindow: 20_000)) { server in
            let cluster = try ConvergedCluster.load(server, pairs: 500, folder: folder)
            let (watcher, incomplete) = try await cluster.watchForIncompleteSidecars()
            defer { watcher.cancel() }

            let first = try Replica("first", kubeconfig: cluster.kubeconfig, folder: folder, leaderElection: false)
            try await waitUntil(.seconds(90), "500 pairs to converge", interval: .milliseconds(250)) { try await cluster.converged() }
            try await first.kill()
            _ = await first.process.exit()

            let second = try Replica("second", kubeconfig: cluster.kubeconfig, folder: folder, leaderElection: false)
            defer { second.process.stop() }
            try await waitUntil(.seconds(30), "the new process's caches to sync") { try await second.ready() }
            let before = cluster.nonLeaseWrites
            try await Task.sleep(for: .seconds(15))
            let after = cluster.nonLeaseWrites
            #expect(after == before, "the restarted operator wrote \(after - before) times: \(server.writes.byResource)")
            #expect(incomplete.all.isEmpty, "sidecars written without their routes: \(incomplete.all.prefix(5))")
            #expect(try await cluster.converged())
        }
    }

    /// A leader and a warm standby; the leader stops gracefully; once the standby leads, 15 s
    /// without a write (but for the lease).
    @Test(.timeLimit(.minutes(4))) func aLeaderHandoverWritesNothing() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await APIServer.run(APIServer.Configuration(historyWindow: 20_000)) { server in
            let cluster = try ConvergedCluster.load(server, pairs: 500, folder: folder)
            let (watcher, incomplete) = try await cluster.watchForIncompleteSidecars()
            defer { watcher.cancel() }
            let a = try Replica("a", kubeconfig: cluster.kubeconfig, folder: folder)
            defer { a.process.stop() }
            try await waitUntil(.seconds(20), "a to lead") { await cluster.holder() == "a" }
            let b = try Replica("b", kubeconfig: cluster.kubeconfig, folder: folder)
            defer { b.process.stop() }
            try await waitUntil(.seconds(90), "500 pairs to converge", interval: .milliseconds(250)) { try await cluster.converged() }
            try await waitUntil(.seconds(30), "b's caches to sync") { try await b.ready() }

            kill(a.process.pid, SIGTERM)
            try await waitUntil(.seconds(10), "b to take over") { await cluster.holder() == "b" }
            try await waitUntil(.seconds(10), "b to start its controllers") { b.output.contains("leading as b") }
            let before = cluster.nonLeaseWrites
            try await Task.sleep(for: .seconds(15))
            let after = cluster.nonLeaseWrites
            #expect(after == before, "the new leader wrote \(after - before) times: \(server.writes.byResource)")
            #expect(incomplete.all.isEmpty, "sidecars written without their routes: \(incomplete.all.prefix(5))")
        }
    }

    /// The leader freezes (SIGSTOP) past its lease; the standby takes over; the old leader
    /// thaws (SIGCONT) and must not write again, not even its lease.
    @Test(.timeLimit(.minutes(3))) func aFrozenLeaderThatThawsNeverWritesAfterTheTakeover() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await APIServer.run { server in
            let cluster = try ConvergedCluster.load(server, pairs: 20, folder: folder)
            let a = try Replica("a", kubeconfig: cluster.kubeconfig, folder: folder)
            defer { a.process.stop() }
            try await waitUntil(.seconds(20), "a to lead") { await cluster.holder() == "a" }
            let b = try Replica("b", kubeconfig: cluster.kubeconfig, folder: folder)
            defer { b.process.stop() }
            try await waitUntil(.seconds(30), "20 pairs to converge", interval: .milliseconds(250)) { try await cluster.converged() }

            try await a.signal("STOP")
            try await waitUntil(.seconds(30), "b to take over from the frozen a") { await cluster.holder() == "b" }
            let agentA = "lucid-operator/0.1 (a)"
            let writesOfA = server.writes.byAgent[agentA, default: 0]
            // Work for the new leader while a thaws: a's stale workers would want to write too.
            for i in 0..<20 {
                _ = try await cluster.client.patch(trafficPolicies, namespace: "shop", name: "p-\(i)", .merge(["spec": ["priority": 7]]))
            }
            try await a.signal("CONT")
            try await waitUntil(.seconds(30), "b to converge the edits", interval: .milliseconds(250)) { try await cluster.converged() }
            try await Task.sleep(for: .seconds(5))
            #expect(server.writes.byAgent[agentA, default: 0] == writesOfA, "a wrote after b took over: \(server.writes.byAgent)")
            #expect(await cluster.holder() == "b")
        }
    }

    /// A standby exits within 5 s of SIGTERM.
    @Test(.timeLimit(.minutes(4))) func aStandbyExitsPromptlyOnSIGTERM() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await APIServer.run { server in
            let cluster = try ConvergedCluster.load(server, pairs: 5, folder: folder)
            let a = try Replica("a", kubeconfig: cluster.kubeconfig, folder: folder)
            defer { a.process.stop() }
            try await waitUntil(.seconds(20), "a to lead") { await cluster.holder() == "a" }
            let b = try Replica("b", kubeconfig: cluster.kubeconfig, folder: folder)
            try await waitUntil(.seconds(20), "b to stand by, ready") { try await b.ready() }
            let sent = ContinuousClock.now
            kill(b.process.pid, SIGTERM)
            let status = await b.process.exit()
            let took = ContinuousClock.now - sent
            #expect(took < .seconds(5), "the standby took \(took) to exit")
            #expect(status == 0, "exit status \(status): \(b.output.suffix(600))")
            #expect(await cluster.holder() == "a")
        }
    }
}

extension ConvergedCluster {
    func holder() async -> String? {
        (try? await client.get(.leases, namespace: "default", name: "lucid-operator-leader"))?[path: "spec", "holderIdentity"]?.stringValue
    }
}
