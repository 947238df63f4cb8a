import EtcdClient
import EtcdServer
import Testing

/// Every key-value verb against a real etcd, through the gateway. Each test works under its own
/// prefix of one shared server.
@Suite(.timeLimit(.minutes(3))) struct KVTests {
    @Test func putGetAndRangeRoundTripBytesAndRevisions() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let p = uniquePrefix()
        let binary: [UInt8] = [0, 1, 2, 0xfe, 0xff, 0x0a, 0x22]
        let first = try await client.put(p + "b", binary)
        let second = try await client.put(p + "a", "héllo")
        #expect(second.header.revision > first.header.revision)
        #expect(try await client.get(p + "b")?.value == binary)
        let a = try #require(try await client.get(p + "a"))
        #expect(a.valueText == "héllo" && a.version == 1 && a.modRevision == second.header.revision && a.createRevision == a.modRevision)
        #expect(try await client.get(p + "missing") == nil)

        let all = try await client.range(prefix: p)
        #expect(all.kvs.map(\.keyText) == [p + "a", p + "b"])
        #expect(all.count == 2 && !all.more)
        let page = try await client.range(prefix: p, limit: 1)
        #expect(page.kvs.count == 1 && page.more && page.count == 2)
        // Nothing outside the prefix leaks in.
        try await client.put(String(p.dropLast()) + "0", "neighbour")
        #expect(try await client.range(prefix: p).count == 2)
    }

    @Test func etcdctlReadsWhatTheClientWroteAndTheOtherWayRound() async throws {
        let (server, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let p = uniquePrefix()
        try await client.put(p + "from-swift", "value with spaces\nand a newline")
        let printed = try await etcdctl(server, ["get", p + "from-swift", "--print-value-only"])
        #expect(printed == "value with spaces\nand a newline\n")
        _ = try await etcdctl(server, ["put", p + "from-etcdctl", "ünïcødé"])
        #expect(try await client.get(p + "from-etcdctl")?.valueText == "ünïcødé")
    }

    @Test func putReturnsThePreviousValueWhenAsked() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let key = uniquePrefix() + "k"
        let created = try await client.put(key, "one", prevKV: true)
        #expect(created.prevKV == nil)
        let replaced = try await client.put(key, "two", prevKV: true)
        #expect(replaced.prevKV?.valueText == "one")
        let now = try #require(try await client.get(key))
        #expect(now.version == 2 && now.createRevision == created.header.revision && now.modRevision == replaced.header.revision)
    }

    @Test func rangesReadPastRevisions() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let key = uniquePrefix() + "k"
        let v1 = try await client.put(key, "v1")
        try await client.put(key, "v2")
        let old = try await client.range(RangeRequest(.key(key), revision: v1.header.revision))
        #expect(old.kvs.first?.valueText == "v1")
        let sorted = try await client.range(RangeRequest(.key(key), sortOrder: .descending, sortTarget: .modRevision, serializable: true))
        #expect(sorted.kvs.first?.valueText == "v2")
        let counted = try await client.range(RangeRequest(.key(key), countOnly: true))
        #expect(counted.count == 1 && counted.kvs.isEmpty)
        let keysOnly = try await client.range(RangeRequest(.key(key), keysOnly: true))
        #expect(keysOnly.kvs.first?.keyText == key && keysOnly.kvs.first?.value == [])
    }

    @Test func deleteOneKeyOrAPrefix() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let p = uniquePrefix()
        for i in 0..<5 { try await client.put(p + "k\(i)", "v\(i)") }
        let one = try await client.delete(p + "k0", prevKV: true)
        #expect(one.deleted == 1 && one.prevKVs.map(\.valueText) == ["v0"])
        #expect(try await client.delete(p + "k0").deleted == 0)
        let rest = try await client.delete(prefix: p)
        #expect(rest.deleted == 4)
        #expect(try await client.range(prefix: p).count == 0)
    }

    @Test func transactionsRunTheBranchTheirComparisonsChoose() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let p = uniquePrefix()
        // mod_revision 0: create only if absent.
        let create = try await client.txn(compare: [.modRevision(p + "lock", .equal, 0)],
                                          success: [.put(p + "lock", Array("me".utf8)), .put(p + "side", Array("s".utf8))],
                                          failure: [.get(p + "lock")])
        #expect(create.succeeded && create.responses.count == 2)
        let again = try await client.txn(compare: [.modRevision(p + "lock", .equal, 0)],
                                         success: [.put(p + "lock", Array("you".utf8))], failure: [.get(p + "lock")])
        #expect(!again.succeeded)
        guard case .range(let current)? = again.responses.first else {
            Issue.record("the failure branch did not read: \(again.responses)")
            return
        }
        #expect(current.kvs.first?.valueText == "me")
        // Value, version and create-revision comparisons.
        let lock = try #require(try await client.get(p + "lock"))
        let byValue = try await client.txn(compare: [.value(p + "lock", .equal, Array("me".utf8)), .version(p + "lock", .equal, 1),
                                                     .createRevision(p + "lock", .equal, lock.createRevision), .lease(p + "lock", .equal, 0)],
                                           success: [.delete(p + "lock")])
        #expect(byValue.succeeded)
        #expect(try await client.get(p + "lock") == nil)
        let greater = try await client.txn(compare: [.version(p + "side", .greater, 5)], success: [.delete(p + "side")], failure: [])
        #expect(!greater.succeeded && greater.responses.isEmpty)
        #expect(try await client.get(p + "side") != nil)
    }

    @Test func compareAndSetNeverOverwritesANewerWrite() async throws {
        let (_, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let key = uniquePrefix() + "entry"
        guard case .applied(let created) = try await client.compareAndSet(key, value: Array("v1".utf8), ifModRevision: 0) else {
            Issue.record("creating an absent key failed")
            return
        }
        // A writer that still believes the key is absent loses, and learns what is there.
        let stale = try await client.compareAndSet(key, value: Array("stale".utf8), ifModRevision: 0)
        guard case .conflict(let current, _) = stale else {
            Issue.record("a stale create overwrote the key")
            return
        }
        #expect(current?.valueText == "v1" && current?.modRevision == created)
        guard case .applied = try await client.compareAndSet(key, value: Array("v2".utf8), ifModRevision: created) else {
            Issue.record("a write at the current revision was refused")
            return
        }
        #expect(try await client.get(key)?.valueText == "v2")
        // Deleting with the old revision is refused; with the current one it works.
        guard case .conflict = try await client.compareAndSet(key, value: nil, ifModRevision: created) else {
            Issue.record("a stale delete went through")
            return
        }
        let revision = try #require(try await client.get(key)).modRevision
        guard case .applied = try await client.compareAndSet(key, value: nil, ifModRevision: revision) else {
            Issue.record("deleting at the current revision failed")
            return
        }
        #expect(try await client.get(key) == nil)
        guard case .conflict(nil, _) = try await client.compareAndSet(key, value: nil, ifModRevision: revision) else {
            Issue.record("deleting a missing key should conflict with no current value")
            return
        }
    }

    @Test func refusedRequestsAreTypedErrorsNamingTheEndpoint() async throws {
        let (server, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        do {
            _ = try await client.range(RangeRequest(.key("/x"), revision: 1 << 40))
            Issue.record("a future revision was read")
        } catch {
            #expect(error.code == .futureRevision && error.grpcCode == 11 && error.httpStatus == 400 && error.endpoint == server.clientURL)
            #expect(error.description.contains("future revision"))
        }
        do {
            try await client.put("", "no key")
            Issue.record("an empty key was written")
        } catch {
            #expect(error.code == .invalidArgument && error.grpcCode == 3)
        }
    }

    @Test func statusSaysWhoLeads() async throws {
        let (server, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let status = try await client.status(of: server.clientURL)
        #expect(status.version.hasPrefix("3."))
        #expect(status.leader == status.header.memberID && status.leader != 0)
        #expect(status.dbSize > 0 && status.raftIndex > 0)
    }
}
