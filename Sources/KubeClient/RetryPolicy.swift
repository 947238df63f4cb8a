import Foundation

/// When and how long to wait before sending a failed request again.
///
/// 429 is always retried (the server did not act on the request), after `Retry-After` when the
/// server sent one. 5xx and transport failures are retried only for idempotent verbs (GET, PUT,
/// DELETE) — except failures to connect, where nothing was sent. Waits grow exponentially from
/// `baseDelay` to `maxDelay` with jitter (a random point in the upper half).
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// Longest `Retry-After` honoured as given; longer ones are cut to this.
    public var maxRetryAfter: Duration

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(10),
                maxRetryAfter: Duration = .seconds(30)) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    public static let none = RetryPolicy(maxAttempts: 1)

    /// The wait before attempt `attempt + 1`, or nil to give up. `attempt` counts from 1.
    func delay(afterAttempt attempt: Int, status: Int?, retryAfter: String?, idempotent: Bool, connectFailure: Bool,
               random: Double) -> Duration? {
        guard attempt < maxAttempts else { return nil }
        let retryable: Bool
        switch status {
        case 429?: retryable = true
        case let s? where s >= 500: retryable = idempotent
        case nil: retryable = idempotent || connectFailure
        default: retryable = false
        }
        guard retryable else { return nil }
        if let retryAfter, let seconds = Int(retryAfter.trimmingCharacters(in: .whitespaces)), seconds >= 0 {
            return min(.seconds(seconds), maxRetryAfter)
        }
        let exponential = baseDelay * (1 << min(attempt - 1, 20))
        let capped = min(exponential, maxDelay)
        return capped * (0.5 + random / 2)
    }
}
