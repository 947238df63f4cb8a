@testable import ControllerRuntime
import APIServer
import Foundation
import KubeClient
import LoopbackServer
import Logging
import ServiceLifecycle
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

/// Running as a service, the recorder sends from its own task; on graceful shutdown it sends
/// what is still queued.
@Suite struct EventRecorderServiceTests {
    @Test func queuedEventsAreSentOffThePathAndDrainedOnShutdown() async throws {
        try await APIServer.run { server in
            let client = try KubeClient(config: KubeConfig(server: server.url))
            let recorder = EventRecorder(client: client, instance: "test")
            let service = try await client.create(.services, namespace: "default",
                                                  ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "s"], "spec": ["ports": [["port": 80]]]])
            let regarding = try #require(ObjectReference(service))
            let group = ServiceGroup(configuration: .init(services: [.init(service: recorder)], logger: Logger(label: "test")))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                // Queued only once the recorder runs; wait for that by its first event arriving.
                try await waitUntil(.seconds(30), "the recorder to run") {
                    await recorder.record(regarding: regarding, reason: "Probe", action: "Test", note: "probe \(UUID())")
                    return try await client.list(.events, namespace: "default").items.count > 0
                }
                for i in 0..<50 { await recorder.record(regarding: regarding, reason: "Step", action: "Test", note: "step \(i)") }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                // The burst limit (25 per object per window) admits what it admits; all of that was sent.
                let sent = try await client.list(.events, namespace: "default").items.count
                #expect(sent == 25, "sent \(sent) events")
            }
        }
    }
}
