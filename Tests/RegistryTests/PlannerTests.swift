import Registry
import Testing
import YAML

/// Desired records vs. what etcd holds → the minimal conditional writes.
@Suite struct PlannerTests {
    let scope: [KeyScope] = [.prefix("/lucid/registry/")]

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func equalBytesPlanNoWrite() {
        let plan = RegistryPlanner.plan(desired: ["/lucid/registry/a/b": bytes("x")],
                                        observed: ["/lucid/registry/a/b": ObservedKey(value: bytes("x"), modRevision: 7)], scope: scope)
        #expect(plan.isEmpty)
    }

    @Test func aMissingKeyIsCreatedOnlyIfItStillDoesNotExist() {
        let plan = RegistryPlanner.plan(desired: ["/lucid/registry/a/b": bytes("x")], observed: [:], scope: scope)
        #expect(plan == [.put(key: "/lucid/registry/a/b", value: bytes("x"), expectedModRevision: 0)])
    }

    @Test func aDifferentValueIsReplacedOnlyIfUnchangedSinceItWasRead() {
        let plan = RegistryPlanner.plan(desired: ["/lucid/registry/a/b": bytes("new")],
                                        observed: ["/lucid/registry/a/b": ObservedKey(value: bytes("old"), modRevision: 41)], scope: scope)
        #expect(plan == [.put(key: "/lucid/registry/a/b", value: bytes("new"), expectedModRevision: 41)])
        #expect(plan.first?.value == bytes("new") && plan.first?.expectedModRevision == 41)
    }

    @Test func aKeyInScopeThatNothingDesiresIsDeleted() {
        let plan = RegistryPlanner.plan(desired: [:], observed: ["/lucid/registry/gone/svc": ObservedKey(value: bytes("x"), modRevision: 3)], scope: scope)
        #expect(plan == [.delete(key: "/lucid/registry/gone/svc", expectedModRevision: 3)])
        #expect(plan.first?.value == nil)
    }

    @Test func keysOutsideTheScopeAreLeftAlone() {
        let observed = ["/other/app/key": ObservedKey(value: bytes("x"), modRevision: 3),
                        "/lucid/registry": ObservedKey(value: bytes("y"), modRevision: 4)]
        #expect(RegistryPlanner.plan(desired: [:], observed: observed, scope: scope).isEmpty)
    }

    @Test func aPrefixScopeEndingInASlashDoesNotOwnItsNeighbours() {
        let service = KeyScope.prefix("/skydns/local/lucid/ns/svc/")
        #expect(service.contains("/skydns/local/lucid/ns/svc/10-0-0-1"))
        #expect(!service.contains("/skydns/local/lucid/ns/svc2/10-0-0-1"))
        #expect(KeyScope.key("/a").contains("/a") && !KeyScope.key("/a").contains("/a/b"))
        #expect(KeyScope.prefix("/a/").overlaps(.prefix("/a/b/")) && !KeyScope.prefix("/a/").overlaps(.prefix("/b/")))
        #expect(KeyScope.key("/a/b").overlaps(.prefix("/a/")) && !KeyScope.key("/a").overlaps(.key("/b")))
    }

    @Test func writesComeSortedByKey() {
        let plan = RegistryPlanner.plan(desired: ["/lucid/registry/b": bytes("1"), "/lucid/registry/a": bytes("2")],
                                        observed: ["/lucid/registry/c": ObservedKey(value: bytes("x"), modRevision: 1)], scope: scope)
        #expect(plan.map(\.key) == ["/lucid/registry/a", "/lucid/registry/b", "/lucid/registry/c"])
    }

    // MARK: whole services

    func options() throws -> RegistryOptions { try RegistryOptions(dns: try DNSOptions(domain: "lucid.local")) }

    func observed(_ records: [String: [UInt8]], revision: Int64 = 10) -> [String: ObservedKey] {
        records.mapValues { ObservedKey(value: $0, modRevision: revision) }
    }

    @Test func aServiceBecomesItsEntryAndItsDNSRecords() throws {
        let records = try ServiceRegistry.records(service: ServiceFixture().json, endpointSlices: [], options: try options(), now: now, observedEntry: nil)
        #expect(records.entryKey == "/lucid/registry/lucid/payments")
        #expect(records.records.keys.sorted() == ["/lucid/registry/lucid/payments", "/skydns/local/lucid/lucid/payments/10-96-0-12"])
        #expect(records.scope == [.key("/lucid/registry/lucid/payments"), .prefix("/skydns/local/lucid/lucid/payments/")])
        #expect(records.records[records.entryKey] == records.entry.encoded())
    }

    @Test func anUnchangedServiceRecomputedLaterPlansNothing() throws {
        let slices = [slice("a", [EndpointFixture(address: "10.0.0.1")])]
        let first = try ServiceRegistry.records(service: ServiceFixture().json, endpointSlices: slices, options: try options(), now: now, observedEntry: nil)
        let inEtcd = observed(first.records)
        let again = try ServiceRegistry.records(service: ServiceFixture().json, endpointSlices: slices, options: try options(), now: later,
                                                observedEntry: inEtcd[first.entryKey]?.value)
        #expect(RegistryPlanner.plan(desired: again.records, observed: inEtcd, scope: again.scope).isEmpty)
    }

    @Test func anEndpointTurningUnreadyRewritesOnlyTheEntry() throws {
        let ready = [slice("a", [EndpointFixture(address: "10.0.0.1"), EndpointFixture(address: "10.0.0.2")])]
        let first = try ServiceRegistry.records(service: ServiceFixture().json, endpointSlices: ready, options: try options(), now: now, observedEntry: nil)
        let inEtcd = observed(first.records, revision: 12)
        let degraded = [slice("a", [EndpointFixture(address: "10.0.0.1"), EndpointFixture(address: "10.0.0.2", ready: false)])]
        let next = try ServiceRegistry.records(service: ServiceFixture().json, endpointSlices: degraded, options: try options(), now: later,
                                               observedEntry: inEtcd[first.entryKey]?.value)
        let plan = RegistryPlanner.plan(desired: next.records, observed: inEtcd, scope: next.scope)
        #expect(plan.map(\.key) == ["/lucid/registry/lucid/payments"])
        #expect(plan.first?.expectedModRevision == 12)
        let written = try RegistryEntry(decoding: plan.first?.value ?? [])
        #expect(written.health == RegistryEntry.Health(status: .warning, ready: 1, total: 2, lastHealthCheck: later))
    }

    @Test func aDeletedServiceLosesItsEntryAndItsRecords() throws {
        let first = try ServiceRegistry.records(service: ServiceFixture().json, endpointSlices: [], options: try options(), now: now, observedEntry: nil)
        var inEtcd = observed(first.records)
        inEtcd["/lucid/registry/lucid/payments-v2"] = ObservedKey(value: bytes("neighbour"), modRevision: 3)
        let plan = RegistryPlanner.plan(desired: [:], observed: inEtcd,
                                        scope: ServiceRegistry.scope(namespace: "lucid", name: "payments", options: try options()))
        #expect(plan == [.delete(key: "/lucid/registry/lucid/payments", expectedModRevision: 10),
                         .delete(key: "/skydns/local/lucid/lucid/payments/10-96-0-12", expectedModRevision: 10)])
    }

    @Test func aFullResyncRemovesForeignKeysUnderTheOwnedPrefixes() throws {
        let first = try ServiceRegistry.records(service: ServiceFixture().json, endpointSlices: [], options: try options(), now: now, observedEntry: nil)
        var inEtcd = observed(first.records)
        inEtcd["/lucid/registry/stray/key"] = ObservedKey(value: bytes("?"), modRevision: 5)
        inEtcd["/skydns/local/lucid/old/svc/x1"] = ObservedKey(value: bytes("?"), modRevision: 6)
        inEtcd["/skydns/local/other-zone/x"] = ObservedKey(value: bytes("?"), modRevision: 7)
        let plan = RegistryPlanner.plan(desired: first.records, observed: inEtcd, scope: ServiceRegistry.ownedScope(try options()))
        #expect(plan == [.delete(key: "/lucid/registry/stray/key", expectedModRevision: 5),
                         .delete(key: "/skydns/local/lucid/old/svc/x1", expectedModRevision: 6)])
    }

    @Test func aHandEditedEntryIsPutBack() throws {
        let first = try ServiceRegistry.records(service: ServiceFixture().json, endpointSlices: [], options: try options(), now: now, observedEntry: nil)
        var inEtcd = observed(first.records)
        inEtcd[first.entryKey] = ObservedKey(value: bytes(#"{"serviceName":"hijacked"}"#), modRevision: 99)
        let again = try ServiceRegistry.records(service: ServiceFixture().json, endpointSlices: [], options: try options(), now: later,
                                                observedEntry: inEtcd[first.entryKey]?.value)
        let plan = RegistryPlanner.plan(desired: again.records, observed: inEtcd, scope: again.scope)
        #expect(plan.count == 1 && plan.first?.key == first.entryKey && plan.first?.expectedModRevision == 99)
        #expect(try RegistryEntry(decoding: plan.first?.value ?? []).serviceName == "payments")
    }

    @Test func aKeyMapsBackToItsService() throws {
        let o = try options()
        func id(_ key: String) -> String? { ServiceRegistry.service(forKey: key, options: o).map { "\($0.namespace)/\($0.name)" } }
        #expect(id("/lucid/registry/lucid/payments") == "lucid/payments")
        #expect(id("/skydns/local/lucid/lucid/payments/10-96-0-12") == "lucid/payments")
        #expect(ServiceRegistry.service(forKey: "/lucid/registry/lucid/payments/extra", options: o) == nil)
        #expect(ServiceRegistry.service(forKey: "/lucid/registry/lucid", options: o) == nil)
        #expect(ServiceRegistry.service(forKey: "/elsewhere/lucid/payments", options: o) == nil)
    }

    @Test func aServiceThatCannotBeRegisteredSaysWhy() throws {
        var service = ServiceFixture()
        service.labels["mesh.lucid.io/cluster"] = "nope"
        #expect(throws: RegistryError.self) {
            _ = try ServiceRegistry.records(service: service.json, endpointSlices: [], options: try options(), now: now, observedEntry: nil)
        }
    }
}
