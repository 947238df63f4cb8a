import ControllerRuntime
import Testing

@Suite struct TokenBucketTests {
    let t0 = ContinuousClock.now

    @Test func aBurstIsFreeThenRetriesAreSpacedByTheRate() {
        var bucket = TokenBucket(rate: 10, burst: 100)
        let burst = (0..<100).map { _ in bucket.reserve(now: t0) }
        #expect(burst.allSatisfy { $0 == .zero })
        // The 101st waits one token's time (100 ms at 10 a second), the next two.
        #expect(bucket.reserve(now: t0) == .milliseconds(100))
        #expect(bucket.reserve(now: t0) == .milliseconds(200))
    }

    @Test func tokensComeBackWithTimeUpToTheBurst() {
        var bucket = TokenBucket(rate: 10, burst: 5)
        for _ in 0..<5 { _ = bucket.reserve(now: t0) }
        #expect(bucket.reserve(now: t0 + .milliseconds(500)) == .zero)  // 5 tokens back, one taken
        // A long quiet spell refills to the burst, no more.
        for _ in 0..<5 { #expect(bucket.reserve(now: t0 + .seconds(100)) == .zero) }
        #expect(bucket.reserve(now: t0 + .seconds(100)) == .milliseconds(100))
    }

    @Test func aFailingKeyWaitsForTheLongerOfItsBackoffAndTheBucket() {
        var q = WorkQueueState<Int>(retryBucket: TokenBucket(rate: 10, burst: 2))
        for key in 0..<4 { q.add(key) }
        for _ in 0..<4 { _ = q.take() }
        for key in 0..<4 { q.done(key, .failure, now: t0) }
        // Two retries ride the burst (5 ms per-key backoff); the next two wait for the bucket.
        q.promote(now: t0 + .milliseconds(5))
        #expect(q.depth == 2)
        q.promote(now: t0 + .milliseconds(100))
        #expect(q.depth == 3)
        q.promote(now: t0 + .milliseconds(200))
        #expect(q.depth == 4)
    }
}
