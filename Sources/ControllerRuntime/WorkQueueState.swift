/// The work queue as a value: which keys wait, which are being worked on, which changed while
/// being worked on, which wait for a time, and how often each has failed. No clock: instants
/// come in with the calls.
///
/// Rules (controller-runtime's): a key waits at most once (dedup); a key being worked on is not
/// handed out again, but if added meanwhile it is queued again when done; failures back off
/// per key (5 ms doubling to 1000 s) and, across all keys, through a token bucket (10 retries a
/// second, bursts of 100), whichever waits longer; success forgets the failures.
public struct WorkQueueState<Key: Hashable & Sendable>: Sendable {
    public enum Outcome: Sendable, Equatable {
        case success
        case requeueAfter(Duration)
        case failure
    }

    private(set) var queue: [Key] = []
    private var head = 0
    private(set) var queued: Set<Key> = []
    private(set) var processing: Set<Key> = []
    private(set) var dirty: Set<Key> = []
    private(set) var failures: [Key: Int] = [:]
    private(set) var delayed: [Key: ContinuousClock.Instant] = [:]
    public var backoff: Backoff
    public var retryBucket: TokenBucket
    private(set) var shuttingDown = false

    public init(backoff: Backoff = .workQueue, retryBucket: TokenBucket = .retries) {
        self.backoff = backoff
        self.retryBucket = retryBucket
    }

    /// Keys waiting to be handed out.
    public var depth: Int { queue.count - head }
    public var isProcessing: Bool { !processing.isEmpty }

    /// Queues `key` unless it already waits. Returns whether it was newly queued.
    @discardableResult
    public mutating func add(_ key: Key) -> Bool {
        guard !shuttingDown else { return false }
        if processing.contains(key) {
            dirty.insert(key)
            return false
        }
        guard queued.insert(key).inserted else { return false }
        delayed[key] = nil
        queue.append(key)
        return true
    }

    /// Queues `key` at `instant` (keeping the earlier time if it is already scheduled).
    public mutating func add(_ key: Key, at instant: ContinuousClock.Instant) {
        guard !shuttingDown, !queued.contains(key) else { return }
        if let existing = delayed[key], existing <= instant { return }
        delayed[key] = instant
    }

    /// Moves keys whose time has come into the queue.
    public mutating func promote(now: ContinuousClock.Instant) {
        for (key, instant) in delayed where instant <= now {
            delayed[key] = nil
            add(key)
        }
    }

    /// The earliest scheduled instant, if any.
    public var nextDeadline: ContinuousClock.Instant? { delayed.values.min() }

    /// Hands out the next key and marks it as being worked on.
    public mutating func take() -> Key? {
        guard head < queue.count else { return nil }
        let key = queue[head]
        head += 1
        if head > 1024 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
        queued.remove(key)
        processing.insert(key)
        return key
    }

    /// Records how work on `key` ended and schedules what follows.
    public mutating func done(_ key: Key, _ outcome: Outcome, now: ContinuousClock.Instant) {
        processing.remove(key)
        switch outcome {
        case .success:
            failures[key] = nil
        case .requeueAfter(let delay):
            failures[key] = nil
            add(key, at: now + delay)
        case .failure:
            let n = (failures[key] ?? 0) + 1
            failures[key] = n
            add(key, at: now + max(backoff.delay(failures: n), retryBucket.reserve(now: now)))
        }
        if dirty.remove(key) != nil { add(key) }
    }

    /// Failures recorded for `key` (for metrics and tests).
    public func failureCount(_ key: Key) -> Int { failures[key] ?? 0 }

    /// Stops accepting keys; what is queued is dropped.
    public mutating func shutDown() {
        shuttingDown = true
        queue = []
        head = 0
        queued = []
        delayed = [:]
    }
}

/// A token bucket as a value: `rate` tokens a second up to `burst`; each reservation takes one
/// and says how long to wait for it (zero while tokens are left). Time comes in with the calls.
public struct TokenBucket: Sendable, Equatable {
    public var rate: Double
    public var burst: Double
    private var tokens: Double
    private var last: ContinuousClock.Instant?

    public init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = Double(burst)
        tokens = Double(burst)
    }

    /// controller-runtime's default for retries: 10 a second, bursts of 100.
    public static let retries = TokenBucket(rate: 10, burst: 100)

    /// Takes a token (possibly one not there yet) and returns the wait until it is.
    public mutating func reserve(now: ContinuousClock.Instant) -> Duration {
        if let last {
            let elapsed = now - last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            tokens = min(burst, tokens + seconds * rate)
        }
        last = now
        tokens -= 1
        guard tokens < 0 else { return .zero }
        return .nanoseconds(Int64((-tokens / rate * 1e9).rounded(.up)))
    }
}
