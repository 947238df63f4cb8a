/// The work queue's I/O shell: workers wait in `next()`, the timer promotes scheduled keys.
/// All rules live in `WorkQueueState`.
public actor WorkQueue<Key: Hashable & Sendable> {
    private var state: WorkQueueState<Key>
    private var waiters: [CheckedContinuation<Key?, Never>] = []
    private var stopped = false
    public let name: String
    private let onAdd: (@Sendable (Int) -> Void)?

    /// `onAdd` sees the depth after each add (for `workqueue_depth` / `workqueue_adds_total`).
    public init(name: String, backoff: Backoff = .workQueue, onAdd: (@Sendable (Int) -> Void)? = nil) {
        self.name = name
        state = WorkQueueState(backoff: backoff)
        self.onAdd = onAdd
    }

    public var depth: Int { state.depth }

    public func add(_ key: Key) {
        if state.add(key) { onAdd?(state.depth) }
        wake()
    }

    public func add(_ key: Key, after delay: Duration) {
        state.add(key, at: .now + delay)
    }

    /// The next key to work on; nil once the queue is shut down.
    public func next() async -> Key? {
        state.promote(now: .now)
        if let key = state.take() { return key }
        if stopped { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    public func done(_ key: Key, _ outcome: WorkQueueState<Key>.Outcome) {
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
