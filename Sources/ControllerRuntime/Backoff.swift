/// Exponential backoff: `initial`, doubling, capped at `maximum`; with jitter, a wait is drawn
/// from [d, d·(1+jitter)) (as client-go's wait.Backoff), from a random number passed in.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    public var jitter: Double

    public init(initial: Duration, maximum: Duration, jitter: Double = 0) {
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
    }

    /// Per-item work-queue backoff: 5 ms → 1000 s, no jitter (controller-runtime's default).
    public static let workQueue = Backoff(initial: .milliseconds(5), maximum: .seconds(1000))
    /// Reflector reconnects: 0.8 s → 30 s with jitter (client-go's).
    public static let reflector = Backoff(initial: .milliseconds(800), maximum: .seconds(30), jitter: 1.0)
    /// Relists after 410 Gone: 0.5 s → 2 s with jitter, so a server that expires every resumed
    /// watch costs a list every few seconds, not a tight loop, and the cache stays fresh.
    public static let relist = Backoff(initial: .milliseconds(500), maximum: .seconds(2), jitter: 0.5)

    /// The wait after `failures` consecutive failures (1 = the first). `random` is in [0, 1).
    public func delay(failures: Int, random: Double = 0) -> Duration {
        guard failures > 0 else { return .zero }
        var d = initial
        for _ in 1..<min(failures, 64) {
            d = d * 2
            if d >= maximum { break }
        }
        d = min(d, maximum)
        return jitter > 0 ? min(d * (1 + jitter * random), maximum * (1 + jitter)) : d
    }
}
