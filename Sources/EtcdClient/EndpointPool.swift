/// Which etcd endpoint a request goes to, and which ones are skipped for a while.
///
/// Requests stick to one endpoint (the preferred one) while it serves. An endpoint that fails
/// (unreachable, timed out, no leader) backs off exponentially — `baseBackoff` doubling up to
/// `maxBackoff`, with jitter — and is tried only after every endpoint that is not backing off.
/// A success clears its record and makes it the preferred one. Pure: time and randomness are
/// passed in.
struct EndpointPool: Sendable, Equatable {
    struct Member: Sendable, Equatable {
        var url: String
        var failures = 0
        /// Until when the endpoint is skipped; nil when it is not backing off.
        var backoffUntil: ContinuousClock.Instant?
    }

    private(set) var members: [Member]
    private(set) var preferred = 0
    let baseBackoff: Duration
    let maxBackoff: Duration

    init(urls: [String], baseBackoff: Duration = .milliseconds(200), maxBackoff: Duration = .seconds(10)) {
        members = urls.map { Member(url: $0) }
        self.baseBackoff = baseBackoff
        self.maxBackoff = maxBackoff
    }

    /// The order in which to try the endpoints: the preferred one, then the others in ring
    /// order, those not backing off first; those backing off last, the soonest to end first.
    func attemptOrder(now: ContinuousClock.Instant) -> [Int] {
        let ring = (0..<members.count).map { (preferred + $0) % members.count }
        let until = { (i: Int) in members[i].backoffUntil ?? now }
        let ready = ring.filter { until($0) <= now }
        let waiting = ring.filter { until($0) > now }.sorted { (until($0), $0) < (until($1), $1) }
        return ready + waiting
    }

    /// How long until some endpoint is out of backoff (zero when one already is).
    func waitForNextReady(now: ContinuousClock.Instant) -> Duration {
        let ends = members.map { $0.backoffUntil ?? now }
        guard let soonest = ends.min(), soonest > now else { return .zero }
        return soonest - now
    }

    /// The endpoint served a request.
    mutating func succeeded(_ index: Int) {
        guard members.indices.contains(index) else { return }
        members[index].failures = 0
        members[index].backoffUntil = nil
        preferred = index
    }

    /// The endpoint failed to serve: it backs off for `base · 2^(failures-1)` (capped), scaled by
    /// a jitter factor in [0.5, 1) from `random` ∈ [0, 1). The preferred endpoint moves on.
    mutating func failed(_ index: Int, now: ContinuousClock.Instant, random: Double) {
        guard members.indices.contains(index) else { return }
        members[index].failures += 1
        let doubling = baseBackoff * (1 << min(members[index].failures - 1, 20))
        let delay = min(doubling, maxBackoff) * (0.5 + min(max(random, 0), 1) / 2)
        members[index].backoffUntil = now + delay
        if index == preferred { preferred = (index + 1) % members.count }
    }
}
