import Synchronization

/// What a watcher has not written yet. Producers append under the store's lock; the watch
/// connection takes everything pending at once, so a watcher that falls behind catches up with
/// one write instead of one per event.
final class WatchBuffer: Sendable {
    private struct State {
        var items: [WatchItem] = []
        var waiter: CheckedContinuation<Void, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    func yield(_ item: WatchItem) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.finished else { return nil }
            s.items.append(item)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Everything pending, waiting for at least one item; empty once finished or cancelled.
    func takeAll() async -> [WatchItem] {
        while true {
            let batch = state.withLock { s -> [WatchItem]? in
                if !s.items.isEmpty {
                    defer { s.items = [] }
                    return s.items
                }
                return s.finished ? [] : nil
            }
            if let batch { return batch }
            if Task.isCancelled { return [] }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let ready = state.withLock { s -> Bool in
                        if !s.items.isEmpty || s.finished { return true }
                        s.waiter = c
                        return false
                    }
                    if ready { c.resume() }
                }
            } onCancel: {
                self.finish()
            }
        }
    }
}
