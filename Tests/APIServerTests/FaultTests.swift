import APIServer
import Foundation
import KubeClient
import LoopbackServer
import Testing
import YAML

/// Each fault-injection knob, as the client sees it.
@Suite struct FaultTests {
    @Test func errorRateFailsRequestsWith500() async throws {
        var faults = APIServer.Faults()
        faults.errorRate["get"] = 1
        try await withServer(APIServer.Configuration(faults: faults)) { _, _, client in
            _ = try await client.create(.configMaps, namespace: "default", configMap("c"))  // creates are not affected
            do throws(KubeError) {
                _ = try await client.get(.configMaps, namespace: "default", name: "c")
                Issue.record("expected an injected 500")
            } catch {
                #expect(error.httpStatus == 500)
                #expect(error.reason == "InternalError")
            }
        }
    }

    @Test func tooManyRequestsCarryRetryAfterAndTheClientRetries() async throws {
        try await withServer { server, _, client in
            server.setFaults { $0.errorRate["create"] = 1; $0.tooManyRequestsRetryAfter = 1 }
            do throws(KubeError) {
                _ = try await client.create(.configMaps, namespace: "default", configMap("c"))
                Issue.record("expected 429")
            } catch {
                #expect(error.httpStatus == 429)
            }
            server.setFaults { $0.errorRate["create"] = 0.5 }
            let patient = try KubeClient(config: KubeConfig(server: server.url), retry: RetryPolicy(maxAttempts: 12))
            for i in 0..<4 { _ = try await patient.create(.configMaps, namespace: "default", configMap("r\(i)")) }
            server.setFaults { $0.errorRate = [:] }
            #expect(try await client.list(.configMaps, namespace: "default").items.count == 4)
        }
    }



    @Test func forcedGoneOnResume() async throws {
        try await withServer { server, _, client in
            server.setFaults { $0.forceGone = true }
            let stream = try await client.watch(.configMaps, namespace: "default", options: WatchOptions(resourceVersion: server.resourceVersion))
            var iterator = stream.makeAsyncIterator()
            let event = try #require(try await iterator.next())
            #expect(event.type == .error && event.status?.code == 410)
            // A watch that does not resume (no version) is not affected.
            let fresh = try await client.watch(.configMaps, namespace: "default", options: WatchOptions(timeoutSeconds: 1))
            for try await event in fresh { #expect(event.type != .error) }
        }
    }

    @Test func restartDropsConnectionsButKeepsState() async throws {
        try await withServer { server, _, client in
            _ = try await client.create(.configMaps, namespace: "default", configMap("survivor"))
            let stream = try await client.watch(.configMaps, namespace: "default", options: WatchOptions(resourceVersion: server.resourceVersion))
            let watching = Task {
                do { for try await _ in stream {} ; return "ended" } catch { return "cut" }
            }
            try await waitUntil(.seconds(30), "the watch to be open") { server.openConnections >= 1 }
            server.restart()
            #expect(await watching.value == "cut")
            let again = try await client.get(.configMaps, namespace: "default", name: "survivor")
            #expect(again[path: "data", "k"] == "v")
        }
    }
}

/// Latency bounds, run alone (`hack/test.sh`, second phase).
@Suite(.serialized) struct FaultTimingTests {
    @Test func watchesAreDropped() async throws {
        try await withServer { server, _, client in
            server.setFaults { $0.dropWatchesAfter = .milliseconds(300) }
            let started = ContinuousClock.now
            let stream = try await client.watch(.configMaps, namespace: "default", options: WatchOptions(resourceVersion: server.resourceVersion))
            do throws(KubeError) {
                for try await _ in stream {}
                Issue.record("the watch ended cleanly instead of being cut")
            } catch {
                #expect(error.code == .transport)
            }
            #expect(ContinuousClock.now - started < .seconds(3))
        }
    }

    @Test func latencyIsAdded() async throws {
        try await withServer { server, _, client in
            server.setFaults { $0.latency = .milliseconds(300) }
            let started = ContinuousClock.now
            _ = try await client.list(.configMaps, namespace: "default")
            #expect(ContinuousClock.now - started >= .milliseconds(300))
        }
    }
}
