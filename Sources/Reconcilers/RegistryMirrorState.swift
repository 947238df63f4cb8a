import ControllerRuntime
import EtcdClient
import Registry

/// What the registry controller knows of etcd, as a value: every key under the operator's
/// prefixes with its bytes and mod revision, grouped by the Service whose scope holds it (keys
/// no Service could have written are "strays", under `strays`), and whether that view is
/// current.
///
/// It is fed by a list, by the watches of the prefixes, and by the controller's own writes
/// (read your writes), which may arrive in any order. The rules that keep it right:
/// - a key's state only moves forward: a change at a revision not newer than the key's mod
///   revision, or than a deletion known for it, changes nothing;
/// - the result of a write at revision R is taken only while the watch of its prefix has not
///   delivered R yet; once it has, the watch already told (the echo, or a newer change);
/// - a deletion learnt from a write is remembered until the watch passes its revision, so an
///   older event still on its way cannot bring the key back;
/// - a list replaces everything at once and forgets those deletions.
///
/// Every change reports the Services it touched, for the work queue. Keys of Services waiting
/// for etcd are parked while the view is not current and handed back when it is again.
struct RegistryMirrorState: Sendable {
    enum Phase: Sendable, Equatable {
        /// The first list has not completed.
        case starting
        /// Listed, and watched since.
        case synced
        /// etcd failed (a list, a watch, or a write); a relist is pending.
        case lost(String)
    }

    /// The work-queue key of the strays: the keys under the prefixes that belong to no Service.
    static let strays = ObjectRef(namespace: "", name: "")

    let options: RegistryOptions
    /// The owned prefixes, in a fixed order (one watch each).
    let prefixes: [String]
    private(set) var phase: Phase = .starting
    private(set) var groups: [ObjectRef: [String: ObservedKey]] = [:]
    /// Keys that are Service entries (not DNS records, not strays).
    private(set) var entries = 0
    /// The highest revision each prefix's watch (or the last list) has delivered.
    private(set) var delivered: [Int64]
    private(set) var deletions: [String: Int64] = [:]
    private(set) var parked: Set<ObjectRef> = []
    /// Writes sent and not answered yet: their echo on the watch is no news.
    private(set) var inFlight: [String: RegistryWrite] = [:]

    /// Over everything the operator owns (`ServiceRegistry.ownedScope`), or with `namespace`
    /// only that namespace's part of it (an operator scoped to one namespace owns no more).
    init(options: RegistryOptions, namespace: String? = nil) {
        self.options = options
        let owned = ServiceRegistry.ownedScope(options).compactMap { if case .prefix(let p) = $0 { p } else { nil } }
        prefixes = namespace.map { ns in owned.map { $0 + ns + "/" } } ?? owned
        delivered = Array(repeating: 0, count: prefixes.count)
    }

    /// The scope a plan for the strays covers: every owned prefix.
    var scope: [KeyScope] { prefixes.map(KeyScope.prefix) }

    var isSynced: Bool { phase == .synced }

    /// The key's group: its Service, or the strays.
    func owner(of key: String) -> ObjectRef {
        guard let (namespace, name) = ServiceRegistry.owner(ofKey: key, options: options) else { return Self.strays }
        return ObjectRef(namespace: namespace, name: name)
    }

    /// What etcd holds for `ref` (the strays for `strays`).
    func observed(_ ref: ObjectRef) -> [String: ObservedKey] { groups[ref] ?? [:] }

    /// Every Service with keys in etcd, and the strays when there are any.
    var owners: [ObjectRef] { Array(groups.keys) }

    /// The index of the prefix holding `key` (nil outside every prefix).
    func prefixIndex(of key: String) -> Int? { prefixes.firstIndex { key.hasPrefix($0) } }

    // MARK: changes

    /// A list of every prefix at `revision`: replaces the view, which is current from now on.
    /// Returns the Services whose keys differ from before, and the parked ones.
    mutating func replace(with kvs: [KeyValue], revision: Int64) -> Set<ObjectRef> {
        var fresh: [ObjectRef: [String: ObservedKey]] = [:]
        var count = 0
        for kv in kvs {
            let key = kv.keyText
            guard prefixIndex(of: key) != nil else { continue }
            let ref = owner(of: key)
            fresh[ref, default: [:]][key] = ObservedKey(value: kv.value, modRevision: kv.modRevision)
            if isEntry(key, ref) { count += 1 }
        }
        var changed = parked
        for (ref, keys) in fresh where groups[ref] != keys { changed.insert(ref) }
        for ref in groups.keys where fresh[ref] == nil { changed.insert(ref) }
        groups = fresh
        entries = count
        delivered = Array(repeating: revision, count: prefixes.count)
        deletions = [:]
        parked = []
        phase = .synced
        return changed
    }

    /// Events a prefix's watch delivered, in order. Returns the Services they changed.
    mutating func apply(_ events: [WatchEvent]) -> Set<ObjectRef> {
        var changed = Set<ObjectRef>()
        for event in events {
            let key = event.kv.keyText
            guard let index = prefixIndex(of: key) else { continue }
            let revision = event.kv.modRevision
            delivered[index] = max(delivered[index], revision)
            let moved = switch event.kind {
            case .put: set(key, ObservedKey(value: event.kv.value, modRevision: revision))
            case .delete: remove(key, at: revision, remember: false)
            }
            // The echo of a write still in flight is what that write's reconcile wants: no news.
            let ours = inFlight[key].map { $0.value == (event.kind == .put ? event.kv.value : nil) } ?? false
            if let moved, !ours { changed.insert(moved) }
        }
        forgetDeletions()
        return changed
    }

    /// A progress notification of the watch of prefix `index`: every change up to `revision`
    /// has been delivered.
    mutating func progressed(prefix index: Int, to revision: Int64) {
        guard delivered.indices.contains(index) else { return }
        delivered[index] = max(delivered[index], revision)
        forgetDeletions()
    }

    /// Writes of ours about to be sent.
    mutating func sending(_ writes: [RegistryWrite]) {
        for write in writes { inFlight[write.key] = write }
    }

    /// Writes of ours that got no answer (etcd failed): what they did is learnt from the next list.
    mutating func unanswered(_ writes: [RegistryWrite]) {
        for write in writes { inFlight[write.key] = nil }
    }

    /// A write of ours that etcd applied at `revision`.
    mutating func wrote(_ write: RegistryWrite, revision: Int64) {
        inFlight[write.key] = nil
        guard let index = prefixIndex(of: write.key), revision > delivered[index] else { return }
        if let value = write.value {
            set(write.key, ObservedKey(value: value, modRevision: revision))
        } else {
            remove(write.key, at: revision, remember: true)
        }
    }

    /// A key as a refused transaction read it at `revision` (nil: it does not exist).
    mutating func saw(_ key: String, _ current: KeyValue?, revision: Int64) {
        inFlight[key] = nil
        guard let index = prefixIndex(of: key), revision > delivered[index] else { return }
        if let current {
            set(key, ObservedKey(value: current.value, modRevision: current.modRevision))
        } else {
            remove(key, at: revision, remember: true)
        }
    }

    /// etcd failed (`reason`: a short code): the view may be behind until the next list.
    /// Returns the parked keys when the view was current or starting until now, so they are
    /// seen again (and told that etcd is away) rather than waiting silently.
    mutating func lose(_ reason: String) -> Set<ObjectRef> {
        let wasLost = if case .lost = phase { true } else { false }
        phase = .lost(reason)
        return wasLost ? [] : parked
    }

    /// Parks `ref` when the view is not current and returns the phase (do not plan from this
    /// view); nil when it is current.
    mutating func park(_ ref: ObjectRef) -> Phase? {
        guard !isSynced else { return nil }
        parked.insert(ref)
        return phase
    }

    // MARK: steps

    /// A Service's entry (not one of its DNS records, not a stray), given the key's owner.
    private func isEntry(_ key: String, _ owner: ObjectRef) -> Bool { owner != Self.strays && key.hasPrefix(options.prefix) }

    /// Stores `observed` unless the key already holds that revision or a newer one (or a newer
    /// deletion). Returns the key's owner when anything changed.
    @discardableResult
    private mutating func set(_ key: String, _ observed: ObservedKey) -> ObjectRef? {
        if let deleted = deletions[key] {
            guard observed.modRevision > deleted else { return nil }
            deletions[key] = nil
        }
        let ref = owner(of: key)
        let current = groups[ref]?[key]
        if let current, current.modRevision >= observed.modRevision { return nil }
        groups[ref, default: [:]][key] = observed
        if current == nil, isEntry(key, ref) { entries += 1 }
        return ref
    }

    /// Removes the key if it is older than `revision`; with `remember`, keeps the deletion until
    /// the watch passes it. Returns the key's owner when anything changed.
    @discardableResult
    private mutating func remove(_ key: String, at revision: Int64, remember: Bool) -> ObjectRef? {
        if remember { deletions[key] = max(deletions[key] ?? 0, revision) }
        let ref = owner(of: key)
        guard let current = groups[ref]?[key], current.modRevision < revision else { return nil }
        groups[ref]?[key] = nil
        if groups[ref]?.isEmpty == true { groups[ref] = nil }
        if isEntry(key, ref) { entries -= 1 }
        return ref
    }

    private mutating func forgetDeletions() {
        guard !deletions.isEmpty else { return }
        deletions = deletions.filter { key, revision in
            guard let index = prefixIndex(of: key) else { return false }
            return revision > delivered[index]
        }
    }
}
