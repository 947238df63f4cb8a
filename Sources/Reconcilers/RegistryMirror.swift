import ControllerRuntime
import EtcdClient
import Logging
import Metrics
import Registry
import ServiceLifecycle
import Synchronization

/// The etcd side of the registry controller, as an informer of its own: it lists the
/// operator's prefixes (the registry prefix and, with DNS, the zone) at one revision, watches
/// each from right after it, and keeps `RegistryMirrorState` current, so a reconcile plans from
/// memory and reads nothing from etcd.
///
/// Every key someone else changes or deletes puts its Service (or the strays) on the work
/// queue, which is how hand edits are repaired. A compaction relists at once; a failure (of the
/// list, a watch, or a write the controller reports) marks the view lost and relists with
/// backoff, and keys planned meanwhile are parked and handed back when the view is current.
/// After each list the Services whose keys changed are reconciled, and every `resyncInterval`
/// those on one side only (keys of no Service, strays, Services without keys), so keys that
/// match no Service go. It never writes, so it runs on every replica like the
/// Kubernetes informers, and it never fails: etcd being away does not stop the operator.
public final class RegistryMirror: Service, Sendable {
    public struct Configuration: Sendable {
        /// Between resyncs (keys of no Service removed, Services without keys planned again).
        public var resyncInterval: Duration
        /// Relists after a failure: 0.5 s doubling to 15 s, with jitter.
        public var relistBackoff: Backoff
        /// Keys per page of a list.
        public var pageSize: Int64
        /// Lost watch connections (etcd gone) before the view is declared lost.
        public var watchReconnectAttempts: Int

        public init(resyncInterval: Duration = .seconds(300),
                    relistBackoff: Backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(15), jitter: 0.5),
                    pageSize: Int64 = 1000, watchReconnectAttempts: Int = 3) {
            self.resyncInterval = resyncInterval
            self.relistBackoff = relistBackoff
            self.pageSize = pageSize
            self.watchReconnectAttempts = watchReconnectAttempts
        }
    }

    /// What the mirror tells the controller: keys whose state changed, and "resync now".
    struct Handlers: Sendable {
        var changed: @Sendable ([ObjectRef]) async -> Void
        var resync: @Sendable () async -> Void
    }

    let etcd: EtcdClient
    public let options: RegistryOptions
    let configuration: Configuration
    let logger: Logger
    private let state: Mutex<RegistryMirrorState>
    private let handlers = Mutex(Handlers(changed: { _ in }, resync: {}))
    /// While a watch session runs: tells it to end (a write failed), so the view is relisted.
    private let trouble = Mutex<AsyncStream<Void>.Continuation?>(nil)
    private let entriesGauge = Gauge(label: "lucid_registry_entries")
    let syncErrors = Counter(label: "lucid_registry_sync_errors_total")

    /// Mirrors what the operator owns under `options` (with `namespace`, only that namespace's part).
    public init(etcd: EtcdClient, options: RegistryOptions, namespace: String? = nil, configuration: Configuration = Configuration(),
                logger: Logger = Logger(label: "lucid.registry")) {
        self.etcd = etcd
        self.options = options
        self.configuration = configuration
        self.logger = logger
        state = Mutex(RegistryMirrorState(options: options, namespace: namespace))
    }

    func setHandlers(_ new: Handlers) { handlers.withLock { $0 = new } }

    // MARK: reading

    /// Whether the view is current (listed, and watched since).
    public var isSynced: Bool { state.withLock { $0.isSynced } }
    /// Entries (not DNS records, not strays) under the prefix.
    public var entries: Int { state.withLock { $0.entries } }
    /// What etcd holds for `ref` (the strays for `RegistryMirrorState.strays`).
    func observed(_ ref: ObjectRef) -> [String: ObservedKey] { state.withLock { $0.observed(ref) } }
    /// Every Service with keys in etcd (and the strays, if any).
    var owners: [ObjectRef] { state.withLock { $0.owners } }

    // MARK: what the controller tells

    /// Parks `ref` until the view is current again, returning why; nil when it is current (plan now).
    func park(_ ref: ObjectRef) -> RegistryMirrorState.Phase? { state.withLock { $0.park(ref) } }

    /// The scope of the strays' plan.
    var strayScope: [KeyScope] { state.withLock { $0.scope } }

    func sending(_ writes: [RegistryWrite]) { state.withLock { $0.sending(writes) } }

    func unanswered(_ writes: [RegistryWrite]) { state.withLock { $0.unanswered(writes) } }

    func wrote(_ writes: [RegistryWrite], revision: Int64) {
        state.withLock { s in for write in writes { s.wrote(write, revision: revision) } }
        recordEntries()
    }

    func saw(_ keys: [(String, KeyValue?)], revision: Int64) {
        state.withLock { s in for (key, current) in keys { s.saw(key, current, revision: revision) } }
        recordEntries()
    }

    /// etcd failed under a write: the view may be behind. Parks `ref` (the view was current,
    /// so nothing else is parked), counts the failure, and ends the watch session so the
    /// prefixes are listed again (with backoff while etcd stays away).
    func lose(_ error: EtcdError, parking ref: ObjectRef) {
        state.withLock { s in
            _ = s.lose(error.code.rawValue)
            _ = s.park(ref) as RegistryMirrorState.Phase?
        }
        syncErrors.increment()
        logger.warning("etcd unavailable to the registry", metadata: ["error": "a write for \(ref) failed: \(error)"])
        _ = trouble.withLock { $0?.yield(()) }
    }

    /// Why the view was lost: etcd's error code (for phases and Events), and the whole story (for logs).
    struct Failure: Sendable {
        var code: String
        var detail: String

        init(_ error: EtcdError, _ context: String) {
            code = error.code.rawValue
            detail = "\(context): \(error)"
        }

        init(code: String, detail: String) {
            self.code = code
            self.detail = detail
        }
    }

    // MARK: the loop

    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.resyncLoop() }
                group.addTask { await self.syncLoop() }
                await group.next()
                group.cancelAll()
            }
        }
    }

    private func resyncLoop() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.resyncInterval) } catch { return }
            if isSynced { await handlers.withLock({ $0 }).resync() }
        }
    }

    private enum SessionEnd: Sendable {
        /// `nil`: a write failed (counted and logged where it failed).
        case compacted, failed(Failure?), cancelled
    }

    /// A watch session that lasted this long was healthy: the next failure starts the backoff over.
    static let healthySession: Duration = .seconds(30)

    private func syncLoop() async {
        // Failures in a row: lists that failed, and watch sessions that ended early.
        var failures = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let revision: Int64
            do {
                revision = try await list()
                logger.info("registry listed", metadata: ["revision": "\(revision)", "entries": "\(entries)",
                                                          "took": "\(ContinuousClock.now - started)"])
            } catch {
                // Only our own cancellation ends the loop: a member that is stopping answers
                // CANCELLED too, and that is a failure to recover from.
                if Task.isCancelled { return }
                if error.code != .compacted {
                    failures += 1
                    await fail(Failure(error, "list failed"))
                    do { try await Task.sleep(for: configuration.relistBackoff.delay(failures: failures, random: .random(in: 0..<1))) } catch { return }
                }
                continue
            }
            let watching = ContinuousClock.now
            switch await watch(from: revision) {
            case .cancelled: return
            case .compacted:
                failures = 0
                logger.info("registry watch compacted; listing again")
            case .failed(let failure):
                failures = ContinuousClock.now - watching >= Self.healthySession ? 1 : failures + 1
                if let failure { await fail(failure) }
                do { try await Task.sleep(for: configuration.relistBackoff.delay(failures: failures, random: .random(in: 0..<1))) } catch { return }
            }
        }
    }

    private func fail(_ failure: Failure) async {
        syncErrors.increment()
        let waiting = state.withLock { $0.lose(failure.code) }
        logger.warning("etcd unavailable to the registry", metadata: ["error": "\(failure.detail)"])
        if !waiting.isEmpty { await handlers.withLock({ $0 }).changed(Array(waiting)) }
    }

    /// Every owned prefix at one revision, in pages; replaces the view and enqueues what changed.
    private func list() async throws(EtcdError) -> Int64 {
        var kvs: [KeyValue] = []
        var revision: Int64 = 0
        let prefixes = state.withLock { $0.prefixes }
        for prefix in prefixes {
            let whole = KeyRange.prefix(prefix)
            var start = whole.start
            while true {
                let page = try await etcd.range(RangeRequest(KeyRange(start: start, end: whole.end), limit: configuration.pageSize, revision: revision))
                if revision == 0 { revision = page.header.revision }
                kvs += page.kvs
                guard page.more, let last = page.kvs.last else { break }
                start = last.key + [0]
            }
        }
        let changed = state.withLock { $0.replace(with: kvs, revision: revision) }
        recordEntries()
        if !changed.isEmpty { await handlers.withLock({ $0 }).changed(Array(changed)) }
        return revision
    }

    /// Watches every prefix from after `revision` until one watch ends or a write reports trouble.
    private func watch(from revision: Int64) async -> SessionEnd {
        let (signals, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        trouble.withLock { $0 = continuation }
        defer {
            trouble.withLock { $0 = nil }
            continuation.finish()
        }
        // A write failed between the list and now: do not wait for the watch to notice.
        if case .lost = state.withLock({ $0.phase }) { return .failed(nil) }
        let prefixes = state.withLock { $0.prefixes }
        // Each watch after the first on a client of its own (see `withOwnWatchConnections`).
        var clients = [etcd]
        for _ in prefixes.dropFirst() {
            do { clients.append(try etcd.withOwnWatchConnections()) } catch { return .failed(Failure(error, "cannot start a watch client")) }
        }
        defer { for client in clients.dropFirst() { client.shutdown() } }
        let watchers = clients
        return await withTaskGroup(of: SessionEnd.self) { group in
            for (index, prefix) in prefixes.enumerated() {
                group.addTask { await self.follow(prefix, index: index, from: revision + 1, on: watchers[index]) }
            }
            group.addTask {
                for await _ in signals { return .failed(nil) }
                return .cancelled
            }
            let end = await group.next() ?? .cancelled
            group.cancelAll()
            return end
        }
    }

    private func follow(_ prefix: String, index: Int, from revision: Int64, on client: EtcdClient) async -> SessionEnd {
        let options = WatchOptions(progressNotify: true, maxReconnectAttempts: configuration.watchReconnectAttempts)
        var responses = client.watch(prefix: prefix, fromRevision: revision, options: options).makeAsyncIterator()
        do {
            while let response = try await responses.next() {
                if response.isProgressNotification {
                    state.withLock { $0.progressed(prefix: index, to: response.header.revision) }
                    continue
                }
                let changed = state.withLock { $0.apply(response.events) }
                recordEntries()
                if !changed.isEmpty { await handlers.withLock({ $0 }).changed(Array(changed)) }
            }
            // A watch that ends without being cancelled (its member went away) is a failure to
            // recover from, never the end of the mirror.
            return Task.isCancelled ? .cancelled : .failed(Failure(code: "unavailable", detail: "the watch of \(prefix) ended"))
        } catch {
            if error.code == .compacted { return .compacted }
            if Task.isCancelled { return .cancelled }
            return .failed(Failure(error, "the watch of \(prefix) ended"))
        }
    }

    private func recordEntries() {
        entriesGauge.record(state.withLock { $0.entries })
    }
}
