/// A set of keys a plan is responsible for: observed keys in scope that nothing desires are
/// deleted; keys outside it are left alone.
public enum KeyScope: Sendable, Hashable {
    case key(String)
    /// Every key starting with this (include the trailing `/`, or `svc` would own `svc2`).
    case prefix(String)

    public func contains(_ key: String) -> Bool {
        switch self {
        case .key(let exact): key == exact
        case .prefix(let prefix): key.hasPrefix(prefix)
        }
    }

    /// Whether some key could be in both scopes.
    public func overlaps(_ other: KeyScope) -> Bool {
        switch (self, other) {
        case (.key(let a), .key(let b)): a == b
        case (.key(let k), .prefix(let p)), (.prefix(let p), .key(let k)): k.hasPrefix(p)
        case (.prefix(let a), .prefix(let b)): a.hasPrefix(b) || b.hasPrefix(a)
        }
    }
}

/// A key as read from etcd: its bytes and the revision that last changed it.
public struct ObservedKey: Sendable, Equatable {
    public var value: [UInt8]
    public var modRevision: Int64

    public init(value: [UInt8], modRevision: Int64) {
        self.value = value
        self.modRevision = modRevision
    }
}

/// One conditional write: applied only if the key still has `expectedModRevision` (0: only if
/// it does not exist), so a plan made from a stale view never overwrites a newer write.
public enum RegistryWrite: Sendable, Equatable {
    case put(key: String, value: [UInt8], expectedModRevision: Int64)
    case delete(key: String, expectedModRevision: Int64)

    public var key: String {
        switch self {
        case .put(let key, _, _), .delete(let key, _): key
        }
    }

    /// The value to write; nil for a deletion.
    public var value: [UInt8]? {
        if case .put(_, let value, _) = self { value } else { nil }
    }

    public var expectedModRevision: Int64 {
        switch self {
        case .put(_, _, let revision), .delete(_, let revision): revision
        }
    }
}

/// The minimal writes that turn what etcd holds into what is desired.
public enum RegistryPlanner {
    /// Puts for desired keys that are missing or hold other bytes, deletes for observed keys in
    /// `scope` that nothing desires; nothing for keys that are already byte-equal. Each write
    /// carries the mod revision it was planned against. Sorted by key.
    public static func plan(desired: [String: [UInt8]], observed: [String: ObservedKey], scope: [KeyScope]) -> [RegistryWrite] {
        var writes: [RegistryWrite] = []
        for (key, value) in desired {
            let current = observed[key]
            if current?.value == value { continue }
            writes.append(.put(key: key, value: value, expectedModRevision: current?.modRevision ?? 0))
        }
        for (key, current) in observed where desired[key] == nil && scope.contains(where: { $0.contains(key) }) {
            writes.append(.delete(key: key, expectedModRevision: current.modRevision))
        }
        return writes.sorted { $0.key < $1.key }
    }
}
