import ControllerRuntime
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The registry's Events, sent from a bounded buffer by a loop of their own (as client-go's
/// broadcaster does), so a reconcile never waits for the API server: at 10,000 Services an
/// Event per registration would otherwise double the time to register them. An Event is a
/// courtesy: when `capacity` are waiting, newer ones are dropped (and counted in
/// `lucid_registry_events_dropped_total`). Run it beside the mirror; on shutdown what is still
/// waiting is dropped.
public final class RegistryEvents: Service, Sendable {
    struct Item: Sendable {
        var regarding: ObjectReference
        var type: String
        var reason: String
        var action: String
        var note: String
    }

    let recorder: EventRecorder
    let logger: Logger
    private let stream: AsyncStream<Item>
    private let continuation: AsyncStream<Item>.Continuation
    /// Events handed over and not yet sent (or dropped).
    private let waiting = Atomic<Int>(0)
    private let dropped = Counter(label: "lucid_registry_events_dropped_total")

    public init(recorder: EventRecorder, capacity: Int = 10_000, logger: Logger = Logger(label: "lucid.registry")) {
        self.recorder = recorder
        self.logger = logger
        (stream, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingOldest(capacity))
    }

    /// Events waiting to be sent.
    public var pending: Int { waiting.load(ordering: .relaxed) }

    /// Queues an Event regarding `regarding` (see `EventRecorder.record`).
    func record(regarding: ObjectReference, type: String = "Normal", reason: String, action: String, note: String) {
        waiting.add(1, ordering: .relaxed)
        if case .dropped = continuation.yield(Item(regarding: regarding, type: type, reason: reason, action: action, note: note)) {
            waiting.subtract(1, ordering: .relaxed)
            dropped.increment()
            logger.debug("registry event dropped: too many waiting", metadata: ["regarding": "\(regarding.namespace)/\(regarding.name)", "reason": "\(reason)"])
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            for await item in stream {
                await recorder.record(regarding: item.regarding, type: item.type, reason: item.reason, action: item.action, note: item.note)
                waiting.subtract(1, ordering: .relaxed)
            }
        }
    }
}
