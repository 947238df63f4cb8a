import KubeClient
import Logging
import ServiceLifecycle
import Synchronization
import YAML

/// A reference to a namespaced (or cluster-scoped, namespace "") object: the work-queue key.
public struct ObjectRef: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public init?(_ object: JSON) {
        guard let name = object[path: "metadata", "name"]?.stringValue else { return nil }
        self.init(namespace: object[path: "metadata", "namespace"]?.stringValue ?? "", name: name)
    }

    public var description: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }
    public static func < (a: ObjectRef, b: ObjectRef) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
}

/// What an informer can be asked without knowing the type of its values: for the manager and
/// for controllers that wait on it.
public protocol InformerProtocol: Service {
    var resource: GroupVersionResource { get }
    var hasSynced: Bool { get }
    /// Returns once the first list is in the cache (or the task is cancelled).
    func waitForSync() async
}

/// One shared, typed cache of one kind of object in one scope, kept in step with the API: a
/// paginated list, then a watch from the list's version (the decisions are `ReflectorState`).
///
/// Each object is turned into a `Value` once per change, by `transform` (decode, keep only what
/// controllers read), so the cost of a change does not multiply with the controllers reading it,
/// and memory holds what is used rather than whole objects. Indexes are updated incrementally.
/// Handlers see every change, in order, after the cache holds it.
///
/// Read your own writes: `observe(_:)` puts an object a write returned into the cache at once, so
/// a controller does not act on what it has just replaced while the watch is late or down.
/// Versions only move forward: an event older than what the cache holds (by resourceVersion,
/// compared as the integers every etcd-backed server uses) changes nothing.
public final class Informer<Value: Sendable>: InformerProtocol, Sendable {
    public typealias Transform = @Sendable (JSON) -> Value
    public typealias IndexFunction = @Sendable (Value) -> [String]
    public typealias Handler = @Sendable (Change) async -> Void

    /// One change the cache saw: both sides, so mappers can enqueue what the old object affected too.
    public struct Change: Sendable {
        public enum Kind: Sendable { case added, updated, deleted }
        public var kind: Kind
        public var ref: ObjectRef
        public var old: Value?
        public var new: Value?
        /// The value as it is now (or was, for a deletion).
        public var value: Value { (new ?? old)! }
        /// Both sides that exist, old first.
        public var values: [Value] { [old, new].compactMap { $0 } }
    }

    struct Entry {
        var version: UInt64?
        var value: Value
    }

    struct State {
        var objects: [ObjectRef: Entry] = [:]
        var indexes: [String: [String: Set<ObjectRef>]] = [:]
        var synced = false
        var handlers: [Handler] = []
        var syncWaiters: [CheckedContinuation<Void, Never>] = []
    }

    public let resource: GroupVersionResource
    public let namespace: String?
    public let labelSelector: String?
    let client: KubeClient
    let transform: Transform
    let indexers: [String: IndexFunction]
    let logger: Logger
    private let state = Mutex(State())

    public init(client: KubeClient, resource: GroupVersionResource, namespace: String? = nil, labelSelector: String? = nil,
                indexers: [String: IndexFunction] = [:], logger: Logger = Logger(label: "lucid.informer"),
                transform: @escaping Transform) {
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.indexers = indexers
        self.logger = logger
        self.transform = transform
    }

    // MARK: reading

    public func get(_ ref: ObjectRef) -> Value? { state.withLock { $0.objects[ref]?.value } }
    public func list() -> [Value] { state.withLock { $0.objects.values.map(\.value) } }
    public var keys: [ObjectRef] { state.withLock { Array($0.objects.keys) } }
    public var count: Int { state.withLock { $0.objects.count } }
    /// Whether a first full list has been stored.
    public var hasSynced: Bool { state.withLock { $0.synced } }

    /// Values whose index `name` yields `value`.
    public func byIndex(_ name: String, _ value: String) -> [Value] {
        state.withLock { s in (s.indexes[name]?[value] ?? []).compactMap { s.objects[$0]?.value } }
    }

    /// Keys whose index `name` yields `value`.
    public func keys(_ name: String, _ value: String) -> [ObjectRef] {
        state.withLock { s in Array(s.indexes[name]?[value] ?? []) }
    }

    public func waitForSync() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.synced || Task.isCancelled { return true }
                    s.syncWaiters.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiters = state.withLock { s in
                defer { s.syncWaiters = [] }
                return s.syncWaiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    // MARK: changes

    /// Registers a handler; every change from then on reaches it. Register before `run`, so the
    /// first list reaches every handler.
    public func addHandler(_ handler: @escaping Handler) {
        state.withLock { $0.handlers.append(handler) }
    }

    /// Read your own writes: stores an object a write returned, when it is newer than the cached
    /// one. Handlers see the change as they would a watch event — unless `notify` is false: a
    /// controller storing the object it has just decided on needs no reconcile of its own
    /// decision (the watch event of the same version then changes nothing either). Use that only
    /// when no other controller maps this kind's changes.
    public func observe(_ object: JSON, notify: Bool = true) async {
        guard let ref = ObjectRef(object) else { return }
        let change = apply(ref, version: Self.version(object), value: transform(object), deleted: false)
        if notify { await deliver(change) }
    }

    /// Read your own deletes: drops `ref` from the cache.
    public func observeDeletion(_ ref: ObjectRef) async {
        let removed = state.withLock { s -> Change? in
            guard let old = s.objects.removeValue(forKey: ref) else { return nil }
            unindex(&s, ref, old.value)
            return Change(kind: .deleted, ref: ref, old: old.value, new: nil)
        }
        await deliver(removed)
    }

    /// Applies one watch event or write result; nil when it changes nothing (a replayed or older version).
    func apply(_ ref: ObjectRef, version: UInt64?, value: Value, deleted: Bool) -> Change? {
        state.withLock { s in
            let old = s.objects[ref]
            if let old, let have = old.version, let seen = version, seen < have || (seen == have && !deleted) { return nil }
            if let old { unindex(&s, ref, old.value) }
            if deleted {
                guard let old else { return nil }  // never cached: nothing changes
                s.objects[ref] = nil
                return Change(kind: .deleted, ref: ref, old: old.value, new: nil)
            }
            s.objects[ref] = Entry(version: version, value: value)
            index(&s, ref, value)
            return Change(kind: old == nil ? .added : .updated, ref: ref, old: old?.value, new: value)
        }
    }

    /// Replaces everything after a list, in one step; returns what changed. An object missing from
    /// the list is dropped unless the cache holds a version newer than the list (written since).
    func replace(with items: [JSON], listVersion: UInt64?) -> [Change] {
        // Only objects whose version moved are transformed again.
        let current = state.withLock { s in s.objects.mapValues(\.version) }
        var changed: [ObjectRef: Entry] = [:]
        for item in items {
            guard let ref = ObjectRef(item) else { continue }
            let version = Self.version(item)
            if let have = current[ref], let have, let version, have >= version { continue }
            changed[ref] = Entry(version: version, value: transform(item))
        }
        let listed = Set(items.compactMap(ObjectRef.init))
        return state.withLock { s in
            var changes: [Change] = []
            for (ref, old) in s.objects where !listed.contains(ref) {
                if let have = old.version, let listVersion, have > listVersion { continue }
                unindex(&s, ref, old.value)
                s.objects[ref] = nil
                changes.append(Change(kind: .deleted, ref: ref, old: old.value, new: nil))
            }
            for (ref, entry) in changed {
                let old = s.objects[ref]
                if let old, let have = old.version, let seen = entry.version, seen <= have { continue }
                if let old { unindex(&s, ref, old.value) }
                s.objects[ref] = entry
                index(&s, ref, entry.value)
                changes.append(Change(kind: old == nil ? .added : .updated, ref: ref, old: old?.value, new: entry.value))
            }
            return changes
        }
    }

    private func markSynced() {
        let waiters = state.withLock { s in
            s.synced = true
            defer { s.syncWaiters = [] }
            return s.syncWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func deliver(_ change: Change?) async {
        guard let change else { return }
        for handler in state.withLock({ $0.handlers }) { await handler(change) }
    }

    private func index(_ s: inout State, _ ref: ObjectRef, _ value: Value) {
        for (name, f) in indexers { for key in f(value) { s.indexes[name, default: [:]][key, default: []].insert(ref) } }
    }

    private func unindex(_ s: inout State, _ ref: ObjectRef, _ value: Value) {
        for (name, f) in indexers {
            for key in f(value) {
                s.indexes[name]?[key]?.remove(ref)
                if s.indexes[name]?[key]?.isEmpty == true { s.indexes[name]?[key] = nil }
            }
        }
    }

    static func version(_ object: JSON) -> UInt64? {
        object[path: "metadata", "resourceVersion"]?.stringValue.flatMap { UInt64($0) }
    }

    // MARK: the reflector loop

    /// Lists, watches, resumes, relists, backs off — until cancelled or shut down gracefully.
    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in await reflect() }
    }

    private func reflect() async {
        var reflector = ReflectorState()
        var action = reflector.start()
        while !Task.isCancelled {
            switch action {
            case .list:
                do throws(KubeError) {
                    let list = try await client.listAll(resource, namespace: namespace, options: ListOptions(labelSelector: labelSelector))
                    for change in replace(with: list.items, listVersion: UInt64(list.resourceVersion)) { await deliver(change) }
                    if !hasSynced {
                        markSynced()
                        logger.debug("informer synced", metadata: ["resource": "\(resource)", "objects": "\(list.items.count)"])
                    }
                    action = reflector.next(after: .listed(resourceVersion: list.resourceVersion), random: .random(in: 0..<1))
                } catch {
                    if Task.isCancelled { return }
                    logger.warning("list failed", metadata: ["resource": "\(resource)", "error": "\(error)"])
                    action = reflector.next(after: .listFailed, random: .random(in: 0..<1))
                }
            case .watch(let from):
                action = await watch(from: from, &reflector)
            case .wait(let delay, let then):
                try? await Task.sleep(for: delay)
                switch then {
                case .list: action = .list
                case .watch(let from): action = .watch(from: from)
                }
            }
        }
    }

    private func watch(from version: String, _ reflector: inout ReflectorState) async -> ReflectorState.Action {
        let options = WatchOptions(labelSelector: labelSelector, resourceVersion: version, allowWatchBookmarks: true,
                                   timeoutSeconds: Int.random(in: 300..<600))
        let started = ContinuousClock.now
        var delivered = 0
        func run() -> ReflectorState.WatchRun { ReflectorState.WatchRun(lasted: .now - started, delivered: delivered) }
        do throws(KubeError) {
            let stream = try await client.watch(resource, namespace: namespace, options: options)
            for try await event in stream {
                switch event.type {
                case .error:
                    if event.status?.code == 410 { return reflector.next(after: .gone, random: .random(in: 0..<1)) }
                    logger.warning("watch error", metadata: ["resource": "\(resource)", "status": "\(event.status?.message ?? "")"])
                    return reflector.next(after: .watchFailed(run()), random: .random(in: 0..<1))
                case .bookmark:
                    delivered += 1
                    if let rv = event.resourceVersion { _ = reflector.next(after: .observed(resourceVersion: rv), random: 0) }
                case .added, .modified, .deleted:
                    delivered += 1
                    if let ref = ObjectRef(event.object) {
                        await deliver(apply(ref, version: Self.version(event.object), value: transform(event.object), deleted: event.type == .deleted))
                    }
                    if let rv = event.resourceVersion { _ = reflector.next(after: .observed(resourceVersion: rv), random: 0) }
                }
            }
            return reflector.next(after: .watchEnded(run()), random: .random(in: 0..<1))
        } catch {
            if error.isGone { return reflector.next(after: .gone, random: .random(in: 0..<1)) }
            if !Task.isCancelled { logger.debug("watch dropped", metadata: ["resource": "\(resource)", "error": "\(error)"]) }
            return reflector.next(after: .watchFailed(run()), random: .random(in: 0..<1))
        }
    }
}
