import EtcdClient
import EtcdServer
import LoopbackServer
import Testing

/// Leases against a real etcd: grant, attach, time to live, keep-alive, revoke, expiry.
@Suite(.timeLimit(.minutes(3))) struct LeaseTests {
    @Test func aGrantedLeaseHoldsItsKeysUntilRevoked() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let p = uniquePrefix()
        let lease = try await client.grantLease(ttl: 60)
        #expect(lease.id != 0 && lease.ttl == 60)
        try await client.put(p + "a", "1", lease: lease.id)
        try await client.put(p + "b", "2", lease: lease.id)
        #expect(try await client.get(p + "a")?.lease == lease.id)
        #expect(try await client.leases().contains(lease.id))

        let alive = try #require(try await client.timeToLive(lease.id, keys: true))
        #expect(alive.grantedTTL == 60 && alive.ttl > 0 && alive.ttl <= 60)
        #expect(Set(alive.keys.map(\.text)) == [p + "a", p + "b"])
        #expect(try await client.keepAliveOnce(lease.id) == 60)

        try await client.revokeLease(lease.id)
        #expect(try await client.range(prefix: p).count == 0)
        #expect(try await client.timeToLive(lease.id) == nil)
        await #expect { try await client.keepAliveOnce(lease.id) } throws: { ($0 as? EtcdError)?.code == .leaseNotFound }
        await #expect { try await client.revokeLease(lease.id) } throws: { ($0 as? EtcdError)?.code == .leaseNotFound }
    }

    @Test func aLeaseWithAChosenIDKeepsIt() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let id = Int64.random(in: 1 << 40 ..< 1 << 62)
        let lease = try await client.grantLease(ttl: 30, id: id)
        #expect(lease.id == id)
        try await client.revokeLease(id)
    }

    @Test func keepAliveReportsALeaseThatIsGone() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let lease = try await client.grantLease(ttl: 30)
        try await client.revokeLease(lease.id)
        await #expect { try await client.keepAlive(lease.id) } throws: { ($0 as? EtcdError)?.code == .leaseNotFound }
    }
}

/// A 2 s lease kept alive on time: run alone and serially (`hack/test.sh`), so a loaded machine cannot let it lapse.
@Suite(.timeLimit(.minutes(1))) struct LeaseTimingTests {
    @Test func keysGoWhenTheirLeaseExpiresAndStayWhileItIsKeptAlive() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let p = uniquePrefix()
        // etcd's shortest TTL is about 1.5 election timeouts; 2 s is above it.
        let kept = try await client.grantLease(ttl: 2)
        let left = try await client.grantLease(ttl: 2)
        try await client.put(p + "kept", "k", lease: kept.id)
        try await client.put(p + "left", "l", lease: left.id)
        let granted = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.keepAlive(kept.id) }
            try await waitUntil(.seconds(15), "the unrenewed lease to expire") { try await client.get(p + "left") == nil }
            #expect(ContinuousClock.now - granted >= .seconds(1))
            // Well past its TTL, the renewed one still holds its key.
            try await waitUntil(.seconds(15), "4 s to pass") { ContinuousClock.now - granted > .seconds(4) }
            #expect(try await client.get(p + "kept")?.valueText == "k")
            let remaining = try #require(try await client.timeToLive(kept.id))
            #expect(remaining.ttl >= 1)
            group.cancelAll()
            try await group.waitForAll()
        }
        // keepAlive returned on cancellation; without it the lease runs out.
        try await waitUntil(.seconds(15), "the released lease to expire") { try await client.get(p + "kept") == nil }
        #expect(try await client.timeToLive(left.id) == nil)
    }
}
