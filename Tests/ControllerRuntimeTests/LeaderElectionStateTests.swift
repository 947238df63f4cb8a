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

    @Test func aLeaderThatSeesAnotherValidHolderStepsDownInsteadOfRenewingOverIt() {
        var a = LeaderElectionState(identity: "a")
        _ = a.decide(nil, now: t0)
        a.succeeded(now: t0)
        do { let got = a.decide(record("a"), now: t0 + .seconds(2)); #expect(got == .renew) }
        a.succeeded(now: t0 + .seconds(2))
        // b took the lease (a was paused past its lease): a must not write over it.
        do { let got = a.decide(record("b", renew: "b1"), now: t0 + .seconds(20)); #expect(got == .standBy) }
        #expect(!a.isLeader)
        #expect(!a.mayWrite(now: t0 + .seconds(20)))
        // Not even once b's lease looks stale to a at first sight: a has seen b's record only now.
        do { let got = a.decide(record("b", renew: "b1"), now: t0 + .seconds(21)); #expect(got == .standBy) }
    }

    @Test func theRenewDeadlineBoundsAHangingAttemptAndEndsLeadership() {
        var a = LeaderElectionState(identity: "a")
        _ = a.decide(nil, now: t0)
        a.succeeded(now: t0)
        #expect(a.mayWrite(now: t0 + .seconds(9)))
        // The next attempt starts 2 s later and may take what is left of the deadline.
        #expect(a.attemptBudget(now: t0 + .seconds(2)) == .seconds(8))
        // It hangs; at the deadline the shell gives up on it: leadership ends, no more writes.
        #expect(!a.mayWrite(now: t0 + .seconds(10)))
        #expect(a.attemptBudget(now: t0 + .seconds(10)) == .zero)
        let lost = a.failed(now: t0 + .seconds(10))
        #expect(lost)
        #expect(!a.isLeader)
    }

    @Test func theWriteDeadlineIsShorterThanTheLeaseSoNoOneElseCanAcquireWhileALeaderMayWrite() {
        var a = LeaderElectionState(identity: "a")
        _ = a.decide(nil, now: t0)
        a.succeeded(now: t0)
        var b = LeaderElectionState(identity: "b")
        _ = b.decide(record("a", renew: "r1"), now: t0)
        // b may acquire only once the record has not changed for a whole lease (15 s) ...
        for second in stride(from: 0, to: 15, by: 1) {
            let got = b.decide(record("a", renew: "r1"), now: t0 + .seconds(second))
            #expect(got == .standBy)
        }
        do { let got = b.decide(record("a", renew: "r1"), now: t0 + .seconds(15)); #expect(got == .acquire) }
        // ... and a stopped writing 5 s before that.
        #expect(!a.mayWrite(now: t0 + .seconds(10)))
    }

    @Test func aCandidatesAttemptHasTheWholeDeadline() {
        let a = LeaderElectionState(identity: "a")
        #expect(a.attemptBudget(now: t0) == .seconds(10))
        #expect(!a.mayWrite(now: t0))
    }
}
