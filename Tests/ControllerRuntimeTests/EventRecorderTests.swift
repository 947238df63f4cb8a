@testable import ControllerRuntime
import KubeClient
import Testing

@Suite struct EventRecorderTests {
    let t0 = ContinuousClock.now

    func recorder(remembered: Int = 100) throws -> EventRecorder {
        // Never asked to send here: only the admission rules are under test.
        EventRecorder(client: try KubeClient(config: KubeConfig(server: "http://127.0.0.1:9")), instance: "test", window: .seconds(300),
                      burst: 3, remembered: remembered)
    }

    @Test func theSameNoteAboutTheSameObjectIsWrittenOncePerWindow() throws {
        let r = try recorder()
        #expect(r.admit("uid-1", "Updated\u{0}rewrote", now: t0))
        #expect(!r.admit("uid-1", "Updated\u{0}rewrote", now: t0 + .seconds(10)))
        #expect(r.admit("uid-2", "Updated\u{0}rewrote", now: t0 + .seconds(10)))
        #expect(r.admit("uid-1", "Updated\u{0}rewrote", now: t0 + .seconds(301)))
    }

    @Test func atMostBurstEventsPerObjectPerWindow() throws {
        let r = try recorder()
        let admitted = (0..<10).filter { r.admit("uid-1", "note \($0)", now: t0) }
        #expect(admitted.count == 3)
    }

    @Test func whatItRemembersIsBounded() throws {
        let r = try recorder(remembered: 100)
        for i in 0..<10_000 { _ = r.admit("uid-\(i)", "note", now: t0 + .milliseconds(i)) }
        #expect(r.rememberedCount <= 100)
        // Forgetting the oldest never lets the newest repeat itself.
        #expect(!r.admit("uid-9999", "note", now: t0 + .seconds(10)))
    }
}
