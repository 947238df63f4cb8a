import KubeClient
import Logging
import Metrics
import ServiceLifecycle
import YAML

/// What a reconcile asks for next.
public enum ReconcileResult: Sendable, Equatable {
    case done
    case requeueAfter(Duration)
}

/// A controller: reflectors fill caches, their changes map to keys, workers reconcile keys
/// from the work queue. A `Service`: it runs until cancelled or shut down gracefully.
public final class Controller: Service, Sendable {
    /// One watched kind and how its changes map to work-queue keys.
    public struct Source: Sendable {
        public var reflector: Reflector
        public var keys: @Sendable (CacheChange) -> [ObjectRef]

        public init(_ reflector: Reflector, keys: @escaping @Sendable (CacheChange) -> [ObjectRef]) {
            self.reflector = reflector
            self.keys = keys
        }
    }

    public let name: String
    public let queue: WorkQueue<ObjectRef>
    let sources: [Source]
    let workers: Int
    let reconcile: @Sendable (ObjectRef) async throws -> ReconcileResult
    let logger: Logger

    public init(name: String, workers: Int = 2, sources: [Source], logger: Logger = Logger(label: "lucid.controller"),
                reconcile: @escaping @Sendable (ObjectRef) async throws -> ReconcileResult) {
        self.name = name
        self.queue = WorkQueue(name: name, metrics: true)
        self.sources = sources
        self.workers = workers
        self.reconcile = reconcile
        self.logger = logger
    }

    /// Whether every source has listed once.
    public var hasSynced: Bool { sources.allSatisfy { $0.reflector.cache.hasSynced } }

    static func nanoseconds(_ d: Duration) -> Int64 { d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000 }

    private func record(_ result: String) {
        Counter(label: "controller_runtime_reconcile_total", dimensions: [("controller", name), ("result", result)]).increment()
    }

    public func run() async throws {
        let queue = self.queue
        await withTaskGroup(of: Void.self) { group in
            for source in sources {
                group.addTask {
                    await source.reflector.run { change in
                        for key in source.keys(change) { await queue.add(key) }
                    }
                }
            }
            group.addTask { await queue.runTimer() }
            for _ in 0..<workers {
                group.addTask { [self] in
                    let timer = Metrics.Timer(label: "controller_runtime_reconcile_time_seconds", dimensions: [("controller", name)])
                    while let key = await queue.next() {
                        let started = ContinuousClock.now
                        defer { timer.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - started)) }
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
                            logger.info("reconcile failed", metadata: ["controller": "\(name)", "key": "\(key)", "error": "\(error)"])
                            await queue.done(key, .failure)
                            record("error")
                        }
                    }
                }
            }
            group.addTask {
                try? await gracefulShutdown()
                await queue.shutDown()
            }
            await group.next()
            await queue.shutDown()
            group.cancelAll()
        }
    }
}
