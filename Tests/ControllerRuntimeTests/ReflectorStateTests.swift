import ControllerRuntime
import Testing

@Suite struct ReflectorStateTests {
    @Test func listsThenWatchesFromTheListsVersion() {
        var r = ReflectorState()
        #expect(r.start() == .list)
        do { let got = r.next(after: .listed(resourceVersion: "10"), random: 0); #expect(got == .watch(from: "10")) }
    }

    @Test func resumesFromTheLastVersionSeen() {
        var r = ReflectorState()
        _ = r.next(after: .listed(resourceVersion: "10"), random: 0)
        _ = r.next(after: .observed(resourceVersion: "15"), random: 0)
        do { let got = r.next(after: .watchEnded, random: 0); #expect(got == .watch(from: "15")) }
        do { let got = r.next(after: .watchFailed, random: 0); #expect(got == .wait(.milliseconds(800), then: .watch(from: "15"))) }
    }

    @Test func relistsOnceOnGone() {
        var r = ReflectorState()
        _ = r.next(after: .listed(resourceVersion: "10"), random: 0)
        do { let got = r.next(after: .gone, random: 0); #expect(got == .list) }
        #expect(r.resourceVersion == nil)
        do { let got = r.next(after: .listFailed, random: 0); #expect(got == .wait(.milliseconds(800), then: .list)) }
        do { let got = r.next(after: .listed(resourceVersion: "40"), random: 0); #expect(got == .watch(from: "40")) }
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
        do { let got = r.next(after: .watchFailed, random: 0); #expect(got == .wait(.milliseconds(800), then: .watch(from: "1"))) }
    }
}
