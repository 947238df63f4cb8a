import APIServer
import Foundation
import KubeClient
import LoopbackServer
import Synchronization
import Testing
import YAML

/// Time-bound (an idle window, convergence under faults): run alone (`hack/test.sh`, second phase).
@Suite(.serialized) struct ResilienceTimingTests {
    /// 100 policies over 10 sources, all converged; then 10 s of nothing must cost no write.
    @Test func anIdleOperatorWritesNothing() async throws {
        try await withOperator { server, client in
            _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "idle"]])
            for s in 0..<10 {
                _ = try await client.create(.services, namespace: "idle", meshService("src-\(s)", plane: "ops"))
                _ = try await client.create(.services, namespace: "idle", meshService("dst-\(s)"))
            }
            for i in 0..<100 {
                _ = try await client.create(tp, namespace: "idle", trafficPolicy("p-\(i)", source: "src-\(i % 10)", destination: "dst-\(i % 7)",
                                                                                  priority: Int64(i), rules: [["action": "allow", "match": ["path": .string("/p\(i)")]]]))
            }
            try await waitUntil(.seconds(30), "100 policies Ready") {
                try await client.list(tp, namespace: "idle").items.allSatisfy { p in
                    p[path: "status", "observedGeneration"] == p[path: "metadata", "generation"]
                        && p[path: "status", "conditions"]?[0]?["status"] == "True"
                }
            }
            // Settled: the last writes' own watch events came back and caused nothing more.
            let previous = Mutex(server.writes)
            try await waitUntil(.seconds(10), "writes to stop", interval: .milliseconds(500)) {
                let now = server.writes
                return previous.withLock { p in
                    defer { p = now }
                    return now == p
                }
            }
            let before = server.writes
            try await Task.sleep(for: .seconds(10))
            let after = server.writes
            #expect(after == before, "writes while idle: \(after.total - before.total) \(after.byResource)")
        }
    }

    /// Watches dropped every second, every resumed watch answered 410, and 10 % of requests
    /// failing with 500 (then 429 with Retry-After): 200 policies still converge, and a later
    /// edit is not lost.
    @Test func convergesUnderFaults() async throws {
        var faults = APIServer.Faults()
        faults.errorRate["*"] = 0.1
        faults.dropWatchesAfter = .seconds(1)
        faults.forceGone = true
        try await withOperator(APIServer.Configuration(faults: faults), retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(20))) { server, client in
            try await create(client, .namespaces, nil, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "chaos"]])
            for s in 0..<20 {
                try await create(client, .services, "chaos", meshService("src-\(s)", plane: "ops"))
                try await create(client, .services, "chaos", meshService("dst-\(s)"))
            }
            for i in 0..<200 {
                try await create(client, tp, "chaos", trafficPolicy("p-\(i)", source: "src-\(i % 20)", destination: "dst-\(i % 13)",
                                                                                   rules: [["action": "allow", "match": ["path": .string("/p\(i)")]]]))
            }
            // From here on the injected errors are 429 with Retry-After: 1 instead of 500.
            server.setFaults { $0.tooManyRequestsRetryAfter = 1 }
            // Half of them change their path after creation: the render must follow the last edit.
            for i in stride(from: 0, to: 200, by: 2) {
                try await retrying { try await client.patch(tp, namespace: "chaos", name: "p-\(i)", .merge(["spec": ["rules": [["action": "allow", "match": ["path": .string("/edited-\(i)")]]]]])) }
            }
            try await waitUntil(.seconds(90), "200 policies converged under faults") {
                let items = try await client.list(tp, namespace: "chaos").items
                return items.count == 200 && items.allSatisfy { p in
                    p[path: "status", "observedGeneration"] == p[path: "metadata", "generation"] && p[path: "status", "conditions"]?[0]?["status"] == "True"
                }
            }
            server.setFaults { $0 = APIServer.Faults() }
            try await expectValidEnvoy(client, "chaos", (0..<20).map { "src-\($0)" } + (0..<13).map { "dst-\($0)" })
            for s in 0..<20 {
                let hosts = try await routes(client, "chaos", "src-\(s)")
                let prefixes = Set(hosts.values.flatMap { $0 }.compactMap { $0[path: "match", "prefix"]?.stringValue })
                for i in stride(from: s, to: 200, by: 20) {
                    #expect(prefixes.contains(i % 2 == 0 ? "/edited-\(i)" : "/p\(i)"), "src-\(s) lacks policy p-\(i)")
                    if i % 2 == 0 { #expect(!prefixes.contains("/p\(i)"), "src-\(s) still has p-\(i)'s old route") }
                }
            }
        }
    }

    /// Under 10 % errors, watches cut every second and every resumed watch answered 410, a
    /// deleted Service is noticed within 5 s, and the operator's GETs while idle stay bounded.
    @Test func aDeletionIsNoticedWithinSecondsAndIdleReadsStayBounded() async throws {
        var faults = APIServer.Faults()
        faults.errorRate["*"] = 0.1
        faults.dropWatchesAfter = .seconds(1)
        faults.forceGone = true
        let gets = Mutex(0)
        try await withOperator(APIServer.Configuration(faults: faults), retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(20)),
                               observer: { record in if record.method == "GET" { gets.withLock { $0 += 1 } } }) { server, client in
            try await create(client, .namespaces, nil, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "gone"]])
            for s in 0..<10 {
                try await create(client, .services, "gone", meshService("src-\(s)", plane: "ops"))
                try await create(client, .services, "gone", meshService("dst-\(s)"))
                try await create(client, tp, "gone", trafficPolicy("p-\(s)", source: "src-\(s)", destination: "dst-\(s)", rules: [["action": "allow"]]))
            }
            try await waitUntil(.seconds(60), "10 policies Ready under faults") {
                try await (0..<10).asyncAllSatisfy { try await ready(client, "gone", "p-\($0)") }
            }
            // Idle, faults still on: the reads the operator makes to stay current.
            let before = gets.withLock { $0 }
            try await Task.sleep(for: .seconds(10))
            let rate = Double(gets.withLock { $0 } - before) / 10
            print("idle GET rate under forced 410s, watch drops and 10 % errors: \(rate)/s (7 informers)")
            #expect(rate < 12, "the operator made \(rate) GETs a second while idle")

            for s in [3, 7] {
                let deleted = ContinuousClock.now
                try await retrying { try await client.delete(.services, namespace: "gone", name: "dst-\(s)") }
                try await waitUntil(.seconds(5), "p-\(s) to report its deleted destination") {
                    try await ready(client, "gone", "p-\(s)", "False", reason: "DestinationNotFound")
                }
                print("deletion of dst-\(s) noticed after \(ContinuousClock.now - deleted)")
            }
        }
    }
}

extension Sequence where Element: Sendable {
    func asyncAllSatisfy(_ predicate: (Element) async throws -> Bool) async rethrows -> Bool {
        for element in self where try await !predicate(element) { return false }
        return true
    }
}
