/// A condition that did not hold in time (tests wait on conditions, never on sleeps alone).
public struct TimedOutWaiting: Error, CustomStringConvertible {
    public let what: String
    public var description: String { "timed out waiting for \(what)" }
}

/// Polls `condition` every `interval` until it holds; throws `TimedOutWaiting` after `limit`.
public func waitUntil(_ limit: Duration, _ what: String = "a condition", interval: Duration = .milliseconds(10),
                      _ condition: @Sendable () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TimedOutWaiting(what: what) }
        try await Task.sleep(for: interval)
    }
}
