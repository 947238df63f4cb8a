internal import CCurl
internal import CCurlShim
import Dispatch
import Foundation
import Synchronization

/// The one thread that owns a `CURLM` and drives every transfer of an `HTTPClient`.
///
/// Other threads never touch the multi handle: they queue a `Command` and call
/// `curl_multi_wakeup`, the one multi call libcurl allows from another thread. They call it while
/// holding the `inbox` lock, and only while the loop is not shutting down: the loop frees the
/// handle only after it has seen `shuttingDown` under that lock, so no wakeup can reach a freed
/// handle.
///
/// `@unchecked Sendable`: `multi` and `active` are used only on the loop thread, apart from
/// `curl_multi_wakeup` under the `inbox` lock; `inbox` is a `Mutex`; `finished` is a semaphore.
final class CurlLoop: @unchecked Sendable {
    enum Command {
        case add(Transfer)
        case remove(Transfer)
        case unpause(Transfer)
    }

    private struct Inbox {
        var commands: [Command] = []
        var shuttingDown = false
    }

    /// Test seams around the two races this type exists to close; empty in production.
    struct Hooks: Sendable {
        /// Runs on the calling thread just before it calls `curl_multi_wakeup`.
        var beforeWakeup: (@Sendable () -> Void)?
        /// Runs on the loop thread just after `curl_multi_cleanup`.
        var afterCleanup: (@Sendable () -> Void)?
        /// Runs on the submitting thread after the caller parked, before the `.add` is queued.
        var beforeAdd: (@Sendable () -> Void)?
    }

    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    private let multi: UnsafeMutableRawPointer
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    private let inbox = Mutex(Inbox())
    private let finished = DispatchSemaphore(value: 0)
    private let threadID = Mutex<pthread_t?>(nil)
    let hooks: Hooks
    /// `curl_multi_wakeup` calls that did not return CURLM_OK (diagnostics; 0 in a sound loop).
    let failedWakeups = Atomic<Int>(0)

    init(hooks: Hooks = Hooks()) throws(HTTPError) {
        guard CurlLoop.globalInit, let multi = curl_multi_init() else {
            throw HTTPError(kind: .setup, message: "libcurl failed to initialise", url: "")
        }
        self.multi = multi
        self.hooks = hooks
        _ = lucid_curl_multi_setopt_long(multi, CURLMOPT_PIPELINING, LUCID_CURLPIPE_MULTIPLEX)
        let thread = Thread { [self] in run() }
        thread.name = "lucid-curl-multi"
        thread.start()
    }

    /// Queues a command; false when the loop is shutting down (the caller fails the transfer).
    @discardableResult
    func send(_ command: Command) -> Bool {
        inbox.withLock { box in
            guard !box.shuttingDown else { return false }
            box.commands.append(command)
            wakeUp()
            return true
        }
    }

    /// Stops the loop: every transfer still running fails with `.shutdown`. Waits for the thread
    /// unless called from it.
    func shutdown(wait: Bool = true) {
        let first = inbox.withLock { box in
            guard !box.shuttingDown else { return false }
            box.shuttingDown = true
            wakeUp()
            return true
        }
        guard first else { return }
        let onLoop = threadID.withLock { $0.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
        if wait && !onLoop { finished.wait() }
    }

    /// Ends the loop's `curl_multi_poll` early. Only under the `inbox` lock with `shuttingDown`
    /// unset (or being set by this very critical section), so the handle is still alive.
    private func wakeUp() {
        hooks.beforeWakeup?()
        if curl_multi_wakeup(multi) != CURLM_OK { failedWakeups.add(1, ordering: .relaxed) }
    }

    private func run() {
        threadID.withLock { $0 = pthread_self() }
        while true {
            let (commands, stopping) = inbox.withLock { box in
                defer { box.commands = [] }
                return (box.commands, box.shuttingDown)
            }
            for command in commands { apply(command) }
            if stopping { break }

            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            collectFinished()
            // libcurl lowers the timeout to its own next deadline; wakeups end the wait early.
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
        for command in inbox.withLock({ $0.commands }) {
            if case .add(let transfer) = command {
                transfer.complete(code: nil, failure: HTTPError(kind: .shutdown, message: "shut down", url: transfer.url))
            }
        }
        for (easy, transfer) in active {
            curl_multi_remove_handle(multi, easy)
            transfer.complete(code: nil, failure: HTTPError(kind: .shutdown, message: "shut down", url: transfer.url))
        }
        active = [:]
        // `shuttingDown` was seen under the lock, so no thread will call `curl_multi_wakeup` again.
        curl_multi_cleanup(multi)
        hooks.afterCleanup?()
        finished.signal()
    }

    private func apply(_ command: Command) {
        switch command {
        case .add(let transfer):
            guard let easy = transfer.easy else { return }
            // A cancel that landed after the caller parked but before this command (its
            // `.remove` may even have been applied first, finding nothing) must not send.
            if transfer.isCancelled {
                transfer.complete(code: nil, failure: HTTPError(kind: .cancelled, message: "cancelled", url: transfer.url))
                return
            }
            let code = curl_multi_add_handle(multi, easy)
            if code != CURLM_OK {
                transfer.complete(code: nil, failure: HTTPError(
                    kind: .transport, curlCode: Int32(code.rawValue),
                    message: String(cString: curl_multi_strerror(code)), url: transfer.url))
                return
            }
            active[easy] = transfer
        case .remove(let transfer):
            guard let easy = transfer.easy, active.removeValue(forKey: easy) != nil else { return }
            curl_multi_remove_handle(multi, easy)
            transfer.complete(code: nil, failure: HTTPError(kind: .cancelled, message: "cancelled", url: transfer.url))
        case .unpause(let transfer):
            guard let easy = transfer.easy, active[easy] != nil else { return }
            curl_easy_pause(easy, LUCID_CURLPAUSE_CONT)
        }
    }

    private func collectFinished() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result
            guard let transfer = active.removeValue(forKey: easy) else { continue }
            curl_multi_remove_handle(multi, easy)
            transfer.complete(code: result)
        }
    }
}
