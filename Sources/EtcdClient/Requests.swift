/// A read of a key or a range of keys (`/v3/kv/range`).
public struct RangeRequest: Sendable, Equatable {
    public enum SortOrder: String, Sendable { case none = "NONE", ascending = "ASCEND", descending = "DESCEND" }
    public enum SortTarget: String, Sendable {
        case key = "KEY", version = "VERSION", createRevision = "CREATE", modRevision = "MOD", value = "VALUE"
    }

    public var range: KeyRange
    /// Most keys returned; 0 for no limit. `RangeResponse.more` says whether keys were left out.
    public var limit: Int64
    /// The store as of this revision; 0 for the latest.
    public var revision: Int64
    public var sortOrder: SortOrder
    public var sortTarget: SortTarget
    /// Served by the member that receives it, without a quorum round: faster, possibly stale.
    public var serializable: Bool
    public var keysOnly: Bool
    public var countOnly: Bool

    public init(_ range: KeyRange, limit: Int64 = 0, revision: Int64 = 0, sortOrder: SortOrder = .none,
                sortTarget: SortTarget = .key, serializable: Bool = false, keysOnly: Bool = false, countOnly: Bool = false) {
        self.range = range
        self.limit = limit
        self.revision = revision
        self.sortOrder = sortOrder
        self.sortTarget = sortTarget
        self.serializable = serializable
        self.keysOnly = keysOnly
        self.countOnly = countOnly
    }
}

/// A write of one key (`/v3/kv/put`).
public struct PutRequest: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    /// Lease to attach the key to (the key goes when the lease expires); 0 for none.
    public var lease: Int64
    /// Return the value the key had before.
    public var prevKV: Bool
    /// Keep the current value and change only the lease (the key must exist).
    public var ignoreValue: Bool
    /// Keep the current lease and change only the value (the key must exist).
    public var ignoreLease: Bool

    public init(key: String, value: [UInt8], lease: Int64 = 0, prevKV: Bool = false,
                ignoreValue: Bool = false, ignoreLease: Bool = false) {
        self.key = Array(key.utf8)
        self.value = value
        self.lease = lease
        self.prevKV = prevKV
        self.ignoreValue = ignoreValue
        self.ignoreLease = ignoreLease
    }
}

/// A deletion of a key or a range of keys (`/v3/kv/deleterange`).
public struct DeleteRequest: Sendable, Equatable {
    public var range: KeyRange
    /// Return the deleted keys with their values.
    public var prevKV: Bool

    public init(_ range: KeyRange, prevKV: Bool = false) {
        self.range = range
        self.prevKV = prevKV
    }
}

/// One condition of a transaction: a key's (or every key in a range's) version, create or mod
/// revision, value or lease compared with a given one.
public struct Compare: Sendable, Equatable {
    public enum Operator: String, Sendable {
        case equal = "EQUAL", greater = "GREATER", less = "LESS", notEqual = "NOT_EQUAL"
    }

    public enum Target: Sendable, Equatable {
        case version(Int64)
        case createRevision(Int64)
        /// `modRevision(0)` with `.equal` holds for a key that does not exist.
        case modRevision(Int64)
        case value([UInt8])
        case lease(Int64)
    }

    public var range: KeyRange
    public var op: Operator
    public var target: Target

    public init(_ range: KeyRange, _ op: Operator, _ target: Target) {
        self.range = range
        self.op = op
        self.target = target
    }

    /// The key was last modified at `revision` (0: the key does not exist).
    public static func modRevision(_ key: String, _ op: Operator = .equal, _ revision: Int64) -> Compare {
        Compare(.key(key), op, .modRevision(revision))
    }

    /// The key has been changed `version` times since creation (0: it does not exist).
    public static func version(_ key: String, _ op: Operator = .equal, _ version: Int64) -> Compare {
        Compare(.key(key), op, .version(version))
    }

    /// The key was created at `revision`.
    public static func createRevision(_ key: String, _ op: Operator = .equal, _ revision: Int64) -> Compare {
        Compare(.key(key), op, .createRevision(revision))
    }

    /// The key's value compared byte by byte.
    public static func value(_ key: String, _ op: Operator = .equal, _ value: [UInt8]) -> Compare {
        Compare(.key(key), op, .value(value))
    }

    /// The key is attached to `lease` (0: to none).
    public static func lease(_ key: String, _ op: Operator = .equal, _ lease: Int64) -> Compare {
        Compare(.key(key), op, .lease(lease))
    }
}

/// One operation of a transaction branch.
public enum RequestOp: Sendable, Equatable {
    case range(RangeRequest)
    case put(PutRequest)
    case delete(DeleteRequest)

    /// Reads one key.
    public static func get(_ key: String) -> RequestOp { .range(RangeRequest(.key(key))) }
    /// Writes one key.
    public static func put(_ key: String, _ value: [UInt8], lease: Int64 = 0) -> RequestOp {
        .put(PutRequest(key: key, value: value, lease: lease))
    }
    /// Deletes one key.
    public static func delete(_ key: String) -> RequestOp { .delete(DeleteRequest(.key(key))) }
}
