import APIServer
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import LucidAPI
import Testing
import YAML

/// The built `lucid-operator`, beside the test bundle.
let operatorBinary: String? = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return [dir, dir.deletingLastPathComponent()].map { $0.appendingPathComponent("lucid-operator").path }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// One `lucid-operator run` replica.
struct Replica: @unchecked Sendable {  // immutable after init
    let identity: String
    let process: ChildProcess
    let log: String

    init(_ identity: String, kubeconfig: String, folder: String, leaderElection: Bool = true) throws {
        let binary = try #require(operatorBinary, "lucid-operator is not built")
        self.identity = identity
        log = "\(folder)/\(identity).log"
        process = try ChildProcess(binary, ["run", "--kubeconfig", kubeconfig, "--identity", identity, "--leader-election-namespace", "default",
                                            "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0",
                                            leaderElection ? "--leader-elect" : "--no-leader-elect"],
                                   outputPath: log, lifetime: .seconds(300))
    }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// The ports it announced: (metrics, probes).
    var ports: (Int, Int)? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("metrics on ") }) else { return nil }
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.filter { $0 > 1000 }
        return numbers.count >= 2 ? (numbers[0], numbers[1]) : nil
    }

    /// SIGKILL: no chance to release anything. `timeout` runs the operator as its child.
    func kill() async throws { try await signal("KILL") }

    /// Sends a signal to the operator itself (not to `timeout`, which cannot pass on STOP).
    func signal(_ name: String) async throws { _ = try await ChildProcess.run("pkill", ["-\(name)", "-P", "\(process.pid)"]) }

    /// Whether its /readyz answers 200 (every cache listed).
    func ready() async throws -> Bool {
        guard let (_, probes) = ports else { return false }
        let http = try HTTPClient()
        defer { http.shutdown() }
        return (try? await http.execute(HTTPRequest(url: "http://127.0.0.1:\(probes)/readyz")).status) == 200
    }
}


let policies = GroupVersionResource(group: "mesh.lucid.io", version: "v1alpha1", resource: "trafficpolicies")

/// Takeover times: run alone (`hack/test.sh`, second phase).
@Suite(.serialized) struct LeaderElectionTimingTests {
    @Test(.timeLimit(.minutes(3))) func onlyTheLeaderWritesAndAStandbyTakesOver() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-le-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await APIServer.run { server in
            try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
            let kubeconfig = "\(folder)/kubeconfig"
            try server.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            let client = try KubeClient(config: KubeConfig(server: server.url))
            let holder: @Sendable () async -> String? = {
                (try? await client.get(.leases, namespace: "default", name: "lucid-operator-leader"))?[path: "spec", "holderIdentity"]?.stringValue
            }
            @Sendable func ready(_ name: String) async throws -> Bool {
                let p = try await client.get(policies, namespace: "shop", name: name)
                return p[path: "status", "conditions"]?[0]?["status"] == "True" && p[path: "status", "observedGeneration"] == p[path: "metadata", "generation"]
            }

            let a = try Replica("a", kubeconfig: kubeconfig, folder: folder)
            try await waitUntil(.seconds(20), "a to lead") { await holder() == "a" }
            let b = try Replica("b", kubeconfig: kubeconfig, folder: folder)
            defer { b.process.stop() }
            try await waitUntil(.seconds(20), "b to start") { b.ports != nil }

            _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "shop"]])
            for (name, plane) in [("gateway", "ops"), ("payments", "wallet")] {
                _ = try await client.create(.services, namespace: "shop", ["apiVersion": "v1", "kind": "Service",
                    "metadata": ["name": .string(name), "labels": ["mesh.lucid.io/cluster": .string(name), "mesh.lucid.io/plane": .string(plane)]],
                    "spec": ["ports": [["port": 80]]]])
            }
            _ = try await client.create(policies, namespace: "shop", ["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "TrafficPolicy",
                "metadata": ["name": "one"], "spec": ["source": "gateway", "destination": "payments", "rules": [["action": "allow"]]]])
            try await waitUntil(.seconds(10), "the leader to converge the policy") { try await ready("one") }
            #expect(server.writes.byAgent["lucid-operator/0.1 (a)", default: 0] > 0)
            #expect(server.writes.byAgent["lucid-operator/0.1 (b)", default: 0] == 0, "the standby wrote: \(server.writes.byAgent)")

            // Metrics and probes of the leader.
            let (metricsPort, probePort) = try #require(a.ports)
            let http = try HTTPClient()
            defer { http.shutdown() }
            let metrics = try await http.execute(HTTPRequest(url: "http://127.0.0.1:\(metricsPort)/metrics")).bodyText
            for name in ["controller_runtime_reconcile_total", "controller_runtime_reconcile_time_seconds", "workqueue_depth", "workqueue_adds_total",
                         "rest_client_requests_total", "leader_election_master_status", "lucid_sidecar_configs_written_total"] {
                #expect(metrics.contains(name), "/metrics lacks \(name)")
            }
            #expect(metrics.contains(#"leader_election_master_status{name="lucid-operator-leader"} 1"#))
            #expect(try await http.execute(HTTPRequest(url: "http://127.0.0.1:\(probePort)/healthz")).status == 200)
            #expect(try await http.execute(HTTPRequest(url: "http://127.0.0.1:\(probePort)/readyz")).status == 200)

            // The leader dies without releasing: the standby takes over once the lease runs out.
            let killed = ContinuousClock.now
            try await a.kill()
            try await waitUntil(.seconds(25), "b to take over") { await holder() == "b" }
            let takeover = ContinuousClock.now - killed
            #expect(takeover < .seconds(20), "took \(takeover)")
            _ = try await client.patch(policies, namespace: "shop", name: "one", .merge(["spec": ["priority": 5]]))
            try await waitUntil(.seconds(10), "the new leader to converge the edit") { try await ready("one") }

            // A graceful stop releases the lease: exit within 5 s, takeover within about 3 s.
            let c = try Replica("c", kubeconfig: kubeconfig, folder: folder)
            defer { c.process.stop() }
            try await waitUntil(.seconds(20), "c to start") { c.ports != nil }
            let stopping = ContinuousClock.now
            kill(b.process.pid, SIGTERM)
            let status = await b.process.exit()
            let exited = ContinuousClock.now - stopping
            #expect(exited < .seconds(5), "b took \(exited) to exit")
            #expect(status == 0, "b exited with \(status): \(b.output.suffix(800))")
            try await waitUntil(.seconds(10), "c to take over") { await holder() == "c" }
            let handover = ContinuousClock.now - stopping
            #expect(handover < .seconds(4), "handover took \(handover)")
            #expect(b.output.contains("released the lease"))
            print("leader election figures: takeover after SIGKILL \(takeover), exit after SIGTERM \(exited), handover after SIGTERM \(handover)")
        }
    }
}
