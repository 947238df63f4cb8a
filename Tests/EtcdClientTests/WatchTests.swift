import EtcdClient
import EtcdServer
import LoopbackServer
import Testing

/// Watches against a real etcd: history from a revision, live changes, progress notifications,
/// compaction, cancellation.
@Suite(.timeLimit(.minutes(3))) struct WatchTests {
    @Test func aWatchFromARevisionReplaysHistoryThenFollowsLiveChanges() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let p = uniquePrefix()
        let start = try await client.put(p + "a", "1").header.revision
        try await client.put(p + "b", "2")
        try await client.delete(p + "a")
        try await client.put(String(p.dropLast()) + "-outside", "not watched")

        var watch = client.watch(prefix: p, fromRevision: start, options: WatchOptions(prevKV: true, progressNotify: false)).makeAsyncIterator()
        var seen: [WatchEvent] = []
        while seen.count < 3, let response = try await watch.next() { seen += response.events }
        #expect(seen.map(\.kind) == [.put, .put, .delete])
        #expect(seen.map(\.kv.keyText) == [p + "a", p + "b", p + "a"])
        #expect(seen[2].prevKV?.valueText == "1")
        let revisions = seen.map(\.kv.modRevision)
        #expect(revisions == revisions.sorted() && revisions.first == start)

        // Then what happens next, in order.
        _ = try await client.txn(compare: [], success: [.put(p + "c", [3]), .put(p + "d", [4])])
        let live = try #require(try await watch.next())
        #expect(live.events.map(\.kv.keyText) == [p + "c", p + "d"])
        #expect(Set(live.events.map(\.kv.modRevision)).count == 1, "one transaction, one revision")
    }

    @Test func aWatchFromNowSeesOnlyLaterChanges() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let p = uniquePrefix()
        try await client.put(p + "before", "x")
        let done = Flag()
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The watch is established inside next(); keep writing until the watcher has seen a write.
            group.addTask {
                var i = 0
                while !done.isSet {
                    try await client.put(p + "k", "v\(i)")
                    i += 1
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            var watch = client.watch(prefix: p, options: WatchOptions(progressNotify: false)).makeAsyncIterator()
            let response = try #require(try await watch.next())
            done.set()
            #expect(!response.events.isEmpty)
            #expect(response.events.allSatisfy { $0.kv.keyText == p + "k" }, "history before the watch was replayed")
            try await group.waitForAll()
        }
    }

    @Test func progressNotificationsCarryTheRevisionWhileNothingChanges() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let p = uniquePrefix()
        let revision = try await client.put(p + "x", "1").header.revision
        var watch = client.watch(prefix: p + "quiet/", fromRevision: revision + 1).makeAsyncIterator()
        let response = try #require(try await watch.next())
        #expect(response.isProgressNotification && response.events.isEmpty)
        #expect(response.header.revision >= revision)
        #expect((watch.nextRevision ?? 0) == response.header.revision + 1)
    }

    @Test func compactionEndsAWatchWithTheCompactRevisionAndFailsOldReads() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.stop() }
        let client = try EtcdClient(EtcdConfiguration(endpoints: [etcd.clientURL]))
        defer { client.shutdown() }
        let first = try await client.put("/c/k", "1").header.revision
        try await client.put("/c/k", "2")
        let third = try await client.put("/c/k", "3").header.revision
        try await client.compact(revision: third, physical: true)

        var watch = client.watch(prefix: "/c/", fromRevision: first).makeAsyncIterator()
        do {
            _ = try await watch.next()
            Issue.record("a watch from a compacted revision delivered something")
        } catch {
            #expect(error.code == .compacted && error.compactRevision == third)
        }
        do {
            _ = try await client.range(RangeRequest(.key("/c/k"), revision: first))
            Issue.record("a compacted revision was read")
        } catch {
            #expect(error.code == .compacted && error.grpcCode == 11)
        }
        // From the compact revision on, history is still there.
        var fromCompaction = client.watch(prefix: "/c/", fromRevision: third).makeAsyncIterator()
        #expect(try await fromCompaction.next()?.events.map(\.kv.valueText) == ["3"])
    }
}

/// Latency bounds: run alone and serially (`hack/test.sh`), so a loaded machine cannot fail them.
@Suite(.timeLimit(.minutes(1))) struct WatchTimingTests {
    @Test func cancellingTheConsumerEndsTheWatchOnTheServer() async throws {
        let etcd = try await EtcdServer.start()
        defer { etcd.stop() }
        let client = try EtcdClient(EtcdConfiguration(endpoints: [etcd.clientURL]))
        defer { client.shutdown() }
        let watchers = "etcd_debugging_mvcc_watcher_total"
        #expect(try await metric(etcd, watchers) == 0)
        let started = Flag()
        let consumer = Task {
            var iterator = client.watch(prefix: "/quiet/").makeAsyncIterator()
            started.set()
            return try await iterator.next()
        }
        try await waitUntil(.seconds(10), "the server to count the watch") { try await metric(etcd, watchers) == 1 }
        #expect(started.isSet)
        let cancelledAt = ContinuousClock.now
        consumer.cancel()
        #expect(try await consumer.value == nil)
        #expect(ContinuousClock.now - cancelledAt < .seconds(1))
        try await waitUntil(.seconds(10), "the server to drop the watch") { try await metric(etcd, watchers) == 0 }
    }
}
