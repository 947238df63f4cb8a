/// The reflector's decisions as a value: list, then watch from the list's version, resume from
/// the last version seen after a drop, relist once on 410 Gone, back off (0.8 s → 30 s, jitter)
/// after failures. The shell performs the actions and reports what happened.
public struct ReflectorState: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        case list
        case watch(from: String)
        case wait(Duration, then: Next)
    }

    public enum Next: Sendable, Equatable { case list, watch(from: String) }

    public enum Event: Sendable, Equatable {
        /// A complete (paginated) list arrived at `resourceVersion`; the cache was replaced.
        case listed(resourceVersion: String)
        case listFailed
        /// A watch delivered an event (or bookmark) at `resourceVersion`.
        case observed(resourceVersion: String)
        /// The server ended the watch cleanly (timeoutSeconds).
        case watchEnded
        /// The connection dropped or the watch could not be opened.
        case watchFailed
        /// The version is too old (410 Gone / Expired).
        case gone
    }

    public private(set) var resourceVersion: String?
    public private(set) var failures = 0
    public var backoff: Backoff

    public init(backoff: Backoff = .reflector) { self.backoff = backoff }

    /// The first action.
    public func start() -> Action { .list }

    /// What to do after `event`; `random` in [0, 1) draws the jitter.
    public mutating func next(after event: Event, random: Double) -> Action {
        switch event {
        case .listed(let rv):
            resourceVersion = rv
            failures = 0
            return .watch(from: rv)
        case .listFailed:
            failures += 1
            return .wait(backoff.delay(failures: failures, random: random), then: .list)
        case .observed(let rv):
            resourceVersion = rv
            failures = 0
            return .watch(from: rv)  // only meaningful if the stream ends; the shell keeps reading
        case .watchEnded:
            guard let rv = resourceVersion else { return .list }
            return .watch(from: rv)
        case .watchFailed:
            failures += 1
            let then: Next = resourceVersion.map { .watch(from: $0) } ?? .list
            return .wait(backoff.delay(failures: failures, random: random), then: then)
        case .gone:
            // Relist at once, once; a failing relist backs off through listFailed.
            resourceVersion = nil
            return .list
        }
    }
}
