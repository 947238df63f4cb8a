import EtcdClient
import EtcdServer
import Registry
import Testing
import YAML

/// The planner's writes carried out as compare-and-set transactions on a real etcd: what a
/// registry controller does, without the controller.
@Suite(.timeLimit(.minutes(3))) struct RegistryRoundTripTests {
    func service(_ i: Int) -> JSON {
        [
            "metadata": ["name": .string("svc-\(i)"), "namespace": "lucid", "uid": .string("uid-\(i)"),
                         "labels": ["mesh.lucid.io/cluster": "blockchain-core", "mesh.lucid.io/plane": "chain"]],
            "spec": ["ports": [["name": "grpc", "port": 50051]], "clusterIP": .string("10.96.1.\(i)")],
        ]
    }

    func observed(_ client: EtcdClient, _ prefixes: [String]) async throws -> [String: ObservedKey] {
        var result: [String: ObservedKey] = [:]
        for prefix in prefixes {
            for kv in try await client.range(prefix: prefix).kvs { result[kv.keyText] = ObservedKey(value: kv.value, modRevision: kv.modRevision) }
        }
        return result
    }

    func apply(_ plan: [RegistryWrite], _ client: EtcdClient) async throws -> [CompareAndSetResult] {
        var results: [CompareAndSetResult] = []
        for write in plan { results.append(try await client.compareAndSet(write.key, value: write.value, ifModRevision: write.expectedModRevision)) }
        return results
    }

    @Test func plansConvergeAndThenWriteNothing() async throws {
        let (server, client) = try await SharedEtcd.client()
        defer { client.shutdown() }
        let base = uniquePrefix()
        let options = try RegistryOptions(prefix: base + "registry/", dns: try DNSOptions(domain: "lucid.local", root: base + "skydns"))
        let owned = [options.prefix, (options.dns?.zonePath ?? "") + "/"]
        func desired(_ now: String, _ inEtcd: [String: ObservedKey]) throws -> [String: [UInt8]] {
            var all: [String: [UInt8]] = [:]
            for i in 0..<50 {
                let key = options.key(namespace: "lucid", name: "svc-\(i)")
                let records = try ServiceRegistry.records(service: service(i), endpointSlices: [], options: options, now: now,
                                                          observedEntry: inEtcd[key]?.value)
                all.merge(records.records) { a, _ in a }
            }
            return all
        }
        // A stray key under the prefix, as another writer might leave.
        try await client.put(options.prefix + "stray/key", "?")

        var inEtcd = try await observed(client, owned)
        let first = RegistryPlanner.plan(desired: try desired("2026-01-10T19:08:00Z", inEtcd), observed: inEtcd, scope: ServiceRegistry.ownedScope(options))
        #expect(first.count == 101, "50 entries, 50 DNS records, 1 deletion")
        #expect(try await apply(first, client).allSatisfy { if case .applied = $0 { true } else { false } })

        // Converged: recomputing later plans nothing.
        inEtcd = try await observed(client, owned)
        #expect(inEtcd.count == 100 && inEtcd[options.prefix + "stray/key"] == nil)
        #expect(RegistryPlanner.plan(desired: try desired("2026-01-10T20:00:00Z", inEtcd), observed: inEtcd,
                                     scope: ServiceRegistry.ownedScope(options)).isEmpty)

        // What etcdctl sees is the entry.
        let stored = try await etcdctl(server, ["get", options.key(namespace: "lucid", name: "svc-7"), "--print-value-only"])
        let entry = try RegistryEntry(decoding: Array(stored.utf8.dropLast()))
        #expect(entry.serviceId == "uid-7" && entry.endpoint.protocol == .grpc && entry.cluster == .blockchainCore)

        // A hand edit is put back; a plan made before someone else's write loses and changes nothing.
        let edited = options.key(namespace: "lucid", name: "svc-3")
        let stalePlan = RegistryPlanner.plan(desired: [edited: Array("mine".utf8)], observed: inEtcd, scope: [.key(edited)])
        try await client.put(edited, "hand edit")
        inEtcd = try await observed(client, owned)
        let repair = RegistryPlanner.plan(desired: try desired("2026-01-10T20:05:00Z", inEtcd), observed: inEtcd, scope: ServiceRegistry.ownedScope(options))
        #expect(repair.map(\.key) == [edited])
        guard case .conflict(let current, _)? = try await apply(stalePlan, client).first else {
            Issue.record("a stale plan overwrote a newer write")
            return
        }
        #expect(current?.valueText == "hand edit")
        #expect(try await apply(repair, client).allSatisfy { if case .applied = $0 { true } else { false } })
        #expect(try RegistryEntry(decoding: try #require(try await client.get(edited)).value).serviceName == "svc-3")
    }
}
