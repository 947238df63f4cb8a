/// The header of every etcd response: which member answered, and the store's revision then.
public struct ResponseHeader: Sendable, Equatable {
    public var clusterID: UInt64
    public var memberID: UInt64
    /// The key-value store's revision when the request was served.
    public var revision: Int64
    public var raftTerm: UInt64

    public init(clusterID: UInt64 = 0, memberID: UInt64 = 0, revision: Int64 = 0, raftTerm: UInt64 = 0) {
        self.clusterID = clusterID
        self.memberID = memberID
        self.revision = revision
        self.raftTerm = raftTerm
    }
}

/// A key as etcd stores it: value, the revisions that created and last modified it, and the
/// lease it is attached to (0 when none).
public struct KeyValue: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    public var createRevision: Int64
    /// The revision of the last change; what a compare-and-set compares.
    public var modRevision: Int64
    /// Number of changes since creation (1 for a new key); reset by deletion.
    public var version: Int64
    public var lease: Int64

    public init(key: [UInt8], value: [UInt8] = [], createRevision: Int64 = 0, modRevision: Int64 = 0,
                version: Int64 = 0, lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }

    /// The key as UTF-8 text (invalid sequences replaced).
    public var keyText: String { String(decoding: key, as: UTF8.self) }
    /// The value as UTF-8 text (invalid sequences replaced).
    public var valueText: String { String(decoding: value, as: UTF8.self) }
}

/// A set of keys: one key, or the half-open interval `[start, end)` of keys.
///
/// etcd's conventions: an `end` of a single zero byte means "every key from `start` on", and a
/// prefix is the interval up to the prefix with its last byte incremented.
public struct KeyRange: Sendable, Hashable {
    public var start: [UInt8]
    /// nil for the single key `start`.
    public var end: [UInt8]?

    public init(start: [UInt8], end: [UInt8]?) {
        self.start = start
        self.end = end
    }

    /// Exactly this key.
    public static func key(_ key: String) -> KeyRange { KeyRange(start: Array(key.utf8), end: nil) }

    /// Every key that starts with `prefix` (every key at all for an empty prefix).
    public static func prefix(_ prefix: String) -> KeyRange {
        let start = Array(prefix.utf8)
        return KeyRange(start: start.isEmpty ? [0] : start, end: prefixEnd(start))
    }

    /// The keys from `start` (included) to `end` (excluded).
    public static func interval(from start: String, to end: String) -> KeyRange {
        KeyRange(start: Array(start.utf8), end: Array(end.utf8))
    }

    /// Every key from `start` on.
    public static func from(_ start: String) -> KeyRange { KeyRange(start: Array(start.utf8), end: [0]) }

    /// Every key.
    public static let all = KeyRange(start: [0], end: [0])

    /// Whether `key` is in the range.
    public func contains(_ key: [UInt8]) -> Bool {
        guard let end else { return key == start }
        guard !key.lexicographicallyPrecedes(start) else { return false }
        return end == [0] || key.lexicographicallyPrecedes(end)
    }

    /// The smallest key greater than every key starting with `prefix`: the prefix with its last
    /// byte below 0xff incremented (and what follows dropped); `[0]` (no upper bound) when every
    /// byte is 0xff or the prefix is empty.
    static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }
}
