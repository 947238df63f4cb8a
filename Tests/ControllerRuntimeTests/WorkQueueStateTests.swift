import ControllerRuntime
import Testing

@Suite struct WorkQueueStateTests {
    let t0 = ContinuousClock.now

    @Test func addsAreDeduplicated() {
        var q = WorkQueueState<String>()
        do { let ok = q.add("a"); #expect(ok) }
        do { let ok = !q.add("a"); #expect(ok) }
        do { let ok = q.add("b"); #expect(ok) }
        #expect(q.depth == 2)
        do { let got = q.take(); #expect(got == "a") }
        do { let got = q.take(); #expect(got == "b") }
        do { let got = q.take(); #expect(got == nil) }
    }

    @Test func aKeyIsNeverHandedOutTwiceAtOnceAndRunsAgainIfItChangedMeanwhile() {
        var q = WorkQueueState<String>()
        q.add("a")
        do { let got = q.take(); #expect(got == "a") }
        do { let ok = !q.add("a"); #expect(ok) }  // in flight: remembered, not queued
        do { let got = q.take(); #expect(got == nil) }
        q.done("a", .success, now: t0)
        do { let got = q.take(); #expect(got == "a") }  // re-queued because it changed while in flight
        q.done("a", .success, now: t0)
        do { let got = q.take(); #expect(got == nil) }
    }

    @Test func failuresBackOffPerKeyFrom5msTo1000s() {
        var q = WorkQueueState<String>()
        q.add("a")
        var expected = Duration.milliseconds(5)
        for n in 1...20 {
            let now = t0 + .seconds(n * 10_000)
            let key = q.take()
            #expect(key == "a")
            q.done("a", .failure, now: now)
            #expect(q.failureCount("a") == n)
            #expect(q.nextDeadline == now + expected, "failure \(n)")
            q.promote(now: now + expected - .nanoseconds(1))
            #expect(q.depth == 0)
            q.promote(now: now + expected)
            #expect(q.depth == 1)
            expected = min(expected * 2, .seconds(1000))
        }
        _ = q.take()
        q.done("a", .success, now: t0)
        #expect(q.failureCount("a") == 0)
    }

    @Test func requeueAfterSchedulesWithoutCountingAFailure() {
        var q = WorkQueueState<String>()
        q.add("a")
        _ = q.take()
        q.done("a", .requeueAfter(.seconds(30)), now: t0)
        #expect(q.failureCount("a") == 0)
        #expect(q.nextDeadline == t0 + .seconds(30))
        q.add("a", at: t0 + .seconds(60))  // a later time does not postpone it
        #expect(q.nextDeadline == t0 + .seconds(30))
        q.add("a")  // an immediate add wins
        #expect(q.nextDeadline == nil)
        do { let got = q.take(); #expect(got == "a") }
    }

    @Test func shutDownDropsEverything() {
        var q = WorkQueueState<String>()
        q.add("a")
        q.add("b", at: t0 + .seconds(1))
        q.shutDown()
        do { let got = q.take(); #expect(got == nil) }
        do { let ok = !q.add("c"); #expect(ok) }
        #expect(q.nextDeadline == nil)
    }
}
