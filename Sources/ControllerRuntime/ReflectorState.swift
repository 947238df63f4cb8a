/// The reflector's decisions as a value: list, then watch from the list's version, resume from
/// the last version seen after a drop, relist on 410 Gone, back off after failures. The shell
/// performs the actions and reports what happened, with how long a watch lasted and how many
/// events it delivered (no clock in here).
///
/// Rules:
/// - A watch that lasted at least `healthyAfter` or delivered anything (an event or a bookmark)
///   was healthy: the failure count starts again from zero before its end is judged, so a watch
///   that is cut now and then reconnects after the first backoff step, not after a grown one.
/// - A watch that ends (cleanly or not) sooner than `healthyAfter` with nothing delivered is a
///   failure and backs off (0.8 s → 30 s, jitter), like a failed list.
/// - A server that ends a healthy watch cleanly (timeoutSeconds) is watched again at once.
/// - 410 Gone relists after a short backoff of its own (`relist`, 0.5 s → 2 s, jitter): never in a
///   tight loop, yet a cache that can only be refreshed by relisting stays a few seconds fresh.
public struct ReflectorState: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        case list
        case watch(from: String)
        case wait(Duration, then: Next)
    }

    public enum Next: Sendable, Equatable { case list, watch(from: String) }

    /// How a watch went: how long it was open and how many events and bookmarks it delivered.
    public struct WatchRun: Sendable, Equatable {
        public var lasted: Duration
        public var delivered: Int
        public init(lasted: Duration, delivered: Int) {
            self.lasted = lasted
            self.delivered = delivered
        }
    }

    public enum Event: Sendable, Equatable {
        /// A complete (paginated) list arrived at `resourceVersion`; the cache was replaced.
        case listed(resourceVersion: String)
        case listFailed
        /// A watch delivered an event (or bookmark) at `resourceVersion`.
        case observed(resourceVersion: String)
        /// The server ended the watch cleanly (timeoutSeconds).
        case watchEnded(WatchRun)
        /// The connection dropped or the watch could not be opened.
        case watchFailed(WatchRun)
        /// The version is too old (410 Gone / Expired).
        case gone
    }

    public private(set) var resourceVersion: String?
    /// Consecutive failures of lists and watches.
    public private(set) var failures = 0
    /// Consecutive 410s without a healthy watch in between.
    public private(set) var gones = 0
    public var backoff: Backoff
    public var relist: Backoff
    public var healthyAfter: Duration

    public init(backoff: Backoff = .reflector, relist: Backoff = .relist, healthyAfter: Duration = .seconds(1)) {
        self.backoff = backoff
        self.relist = relist
        self.healthyAfter = healthyAfter
    }

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
            gones = 0
            return .watch(from: rv)  // only meaningful if the stream ends; the shell keeps reading
        case .watchEnded(let run):
            if healthy(run) {
                failures = 0
                gones = 0
                guard let rv = resourceVersion else { return .list }
                return .watch(from: rv)
            }
            return failed(random: random)
        case .watchFailed(let run):
            if healthy(run) {
                failures = 0
                gones = 0
            }
            return failed(random: random)
        case .gone:
            resourceVersion = nil
            gones += 1
            return .wait(relist.delay(failures: gones, random: random), then: .list)
        }
    }

    private func healthy(_ run: WatchRun) -> Bool { run.delivered > 0 || run.lasted >= healthyAfter }

    private mutating func failed(random: Double) -> Action {
        failures += 1
        let then: Next = resourceVersion.map { .watch(from: $0) } ?? .list
        return .wait(backoff.delay(failures: failures, random: random), then: then)
    }
}
