import KubeClient
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

/// One change the cache saw: both sides, so mappers can enqueue what the old object affected too.
public struct CacheChange: Sendable {
    public enum Kind: Sendable { case added, updated, deleted }
    public var kind: Kind
    public var old: JSON?
    public var new: JSON?
    /// The object as it is now (or was, for a deletion).
    public var object: JSON { new ?? old ?? .null }
}

/// Objects of one kind by key, with secondary indexes; `managedFields` is dropped on the way in.
public final class ObjectCache: Sendable {
    public typealias IndexFunction = @Sendable (JSON) -> [String]

    private struct State {
        var objects: [ObjectRef: JSON] = [:]
        var indexes: [String: [String: Set<ObjectRef>]] = [:]
        var synced = false
    }

    private let state = Mutex(State())
    private let indexers: [String: IndexFunction]

    public init(indexers: [String: IndexFunction] = [:]) { self.indexers = indexers }

    public func get(_ ref: ObjectRef) -> JSON? { state.withLock { $0.objects[ref] } }
    public func list() -> [JSON] { state.withLock { Array($0.objects.values) } }
    public var count: Int { state.withLock { $0.objects.count } }
    /// Whether a first full list has been stored.
    public var hasSynced: Bool { state.withLock { $0.synced } }

    /// Objects whose index `name` yields `value`.
    public func byIndex(_ name: String, _ value: String) -> [JSON] {
        state.withLock { s in (s.indexes[name]?[value] ?? []).compactMap { s.objects[$0] } }
    }

    /// Replaces everything (after a list) in one step; returns what changed.
    func replace(with items: [JSON]) -> [CacheChange] {
        let fresh = Dictionary(items.compactMap { o in ObjectRef(o).map { ($0, Self.strip(o)) } }, uniquingKeysWith: { $1 })
        return state.withLock { s in
            var changes: [CacheChange] = []
            for (ref, old) in s.objects where fresh[ref] == nil { changes.append(CacheChange(kind: .deleted, old: old, new: nil)) }
            for (ref, new) in fresh {
                if let old = s.objects[ref] {
                    if old != new { changes.append(CacheChange(kind: .updated, old: old, new: new)) }
                } else {
                    changes.append(CacheChange(kind: .added, old: nil, new: new))
                }
            }
            s.objects = fresh
            s.indexes = [:]
            for (ref, object) in fresh { index(&s, ref, object) }
            s.synced = true
            return changes
        }
    }

    /// Applies one watch event; nil when it changes nothing (a replayed version).
    func apply(_ type: WatchEvent.EventType, _ object: JSON) -> CacheChange? {
        guard let ref = ObjectRef(object) else { return nil }
        let new = Self.strip(object)
        return state.withLock { s in
            let old = s.objects[ref]
            if let old { unindex(&s, ref, old) }
            switch type {
            case .deleted:
                s.objects[ref] = nil
                return old.map { CacheChange(kind: .deleted, old: $0, new: nil) } ?? CacheChange(kind: .deleted, old: new, new: nil)
            case .added, .modified:
                s.objects[ref] = new
                index(&s, ref, new)
                if old == new { return nil }
                return CacheChange(kind: old == nil ? .added : .updated, old: old, new: new)
            default:
                if let old { index(&s, ref, old) }
                return nil
            }
        }
    }

    private func index(_ s: inout State, _ ref: ObjectRef, _ object: JSON) {
        for (name, f) in indexers { for value in f(object) { s.indexes[name, default: [:]][value, default: []].insert(ref) } }
    }

    private func unindex(_ s: inout State, _ ref: ObjectRef, _ object: JSON) {
        for (name, f) in indexers { for value in f(object) { s.indexes[name]?[value]?.remove(ref) } }
    }

    static func strip(_ object: JSON) -> JSON {
        guard object[path: "metadata", "managedFields"] != nil else { return object }
        var o = object
        o["metadata"]?["managedFields"] = nil
        return o
    }
}
