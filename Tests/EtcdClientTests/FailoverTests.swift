@testable import EtcdClient
import EtcdServer
import LoopbackServer
import Testing

/// Several endpoints: dead ones are skipped, a member that dies is failed over from, requests
/// and watches carry on; a single etcd killed and restarted keeps its data and its watchers.
@Suite(.timeLimit(.minutes(3))) struct FailoverTests {
    @Test func requestsAndAWatchFailOverWhenTheirMemberIsKilled() async throws {
        let cluster = try await EtcdCluster.start(size: 3)
        defer { cluster.stop() }
        // Put a follower first, so killing it tests the client's failover rather than an election.
        let probe = try EtcdClient(EtcdConfiguration(endpoints: cluster.clientURLs))
        let statuses = try await withThrowingTaskGroup(of: EndpointStatus.self) { group in
            for url in cluster.clientURLs { group.addTask { try await probe.status(of: url) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        probe.shutdown()
        let followers = statuses.filter { $0.leader != $0.header.memberID }.map(\.endpoint)
        let leader = try #require(statuses.first { $0.leader == $0.header.memberID }?.endpoint)
        #expect(followers.count == 2)
        let victim = try #require(cluster.members.first { $0.clientURL == followers[0] })

        let client = try EtcdClient(EtcdConfiguration(endpoints: [followers[0], followers[1], leader], requestTimeout: .seconds(5)))
        defer { client.shutdown() }
        let start = try await client.put("/f/00", "0").header.revision
        #expect(client.pool.withLock { $0.preferred } == 0)

        try await withThrowingTaskGroup(of: [WatchEvent].self) { group in
            group.addTask {
                var seen: [WatchEvent] = []
                for try await response in client.watch(prefix: "/f/", fromRevision: start) {
                    seen += response.events
                    if seen.count >= 20 { break }
                }
                return seen
            }
            try await waitUntil(.seconds(30), "the watch on the first member") { (try await metric(victim, "etcd_debugging_mvcc_watcher_total") ?? 0) >= 1 }
            for i in 1..<10 { try await client.put("/f/" + pad(i), "\(i)") }
            await victim.kill()
            for i in 10..<20 { try await client.put("/f/" + pad(i), "\(i)") }
            #expect(try await client.range(prefix: "/f/").count == 20)
            let seen = try #require(try await group.next())
            #expect(seen.map(\.kv.keyText) == (0..<20).map { "/f/" + pad($0) }, "every write once, in order")
            let revisions = seen.map(\.kv.modRevision)
            #expect(zip(revisions, revisions.dropFirst()).allSatisfy { $0 < $1 })
        }
        #expect(client.pool.withLock { $0.preferred } == 1, "requests moved to the next endpoint")
        #expect(client.pool.withLock { $0.members[0].failures } >= 1)
    }

    @Test func aDeadEndpointIsSkippedAfterItFailsOnce() async throws {
        let (server, _) = try await SharedEtcd.client()
        let dead = "http://127.0.0.1:\(try LoopbackPort.unused())"
        let client = try EtcdClient(EtcdConfiguration(endpoints: [dead, server.clientURL]))
        defer { client.shutdown() }
        let key = uniquePrefix() + "k"
        try await client.put(key, "v")  // a refused connection: nothing was sent, so even a write fails over
        for _ in 0..<10 { #expect(try await client.get(key)?.valueText == "v") }
        let pool = client.pool.withLock { $0 }
        #expect(pool.preferred == 1)
        #expect(pool.members[0].failures == 1, "the dead endpoint was not tried again while the other served")
        #expect(pool.members[1].failures == 0)
    }

    @Test func etcdKilledAndRestartedKeepsItsDataAndTheWatchCarriesOn() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.stop() }
        let client = try EtcdClient(EtcdConfiguration(endpoints: [etcd.clientURL], requestTimeout: .seconds(5)))
        defer { client.shutdown() }
        let start = try await client.put("/r/00", "0").header.revision
        try await withThrowingTaskGroup(of: [WatchEvent].self) { group in
            group.addTask {
                var seen: [WatchEvent] = []
                for try await response in client.watch(prefix: "/r/", fromRevision: start) {
                    seen += response.events
                    if seen.count >= 10 { break }
                }
                return seen
            }
            for i in 1..<5 { try await client.put("/r/" + pad(i), "\(i)") }
            try await waitUntil(.seconds(30), "the watch to be served") { (try await metric(etcd, "etcd_debugging_mvcc_watcher_total") ?? 0) >= 1 }
            let url = etcd.clientURL
            await etcd.kill()
            #expect(!etcd.isRunning)
            await #expect { _ = try await client.get("/r/00") } throws: { ($0 as? EtcdError)?.code == .unavailable }
            try await etcd.restart()
            #expect(etcd.clientURL == url && etcd.isRunning)
            #expect(try await client.range(prefix: "/r/").kvs.map(\.valueText) == ["0", "1", "2", "3", "4"], "the data survived")
            for i in 5..<10 { try await client.put("/r/" + pad(i), "\(i)") }
            let seen = try #require(try await group.next())
            #expect(seen.map(\.kv.valueText) == (0..<10).map(String.init), "every write once, in order, across the restart")
        }
    }

    private func pad(_ i: Int) -> String { i < 10 ? "0\(i)" : "\(i)" }
}

/// Latency bounds: run alone and serially (`hack/test.sh`), so a loaded machine cannot fail them.
@Suite(.timeLimit(.minutes(1))) struct FailoverTimingTests {
    @Test func aMemberThatNeverAnswersHoldsBackNeitherRequestsNorTheWatchForever() async throws {
        let silent = try SilentListener()
        let client = try EtcdClient(EtcdConfiguration(endpoints: [silent.url], requestTimeout: .milliseconds(500)))
        defer { client.shutdown() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var watch = client.watch(prefix: "/", options: WatchOptions(maxReconnectAttempts: 1, reconnectBackoff: .milliseconds(10))).makeAsyncIterator()
                await #expect { _ = try await watch.next() } throws: { ($0 as? EtcdError)?.code == .unavailable }
            }
            // While the watch waits for an answer, a request still ends at its own deadline.
            try await Task.sleep(for: .milliseconds(100))
            let started = ContinuousClock.now
            await #expect { _ = try await client.get("/k") } throws: { ($0 as? EtcdError)?.code == .unavailable }
            #expect(ContinuousClock.now - started < .seconds(3))
            try await group.waitForAll()
        }
    }

    @Test func withEveryEndpointDeadRequestsFailFastAsUnavailable() async throws {
        let dead = try (0..<3).map { _ in "http://127.0.0.1:\(try LoopbackPort.unused())" }
        let client = try EtcdClient(EtcdConfiguration(endpoints: dead))
        defer { client.shutdown() }
        let started = ContinuousClock.now
        do {
            _ = try await client.get("/k")
            Issue.record("a request succeeded with no etcd")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("tried 3"), "\(error)")
            #expect(error.transport?.isConnectFailure == true)
        }
        #expect(ContinuousClock.now - started < .seconds(2))
        // A watch gives up after its reconnect budget, with the same code.
        var watch = client.watch(prefix: "/", options: WatchOptions(maxReconnectAttempts: 2, reconnectBackoff: .milliseconds(10))).makeAsyncIterator()
        await #expect { _ = try await watch.next() } throws: { ($0 as? EtcdError)?.code == .unavailable }
    }
}
