@testable import EtcdClient
import Testing

/// The endpoint-selection state machine: stickiness, skipping failed endpoints, backoff growth
/// and its cap, jitter bounds, recovery.
@Suite struct EndpointPoolTests {
    let t0 = ContinuousClock.now
    let urls = ["http://a:2379", "http://b:2379", "http://c:2379"]

    func pool() -> EndpointPool {
        EndpointPool(urls: urls, baseBackoff: .milliseconds(200), maxBackoff: .seconds(10))
    }

    @Test func aFreshPoolTriesTheEndpointsInTheirOrder() {
        #expect(pool().attemptOrder(now: t0) == [0, 1, 2])
        #expect(pool().waitForNextReady(now: t0) == .zero)
    }

    @Test func requestsStickToTheEndpointThatLastServed() {
        var p = pool()
        p.succeeded(2)
        #expect(p.preferred == 2)
        #expect(p.attemptOrder(now: t0) == [2, 0, 1])
    }

    @Test func aFailedEndpointIsTriedLastUntilItsBackoffEnds() {
        var p = pool()
        p.failed(0, now: t0, random: 0)  // 200 ms · 0.5 = 100 ms
        #expect(p.attemptOrder(now: t0) == [1, 2, 0])
        #expect(p.attemptOrder(now: t0 + .milliseconds(99)) == [1, 2, 0])
        // Backoff over: it is eligible again, in ring order from the preferred endpoint.
        #expect(p.attemptOrder(now: t0 + .milliseconds(100)) == [1, 2, 0])
        p.succeeded(0)
        #expect(p.attemptOrder(now: t0 + .milliseconds(100)) == [0, 1, 2])
    }

    @Test func theFailureOfThePreferredEndpointMovesPreferenceOn() {
        var p = pool()
        p.succeeded(1)
        p.failed(1, now: t0, random: 0)
        #expect(p.preferred == 2)
        #expect(p.attemptOrder(now: t0) == [2, 0, 1])
    }

    @Test func theFailureOfAnotherEndpointKeepsThePreference() {
        var p = pool()
        p.failed(2, now: t0, random: 0)
        #expect(p.preferred == 0)
        #expect(p.attemptOrder(now: t0) == [0, 1, 2])
    }

    @Test func backoffDoublesPerConsecutiveFailureUpToTheCap() {
        var p = pool()
        var expected: [Duration] = []
        var observed: [Duration] = []
        for failure in 1...10 {
            p.failed(0, now: t0, random: 0.999_999)
            observed.append((p.members[0].backoffUntil ?? t0) - t0)
            let full = min(Duration.milliseconds(200) * (1 << (failure - 1)), .seconds(10))
            expected.append(full)
        }
        for (seen, full) in zip(observed, expected) {
            #expect(seen <= full && seen > full * 0.99, "\(observed) vs \(expected)")
        }
        #expect(p.members[0].failures == 10)
    }

    @Test func jitterKeepsTheBackoffBetweenHalfAndAll() {
        for random in [0.0, 0.25, 0.5, 0.75, 0.999, -3, 7] {
            var p = pool()
            p.failed(1, now: t0, random: random)
            let delay = (p.members[1].backoffUntil ?? t0) - t0
            #expect(delay >= .milliseconds(100) && delay <= .milliseconds(200), "random \(random) gave \(delay)")
        }
    }

    @Test func whenAllAreBackingOffTheSoonestToRecoverComesFirst() {
        var p = pool()
        p.failed(0, now: t0, random: 0)                         // until +100 ms
        p.failed(1, now: t0, random: 0)
        p.failed(1, now: t0, random: 0)                         // until +200 ms
        p.failed(2, now: t0 - .milliseconds(60), random: 0)     // until +40 ms
        #expect(p.attemptOrder(now: t0) == [2, 0, 1])
        #expect(p.waitForNextReady(now: t0) == .milliseconds(40))
        #expect(p.attemptOrder(now: t0 + .milliseconds(50)) == [2, 0, 1])
        #expect(p.waitForNextReady(now: t0 + .milliseconds(50)) == .zero)
    }

    @Test func successClearsTheFailureRecord() {
        var p = pool()
        p.failed(1, now: t0, random: 0)
        p.failed(1, now: t0, random: 0)
        p.succeeded(1)
        #expect(p.members[1] == EndpointPool.Member(url: urls[1]))
        // The next failure starts the backoff from the base again.
        p.failed(1, now: t0, random: 0)
        #expect((p.members[1].backoffUntil ?? t0) - t0 == .milliseconds(100))
    }

    @Test func aSingleEndpointIsAlwaysTried() {
        var p = EndpointPool(urls: ["http://only:2379"])
        p.failed(0, now: t0, random: 0)
        #expect(p.attemptOrder(now: t0) == [0])
        #expect(p.preferred == 0)
    }

    @Test func unknownIndexesChangeNothing() {
        var p = pool()
        let before = p
        p.failed(7, now: t0, random: 0)
        p.succeeded(-1)
        #expect(p == before)
    }
}
