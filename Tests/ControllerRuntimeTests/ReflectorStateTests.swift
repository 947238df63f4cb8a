import ControllerRuntime
import Testing

@Suite struct ReflectorStateTests {
    typealias Run = ReflectorState.WatchRun
    let quick = Run(lasted: .milliseconds(200), delivered: 0)
    let healthy = Run(lasted: .seconds(3), delivered: 0)

    @Test func listsThenWatchesFromTheListsVersion() {
        var r = ReflectorState()
        #expect(r.start() == .list)
        let got = r.next(after: .listed(resourceVersion: "10"), random: 0)
        #expect(got == .watch(from: "10"))
    }

    @Test func resumesFromTheLastVersionSeen() {
        var r = ReflectorState()
        _ = r.next(after: .listed(resourceVersion: "10"), random: 0)
        _ = r.next(after: .observed(resourceVersion: "15"), random: 0)
        let ended = r.next(after: .watchEnded(healthy), random: 0)
        #expect(ended == .watch(from: "15"))
        let dropped = r.next(after: .watchFailed(healthy), random: 0)
        #expect(dropped == .wait(.milliseconds(800), then: .watch(from: "15")))
    }

    @Test func aHealthyWatchResetsTheBackoffWithoutAnyEvent() {
        var r = ReflectorState()
        _ = r.next(after: .listed(resourceVersion: "10"), random: 0)
        for _ in 0..<5 { _ = r.next(after: .watchFailed(quick), random: 0) }
        #expect(r.failures == 5)
        // Open for 3 s, then cut, with nothing delivered (an idle cluster): the first step again.
        let got = r.next(after: .watchFailed(healthy), random: 0)
        #expect(got == .wait(.milliseconds(800), then: .watch(from: "10")))
        #expect(r.failures == 1)
    }

    @Test func aWatchThatEventsKeepAliveCountsAsHealthyHoweverShort() {
        var r = ReflectorState()
        _ = r.next(after: .listed(resourceVersion: "10"), random: 0)
        for _ in 0..<4 { _ = r.next(after: .watchFailed(quick), random: 0) }
        let got = r.next(after: .watchFailed(Run(lasted: .milliseconds(100), delivered: 2)), random: 0)
        #expect(got == .wait(.milliseconds(800), then: .watch(from: "10")))
    }

    @Test func aWatchClosingCleanlyInUnderASecondWithNothingIsAFailure() {
        var r = ReflectorState()
        _ = r.next(after: .listed(resourceVersion: "10"), random: 0)
        let waits = (1...4).map { _ -> Duration in
            guard case .wait(let d, .watch(from: "10")) = r.next(after: .watchEnded(quick), random: 0) else { return .zero }
            return d
        }
        #expect(waits == [.milliseconds(800), .milliseconds(1600), .milliseconds(3200), .milliseconds(6400)])
        // A server ending a healthy watch (timeoutSeconds) is watched again at once.
        let again = r.next(after: .watchEnded(healthy), random: 0)
        #expect(again == .watch(from: "10"))
        #expect(r.failures == 0)
    }

    @Test func goneRelistsAfterAShortGrowingBackoffThatAHealthyWatchResets() {
        var r = ReflectorState()
        _ = r.next(after: .listed(resourceVersion: "10"), random: 0)
        var waits: [Duration] = []
        for i in 0..<4 {
            guard case .wait(let d, .list) = r.next(after: .gone, random: 0) else { Issue.record("no wait before relist"); return }
            #expect(r.resourceVersion == nil)
            waits.append(d)
            _ = r.next(after: .listed(resourceVersion: "\(20 + i)"), random: 0)
        }
        // Never a tight loop, never longer than 2 s (3 s with jitter): a cache that only relists stays fresh.
        #expect(waits == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(2)])
        guard case .wait(let jittered, .list) = r.next(after: .gone, random: 0.999) else { Issue.record("no wait"); return }
        #expect(jittered <= .seconds(3))
        _ = r.next(after: .listed(resourceVersion: "30"), random: 0)
        _ = r.next(after: .watchEnded(healthy), random: 0)
        let reset = r.next(after: .gone, random: 0)
        #expect(reset == .wait(.milliseconds(500), then: .list))
    }

    @Test func backoffGrowsTo30sWithJitterAndResetsOnSuccess() {
        var r = ReflectorState()
        let waits = (1...8).map { _ -> Duration in
            guard case .wait(let d, _) = r.next(after: .listFailed, random: 0) else { return .zero }
            return d
        }
        #expect(waits == [.milliseconds(800), .milliseconds(1600), .milliseconds(3200), .milliseconds(6400),
                          .milliseconds(12800), .milliseconds(25600), .seconds(30), .seconds(30)])
        guard case .wait(let jittered, _) = r.next(after: .listFailed, random: 0.5) else { Issue.record("no wait"); return }
        #expect(jittered == .seconds(45))  // 30 s · (1 + 1.0·0.5)
        _ = r.next(after: .listed(resourceVersion: "1"), random: 0)
        #expect(r.failures == 0)
        let got = r.next(after: .watchFailed(quick), random: 0)
        #expect(got == .wait(.milliseconds(800), then: .watch(from: "1")))
    }
}
