import Metrics

/// The work queue's I/O shell: workers wait in `next()`, the timer promotes scheduled keys.
/// All rules live in `WorkQueueState`.
public actor WorkQueue<Key: Hashable & Sendable> {
    private var state: WorkQueueState<Key>
    private var waiters: [CheckedContinuation<Key?, Never>] = []
    private var stopped = false
    public let name: String
    private let depthGauge: Gauge?
    private let adds: Counter?
    private let retries: Counter?

    /// With `metrics`, reports `workqueue_depth`, `workqueue_adds_total` and
    /// `workqueue_retries_total` labelled with `name`.
    public init(name: String, backoff: Backoff = .workQueue, metrics: Bool = false) {
        self.name = name
        state = WorkQueueState(backoff: backoff)
        depthGauge = metrics ? Gauge(label: "workqueue_depth", dimensions: [("name", name)]) : nil
        adds = metrics ? Counter(label: "workqueue_adds_total", dimensions: [("name", name)]) : nil
        retries = metrics ? Counter(label: "workqueue_retries_total", dimensions: [("name", name)]) : nil
    }

    public var depth: Int { state.depth }

    public func add(_ key: Key) {
        if state.add(key) { adds?.increment() }
        wake()
        depthGauge?.record(state.depth)
    }

    public func add(_ key: Key, after delay: Duration) {
        state.add(key, at: .now + delay)
    }

    /// The next key to work on; nil once the queue is shut down.
    public func next() async -> Key? {
        state.promote(now: .now)
        if let key = state.take() {
            depthGauge?.record(state.depth)
            return key
        }
        if stopped { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    public func done(_ key: Key, _ outcome: WorkQueueState<Key>.Outcome) {
        if outcome == .failure { retries?.increment() }
        state.done(key, outcome, now: .now)
        wake()
    }

    public func failures(_ key: Key) -> Int { state.failureCount(key) }

    public func shutDown() {
        stopped = true
        state.shutDown()
        let waiting = waiters
        waiters = []
        for w in waiting { w.resume(returning: nil) }
    }

    private func wake() {
        while !waiters.isEmpty, let key = state.take() { waiters.removeFirst().resume(returning: key) }
    }

    /// Promotes keys whose time has come, until cancelled. Run it beside the workers.
    public func runTimer() async {
        while !Task.isCancelled && !stopped {
            state.promote(now: .now)
            wake()
            let wait = state.nextDeadline.map { max(.milliseconds(1), min($0 - .now, .milliseconds(100))) } ?? .milliseconds(100)
            try? await Task.sleep(for: wait)
        }
    }
}
