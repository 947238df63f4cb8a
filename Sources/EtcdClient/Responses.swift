/// What a range read returned.
public struct RangeResponse: Sendable, Equatable {
    public var header: ResponseHeader
    public var kvs: [KeyValue]
    /// Keys were left out because of the request's limit.
    public var more: Bool
    /// Number of keys in the range (all of them, not only those returned).
    public var count: Int64

    public init(header: ResponseHeader, kvs: [KeyValue] = [], more: Bool = false, count: Int64 = 0) {
        self.header = header
        self.kvs = kvs
        self.more = more
        self.count = count
    }
}

/// What a put returned.
public struct PutResponse: Sendable, Equatable {
    public var header: ResponseHeader
    /// The key before the put, when asked for and it existed.
    public var prevKV: KeyValue?

    public init(header: ResponseHeader, prevKV: KeyValue? = nil) {
        self.header = header
        self.prevKV = prevKV
    }
}

/// What a deletion returned.
public struct DeleteResponse: Sendable, Equatable {
    public var header: ResponseHeader
    public var deleted: Int64
    /// The deleted keys, when asked for.
    public var prevKVs: [KeyValue]

    public init(header: ResponseHeader, deleted: Int64 = 0, prevKVs: [KeyValue] = []) {
        self.header = header
        self.deleted = deleted
        self.prevKVs = prevKVs
    }
}

/// The result of one operation of a transaction, in the order of the branch that ran.
public enum ResponseOp: Sendable, Equatable {
    case range(RangeResponse)
    case put(PutResponse)
    case delete(DeleteResponse)
}

/// What a transaction returned: which branch ran, and its operations' results.
public struct TxnResponse: Sendable, Equatable {
    public var header: ResponseHeader
    /// Every comparison held, so the success branch ran (else the failure branch did).
    public var succeeded: Bool
    public var responses: [ResponseOp]

    public init(header: ResponseHeader, succeeded: Bool, responses: [ResponseOp] = []) {
        self.header = header
        self.succeeded = succeeded
        self.responses = responses
    }
}

/// The outcome of `EtcdClient.compareAndSet`.
public enum CompareAndSetResult: Sendable, Equatable {
    /// Written (or deleted) at this revision.
    case applied(revision: Int64)
    /// The key had another mod revision: nothing was written. `current` is the key as it is
    /// now (nil when it does not exist), so the caller can decide again without another read.
    case conflict(current: KeyValue?, revision: Int64)
}

/// A lease: keys attached to it are deleted when it expires.
public struct Lease: Sendable, Equatable {
    public var id: Int64
    /// Seconds the lease lives without a keep-alive, as the server granted it.
    public var ttl: Int64
    public var header: ResponseHeader
}

/// What `timeToLive` says about a lease that still exists.
public struct LeaseTimeToLive: Sendable, Equatable {
    public var id: Int64
    /// Seconds left.
    public var ttl: Int64
    /// Seconds it was granted (and is renewed to).
    public var grantedTTL: Int64
    /// Keys attached to it, when asked for.
    public var keys: [[UInt8]]
}

/// One member's view of itself (`/v3/maintenance/status`).
public struct EndpointStatus: Sendable, Equatable {
    public var endpoint: String
    public var header: ResponseHeader
    public var version: String
    public var dbSize: Int64
    /// Member id of the leader, 0 when the member knows of none.
    public var leader: UInt64
    public var raftIndex: UInt64
    public var raftTerm: UInt64
    public var raftAppliedIndex: UInt64
    /// Alarms and errors the member reports (for example "NOSPACE").
    public var errors: [String]
}
