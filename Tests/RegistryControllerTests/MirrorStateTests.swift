import ControllerRuntime
import EtcdClient
@testable import Reconcilers
import Registry
import Testing

/// The registry's view of etcd, as a value: grouping, ordering between the watch and the
/// controller's own writes, deletions, relists, parking.
@Suite struct MirrorStateTests {
    let options: RegistryOptions
    init() throws {
        options = try RegistryOptions(dns: try DNSOptions(domain: "lucid.local"))
    }

    func kv(_ key: String, _ revision: Int64, _ value: String = "v") -> KeyValue {
        KeyValue(key: Array(key.utf8), value: Array(value.utf8), createRevision: revision, modRevision: revision, version: 1)
    }
    func put(_ key: String, _ revision: Int64, _ value: String = "v") -> WatchEvent { WatchEvent(kind: .put, kv: kv(key, revision, value)) }
    func delete(_ key: String, _ revision: Int64) -> WatchEvent {
        WatchEvent(kind: .delete, kv: KeyValue(key: Array(key.utf8), modRevision: revision))
    }
    func text(_ observed: ObservedKey?) -> String? { observed.map { String(decoding: $0.value, as: UTF8.self) } }

    let payments = ObjectRef(namespace: "lucid", name: "payments")
    let gateway = ObjectRef(namespace: "lucid", name: "gateway")
    let entry = "/lucid/registry/lucid/payments"
    let record = "/skydns/local/lucid/lucid/payments/10-96-0-1"

    func synced(_ kvs: [KeyValue] = [], revision: Int64 = 10) -> RegistryMirrorState {
        var state = RegistryMirrorState(options: options)
        _ = state.replace(with: kvs, revision: revision)
        return state
    }

    @Test func aListGroupsKeysByTheirServiceAndCountsEntries() {
        var state = RegistryMirrorState(options: options)
        #expect(state.phase == .starting && state.prefixes == ["/lucid/registry/", "/skydns/local/lucid/"])
        let changed = state.replace(with: [
            kv(entry, 5), kv(record, 6), kv("/lucid/registry/lucid/gateway", 7),
            kv("/lucid/registry/stray", 8), kv("/lucid/registry/lucid/payments/extra", 8), kv("/skydns/local/lucid/lucid", 9),
            kv("/elsewhere/key", 9),
        ], revision: 10)
        #expect(state.isSynced)
        #expect(changed == [payments, gateway, RegistryMirrorState.strays])
        #expect(state.observed(payments).keys.sorted() == [entry, record])
        #expect(state.observed(RegistryMirrorState.strays).keys.sorted() == ["/lucid/registry/lucid/payments/extra", "/lucid/registry/stray",
                                                                             "/skydns/local/lucid/lucid"])
        #expect(state.entries == 2)
        #expect(state.delivered == [10, 10])
    }

    @Test func aRelistReportsOnlyTheServicesThatDiffer() {
        var state = synced([kv(entry, 5), kv("/lucid/registry/lucid/gateway", 7)])
        #expect(state.replace(with: [kv(entry, 5), kv("/lucid/registry/lucid/gateway", 7)], revision: 12).isEmpty)
        #expect(state.replace(with: [kv(entry, 11, "edited"), kv("/lucid/registry/lucid/gateway", 7)], revision: 12) == [payments])
        #expect(state.replace(with: [kv(entry, 11, "edited")], revision: 13) == [gateway])
        #expect(state.entries == 1 && state.observed(gateway).isEmpty)
    }

    @Test func anotherWritersChangeIsReportedAndOurEchoIsNot() {
        var state = synced([kv(entry, 5)])
        #expect(state.apply([put(entry, 11, "hand edit")]) == [payments])
        #expect(text(state.observed(payments)[entry]) == "hand edit")
        let ours = RegistryWrite.put(key: entry, value: Array("repaired".utf8), expectedModRevision: 11)
        state.wrote(ours, revision: 12)
        #expect(state.observed(payments)[entry] == ObservedKey(value: Array("repaired".utf8), modRevision: 12))
        #expect(state.apply([put(entry, 12, "repaired")]).isEmpty, "the echo of our own write")
        #expect(state.delivered[0] == 12)
    }

    @Test func theEchoOfAWriteStillInFlightIsNoNews() {
        var state = synced([kv(entry, 5), kv(record, 5)])
        let put = RegistryWrite.put(key: entry, value: Array("mine".utf8), expectedModRevision: 5)
        let delete = RegistryWrite.delete(key: record, expectedModRevision: 5)
        state.sending([put, delete])
        // The watch is faster than the transaction's answer.
        #expect(state.apply([self.put(entry, 11, "mine"), self.delete(record, 11)]).isEmpty)
        #expect(text(state.observed(payments)[entry]) == "mine" && state.observed(payments)[record] == nil)
        state.wrote(put, revision: 11)
        state.wrote(delete, revision: 11)
        #expect(state.inFlight.isEmpty)
        // Another writer's change to the same key, once ours is answered, is news again.
        #expect(state.apply([self.put(entry, 12, "mine")]) == [payments])
        // Other bytes than the write in flight are news too.
        state.sending([RegistryWrite.put(key: entry, value: Array("next".utf8), expectedModRevision: 12)])
        #expect(state.apply([self.put(entry, 13, "theirs")]) == [payments])
        state.unanswered([RegistryWrite.put(key: entry, value: Array("next".utf8), expectedModRevision: 12)])
        #expect(state.inFlight.isEmpty)
    }

    @Test func aWriteResultTheWatchHasAlreadyPassedIsIgnored() {
        var state = synced([kv(entry, 5)])
        // Our put landed at 11, then someone changed the key at 12; the watch told both first.
        #expect(state.apply([put(entry, 11, "ours"), put(entry, 12, "theirs")]) == [payments])
        state.wrote(.put(key: entry, value: Array("ours".utf8), expectedModRevision: 5), revision: 11)
        #expect(text(state.observed(payments)[entry]) == "theirs")
    }

    @Test func anOlderEventCannotUndoANewerWrite() {
        var state = synced([kv(entry, 5)])
        state.wrote(.put(key: entry, value: Array("new".utf8), expectedModRevision: 5), revision: 20)
        // Events older than our write arrive afterwards (the watch is behind).
        #expect(state.apply([put(entry, 15, "old")]).isEmpty)
        #expect(text(state.observed(payments)[entry]) == "new")
    }

    @Test func ourDeletionIsRememberedUntilTheWatchPassesIt() {
        var state = synced([kv(entry, 5)])
        state.wrote(.put(key: entry, value: Array("a".utf8), expectedModRevision: 5), revision: 11)
        state.wrote(.delete(key: entry, expectedModRevision: 11), revision: 12)
        #expect(state.observed(payments).isEmpty && state.entries == 0)
        #expect(state.deletions[entry] == 12)
        // The echo of the put (11) arrives after our delete: the key stays gone.
        #expect(state.apply([put(entry, 11, "a")]).isEmpty)
        #expect(state.observed(payments).isEmpty)
        // The echo of the delete passes the deletion: forgotten.
        #expect(state.apply([delete(entry, 12)]).isEmpty)
        #expect(state.deletions.isEmpty)
        // A later put by someone else is a change.
        #expect(state.apply([put(entry, 13, "b")]) == [payments])
        #expect(state.entries == 1)
    }

    @Test func aProgressNotificationAlsoForgetsDeletions() {
        var state = synced([kv(record, 5)])
        state.wrote(.delete(key: record, expectedModRevision: 5), revision: 11)
        state.progressed(prefix: 1, to: 10)
        #expect(state.deletions[record] == 11)
        state.progressed(prefix: 1, to: 11)
        #expect(state.deletions.isEmpty)
    }

    @Test func aDeletionByAnotherWriterIsReported() {
        var state = synced([kv(entry, 5), kv(record, 5)])
        #expect(state.apply([delete(record, 11)]) == [payments])
        #expect(state.observed(payments).keys.sorted() == [entry])
        #expect(state.apply([delete(entry, 12)]) == [payments])
        #expect(state.observed(payments).isEmpty && state.entries == 0 && !state.owners.contains(payments))
        #expect(state.apply([delete("/lucid/registry/lucid/nothing", 13)]).isEmpty, "a key never seen")
    }

    @Test func aRefusedTransactionTellsTheKeysAsTheyAre() {
        var state = synced([kv(entry, 5)])
        state.saw(entry, kv(entry, 9, "theirs"), revision: 11)
        #expect(state.observed(payments)[entry] == ObservedKey(value: Array("theirs".utf8), modRevision: 9))
        state.saw(entry, nil as KeyValue?, revision: 12)
        #expect(state.observed(payments).isEmpty && state.entries == 0)
        // What the transaction read at 12 stands against older events still coming.
        #expect(state.apply([put(entry, 9, "theirs")]).isEmpty)
        #expect(state.observed(payments).isEmpty)
    }

    @Test func keysAreParkedUntilTheViewIsCurrentAndThenHandedBack() {
        var state = RegistryMirrorState(options: options)
        #expect(state.park(payments) == .starting)
        let first = state.replace(with: [], revision: 3)
        #expect(first == [payments])
        #expect(state.park(payments) == nil, "current: plan now")
        #expect(state.lose("unavailable").isEmpty)
        #expect(state.park(gateway) == .lost("unavailable"))
        #expect(state.replace(with: [], revision: 4) == [gateway])
        #expect(state.parked.isEmpty && state.isSynced)
    }

    @Test func keysParkedBeforeAFailureAreHandedBackOnceToHearOfIt() {
        var state = RegistryMirrorState(options: options)
        #expect(state.park(payments) == .starting)
        #expect(state.lose("authenticationFailed") == [payments])
        #expect(state.park(payments) == .lost("authenticationFailed"))
        #expect(state.lose("authenticationFailed").isEmpty, "still lost: nothing new to tell")
        #expect(state.replace(with: [], revision: 2) == [payments])
    }

    @Test func keysOutsideThePrefixesAreNotHeld() {
        var state = synced()
        #expect(state.apply([put("/lucid/registryX/a/b", 11, "x")]).isEmpty)
        state.wrote(.put(key: "/other/key", value: [1], expectedModRevision: 0), revision: 12)
        #expect(state.owners.isEmpty)
    }

    @Test func aNamespacedOperatorOwnsOnlyItsNamespace() {
        var state = RegistryMirrorState(options: options, namespace: "lucid")
        #expect(state.prefixes == ["/lucid/registry/lucid/", "/skydns/local/lucid/lucid/"])
        #expect(state.scope == [.prefix("/lucid/registry/lucid/"), .prefix("/skydns/local/lucid/lucid/")])
        _ = state.replace(with: [kv(entry, 5), kv("/lucid/registry/other/svc", 6), kv("/lucid/registry/lucid/a/b", 7)], revision: 10)
        #expect(state.owners.sorted() == [RegistryMirrorState.strays, payments])
        #expect(state.entries == 1)
    }

    @Test func theEntryCountFollowsEveryPath() {
        var state = synced([kv(entry, 5), kv(record, 5), kv("/lucid/registry/stray", 5)])
        #expect(state.entries == 1)
        _ = state.apply([put("/lucid/registry/lucid/gateway", 11, "g"), put(entry, 12, "again")])
        #expect(state.entries == 2)
        state.wrote(.delete(key: "/lucid/registry/lucid/gateway", expectedModRevision: 11), revision: 13)
        state.saw(entry, nil as KeyValue?, revision: 14)
        #expect(state.entries == 0)
        state.saw(entry, kv(entry, 15, "back"), revision: 15)
        #expect(state.entries == 1)
    }
}
