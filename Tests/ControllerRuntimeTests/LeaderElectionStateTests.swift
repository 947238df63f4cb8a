import ControllerRuntime
import Testing

@Suite struct LeaderElectionStateTests {
    let t0 = ContinuousClock.now
    func record(_ holder: String?, renew: String = "r1") -> LeaderElectionState.Record {
        LeaderElectionState.Record(holder: holder, leaseDuration: .seconds(15), renewTime: renew, transitions: 0)
    }

    @Test func acquiresAnAbsentOrReleasedLease() {
        var a = LeaderElectionState(identity: "a")
        do { let got = a.decide(nil, now: t0); #expect(got == .acquire) }
        var b = LeaderElectionState(identity: "b")
        do { let got = b.decide(record(""), now: t0); #expect(got == .acquire) }
    }

    @Test func waitsForAnotherHoldersLeaseToExpireAsObservedLocally() {
        var b = LeaderElectionState(identity: "b")
        do { let got = b.decide(record("a", renew: "r1"), now: t0); #expect(got == .standBy) }
        do { let got = b.decide(record("a", renew: "r1"), now: t0 + .seconds(14)); #expect(got == .standBy) }
        // The holder renewed: the clock starts again from when that was seen.
        do { let got = b.decide(record("a", renew: "r2"), now: t0 + .seconds(14)); #expect(got == .standBy) }
        do { let got = b.decide(record("a", renew: "r2"), now: t0 + .seconds(28)); #expect(got == .standBy) }
        do { let got = b.decide(record("a", renew: "r2"), now: t0 + .seconds(29)); #expect(got == .acquire) }
    }

    @Test func aLeaderRenewsAndLosesAfterTheRenewDeadline() {
        var a = LeaderElectionState(identity: "a")
        do { let got = a.decide(nil, now: t0); #expect(got == .acquire) }
        a.succeeded(now: t0)
        #expect(a.isLeader)
        do { let got = a.decide(record("a"), now: t0 + .seconds(2)); #expect(got == .renew) }
        do { let ok = !a.failed(now: t0 + .seconds(4)); #expect(ok) }
        #expect(a.isLeader)
        do { let ok = a.failed(now: t0 + .seconds(10)); #expect(ok) }
        #expect(!a.isLeader)
    }

    @Test func aConflictEndsLeadershipAtOnce() {
        var a = LeaderElectionState(identity: "a")
        a.succeeded(now: t0)
        a.lost()
        #expect(!a.isLeader)
        do { let got = a.decide(record("b"), now: t0); #expect(got == .standBy) }
    }

    @Test func ownLeaseIsReacquiredAfterARestart() {
        var a = LeaderElectionState(identity: "a")
        do { let got = a.decide(record("a"), now: t0); #expect(got == .acquire) }
    }
}
