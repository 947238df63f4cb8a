import KubeClient
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import YAML

/// What a reconcile asks for next.
public enum ReconcileResult: Sendable, Equatable {
    case done
    case requeueAfter(Duration)
}

/// A controller: changes in shared informers map to keys; workers reconcile keys from the work
/// queue. Workers start only once every informer the controller reads has synced, so a reconcile
/// never acts on a partial cache. A `Service`: it runs until cancelled or shut down gracefully,
/// letting the reconciles in flight finish.
public final class Controller: Service, Sendable {
    public let name: String
    public let queue: WorkQueue<ObjectRef>
    let informers: [any InformerProtocol]
    let workers: Int
    let reconcile: @Sendable (ObjectRef) async throws -> ReconcileResult
    let logger: Logger
    private let activity = Mutex((completed: 0, inFlight: 0))

    /// Reconciles finished so far and in flight now (what tells the heap trimmer the work settled).
    public var progress: (completed: Int, inFlight: Int) { activity.withLock { $0 } }

    /// `reads` are every informer the reconcile reads (watched or not); `watch` registers how
    /// their changes become keys (see `watches(_:keys:)`).
    public init(name: String, workers: Int = 2, reads: [any InformerProtocol], logger: Logger = Logger(label: "lucid.controller"),
                reconcile: @escaping @Sendable (ObjectRef) async throws -> ReconcileResult) {
        self.name = name
        self.queue = WorkQueue(name: name, metrics: true)
        self.informers = reads
        self.workers = workers
        self.reconcile = reconcile
        self.logger = logger
    }

    /// Maps every change of `informer` to keys of this controller. Call before the informer runs.
    @discardableResult
    public func watches<Value>(_ informer: Informer<Value>, keys: @escaping @Sendable (Informer<Value>.Change) -> [ObjectRef]) -> Controller {
        let queue = self.queue
        informer.addHandler { change in
            for key in keys(change) { await queue.add(key) }
        }
        return self
    }

    /// Whether every informer it reads has listed once.
    public var hasSynced: Bool { informers.allSatisfy(\.hasSynced) }

    static func nanoseconds(_ d: Duration) -> Int64 { d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000 }

    private func record(_ result: String) {
        Counter(label: "controller_runtime_reconcile_total", dimensions: [("controller", name), ("result", result)]).increment()
    }

    public func run() async throws {
        let queue = self.queue
        // Wait for the caches; graceful shutdown or cancellation ends the wait.
        let synced: Bool = await cancelWhenGracefulShutdown { [informers] in
            for informer in informers { await informer.waitForSync() }
            return !Task.isCancelled
        }
        guard synced else {
            await queue.shutDown()
            return
        }
        logger.info("caches synced; starting workers", metadata: ["controller": "\(name)", "workers": "\(workers)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await queue.runTimer() }
            // Graceful shutdown (or cancellation) stops the queue: workers finish the key in hand.
            group.addTask {
                try? await gracefulShutdown()
                await queue.shutDown()
            }
            await withTaskGroup(of: Void.self) { pool in
                for _ in 0..<workers { pool.addTask { [self] in await work(queue) } }
            }
            await queue.shutDown()
            group.cancelAll()
        }
    }

    private func work(_ queue: WorkQueue<ObjectRef>) async {
        let timer = Metrics.Timer(label: "controller_runtime_reconcile_time_seconds", dimensions: [("controller", name)])
        while let key = await queue.next() {
            activity.withLock { $0.inFlight += 1 }
            defer { activity.withLock { $0.inFlight -= 1; $0.completed += 1 } }
            let started = ContinuousClock.now
            do {
                switch try await reconcile(key) {
                case .done:
                    await queue.done(key, .success)
                    record("success")
                case .requeueAfter(let d):
                    await queue.done(key, .requeueAfter(d))
                    record("requeue_after")
                }
            } catch {
                if Task.isCancelled { return }
                logger.info("reconcile failed", metadata: ["controller": "\(name)", "key": "\(key)", "error": "\(error)"])
                await queue.done(key, .failure)
                record("error")
            }
            timer.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - started))
        }
    }
}
