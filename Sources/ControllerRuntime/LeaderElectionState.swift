/// Leader election on a Lease as a value (client-go's rules). Time comes in with the calls.
///
/// - A replica never acquires or renews a lease that another identity holds while it is valid:
///   valid means its record changed less than `leaseDuration` ago, as observed locally (clocks of
///   different machines are never compared).
/// - It acquires a lease that is absent, released (no holder), its own (after a restart), or
///   expired.
/// - A leader that reads another valid holder has lost: it steps down at once.
/// - A leader renews every retry period; its leadership is good only until `renewDeadline` after
///   its last successful renewal. The shell bounds every attempt by that deadline
///   (`attemptBudget`) and, past it, stops writing (`mayWrite`) and stands down. Because the
///   deadline (10 s) is shorter than the lease (15 s), a leader stops writing before anyone else
///   may acquire the lease.
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
        /// Someone else holds it (or it could not be read); look again later.
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
    /// When the lease was last written as ours.
    public private(set) var lastRenew: ContinuousClock.Instant?

    public init(identity: String, leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10),
                retryPeriod: Duration = .seconds(2)) {
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
    }

    /// What to do, given the lease as just read (nil: it does not exist).
    public mutating func decide(_ record: Record?, now: ContinuousClock.Instant) -> Action {
        if record != observed || observedAt == nil {
            observed = record
            observedAt = now
        }
        guard let record, let holder = record.holder, !holder.isEmpty, holder != identity else {
            return isLeader ? .renew : .acquire
        }
        if let observedAt, now - observedAt < record.leaseDuration {
            // Another identity holds a valid lease: never write over it. A leader has lost.
            isLeader = false
            return .standBy
        }
        return isLeader ? .renew : .acquire
    }

    /// The lease was written as ours.
    public mutating func succeeded(now: ContinuousClock.Instant) {
        isLeader = true
        lastRenew = now
    }

    /// An attempt failed (an error, a timeout). Returns true when leadership is now lost: a
    /// leader that has not renewed within the renew deadline must stop.
    public mutating func failed(now: ContinuousClock.Instant) -> Bool {
        guard isLeader else { return false }
        if mayWrite(now: now) { return false }
        isLeader = false
        return true
    }

    /// Someone else wrote the lease first (a conflict proved it): a leader stops at once.
    public mutating func lost() {
        isLeader = false
    }

    /// Whether a leader may still write at `now`: before the renew deadline after its last
    /// renewal. False for a replica that does not lead.
    public func mayWrite(now: ContinuousClock.Instant) -> Bool {
        guard isLeader, let lastRenew else { return false }
        return now - lastRenew < renewDeadline
    }

    /// How long the next attempt (read and write of the lease) may take: for a leader, what is
    /// left of the renew deadline; for a candidate, the renew deadline.
    public func attemptBudget(now: ContinuousClock.Instant) -> Duration {
        guard isLeader, let lastRenew else { return renewDeadline }
        return max(.zero, lastRenew + renewDeadline - now)
    }
}
