import Dispatch
import Foundation
@testable import HTTP
import LoopbackServer
import Synchronization
import Testing

/// A one-shot flag shared with hooks that run on other threads.
final class OneShot: Sendable {
    private let armed = Atomic<Bool>(false)
    func arm() { armed.store(true, ordering: .sequentiallyConsistent) }
    /// True exactly once per `arm()`.
    func fire() -> Bool { armed.compareExchange(expected: true, desired: false, ordering: .sequentiallyConsistent).exchanged }
}

/// Runs blocking work on a thread of its own, so semaphores never block the test's executor.
func onThread(_ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        Thread {
            body()
            done.resume()
        }.start()
    }
}

/// The two races a review found in the libcurl loop (issue 15). Each hook holds one thread at
/// the racy point long enough for the other side to do its worst.
@Suite struct CurlLoopRaceTests {
    /// `send` used to queue under the lock and call `curl_multi_wakeup` after releasing it; a
    /// shutdown in between let the loop run `curl_multi_cleanup` first, and the wakeup then hit
    /// freed memory. Shown to fail without the fix (wakeup outside the lock): the late wakeup
    /// returned CURLM_BAD_HANDLE, so `failedWakeups` was 1 (with ASan it is a use-after-free).
    @Test(.timeLimit(.minutes(3))) func aSendNeverWakesAFreedMultiHandle() async throws {
        let window = OneShot()
        let inWindow = DispatchSemaphore(value: 0), cleanedUp = DispatchSemaphore(value: 0)
        let loop = try CurlLoop(hooks: CurlLoop.Hooks(
            beforeWakeup: {
                guard window.fire() else { return }
                inWindow.signal()
                // Give the loop every chance to free the handle before this thread wakes it.
                _ = cleanedUp.wait(timeout: .now() + .milliseconds(500))
            },
            afterCleanup: { cleanedUp.signal() }))
        let transfer = try Transfer(HTTPRequest(url: "http://127.0.0.1:1/"), mode: .buffered)
        window.arm()
        async let sent: Void = onThread { loop.send(.unpause(transfer)) }
        await onThread { inWindow.wait() }
        // With the fix this waits for the sender to leave the lock; without it, it frees the handle.
        async let stopped: Void = onThread { loop.shutdown() }
        _ = await (sent, stopped)
        #expect(loop.failedWakeups.load(ordering: .relaxed) == 0)
    }

    /// `shutdown` had the same gap: it set `shuttingDown`, released the lock, then woke the loop;
    /// a loop already awake (here: its one-second poll ending) could free the handle in between.
    /// Shown to fail without the fix: `failedWakeups` was 1.
    @Test(.timeLimit(.minutes(3))) func aShutdownNeverWakesAFreedMultiHandle() async throws {
        let window = OneShot()
        let cleanedUp = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        let loop = try CurlLoop(hooks: CurlLoop.Hooks(
            beforeWakeup: {
                guard window.fire() else { return }
                // Longer than the loop's poll timeout (1 s): it wakes by itself meanwhile.
                _ = cleanedUp.wait(timeout: .now() + .milliseconds(1500))
            },
            afterCleanup: {
                cleanedUp.signal()
                finished.signal()
            }))
        window.arm()
        await onThread { loop.shutdown(wait: false) }
        await onThread { _ = finished.wait(timeout: .now() + .seconds(10)) }
        #expect(loop.failedWakeups.load(ordering: .relaxed) == 0)
    }

    /// A cancel that lands after the caller parked but before the `.add` command queued its
    /// `.remove` first; the loop found nothing to remove, then added the transfer and sent it.
    /// Shown to fail without the fix (no cancelled check in `apply(.add)`): the server received
    /// every one of the 20 cancelled POSTs.
    @Test(.timeLimit(.minutes(3))) func aCancelBeforeTheAddNeverSendsTheRequest() async throws {
        let cancelNext = OneShot()
        let client = try HTTPClient(hooks: CurlLoop.Hooks(beforeAdd: {
            if cancelNext.fire() { withUnsafeCurrentTask { $0?.cancel() } }
        }))
        defer { client.shutdown() }
        let seen = Mutex<[String]>([])
        try await LoopbackServer.run(handler: { request, writer in
            seen.withLock { $0.append(request.uri) }
            try await writer.respond(status: 200, text: "ok")
        }) { server in
            for i in 0..<20 {
                cancelNext.arm()
                let task = Task { try await client.execute(HTTPRequest(method: .post, url: "\(server.baseURL)/cancelled/\(i)", body: [1])) }
                let result = await task.result
                #expect(throws: HTTPError.self) { try result.get() }
                if case .failure(let error) = result { #expect((error as? HTTPError)?.kind == .cancelled) }
            }
            // Commands run in order: every cancelled transfer was dealt with before this one.
            let after = try await client.execute(HTTPRequest(url: "\(server.baseURL)/after"))
            #expect(after.status == 200)
            // Had one been started anyway, it would reach the server within moments.
            let leaked: Void? = try? await waitUntil(.milliseconds(500), "a cancelled request at the server") {
                seen.withLock { $0.contains { $0.hasPrefix("/cancelled") } }
            }
            #expect(leaked == nil, "cancelled requests reached the server: \(seen.withLock { $0 })")
            #expect(seen.withLock { $0 } == ["/after"])
        }
    }
}
