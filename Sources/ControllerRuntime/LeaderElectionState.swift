/// Leader election on a Lease as a value (client-go's rules): a replica acquires a lease that
/// is absent, released, or not renewed within its duration as observed locally; the leader
/// renews every retry period and gives up when it has not renewed within the renew deadline.
/// Time comes in with the calls.
public struct LeaderElectionState: Sendable, Equatable {
    public struct Record: Sendable, Equatable {
        public var holder: String?
        public var leaseDuration: Duration
        public var renewTime: String?
        public var transitions: Int
        public init(holder: String?, leaseDuration: Duration, renewTime: String?, transitions: Int) {
            self.holder = holder
            self.leaseDuration = leaseDuration
            self.renewTime = renewTime
            self.transitions = transitions
        }
    }

    public enum Action: Sendable, Equatable {
        /// Write the lease as ours (create it if absent).
        case acquire
        case renew
        /// Someone else holds it; look again later.
        case standBy
    }

    public let identity: String
    public var leaseDuration: Duration
    public var renewDeadline: Duration
    public var retryPeriod: Duration

    public private(set) var isLeader = false
    /// The record last read, and when (locally) it last changed.
    private var observed: Record?
    private var observedAt: ContinuousClock.Instant?
    private var lastRenew: ContinuousClock.Instant?

    public init(identity: String, leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10),
                retryPeriod: Duration = .seconds(2)) {
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
    }

    /// What to do, given the lease as just read (nil: it does not exist).
    public mutating func decide(_ record: Record?, now: ContinuousClock.Instant) -> Action {
        if record != observed {
            observed = record
            observedAt = now
        }
        if isLeader {
            return .renew
        }
        guard let record, let holder = record.holder, !holder.isEmpty else { return .acquire }
        if holder == identity { return .acquire }
        if let observedAt, now - observedAt >= record.leaseDuration { return .acquire }
        return .standBy
    }

    /// The lease was written as ours.
    public mutating func succeeded(now: ContinuousClock.Instant) {
        isLeader = true
        lastRenew = now
    }

    /// Writing failed (conflict or error). Returns true when leadership is now lost: a leader
    /// that has not renewed within the renew deadline must stop.
    public mutating func failed(now: ContinuousClock.Instant) -> Bool {
        guard isLeader else { return false }
        if let lastRenew, now - lastRenew < renewDeadline { return false }
        isLeader = false
        return true
    }

    /// Someone else holds the lease (a conflict proved it): a leader stops at once.
    public mutating func lost() {
        isLeader = false
    }
}
