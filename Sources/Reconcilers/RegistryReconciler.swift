import ControllerRuntime
import EtcdClient
import KubeClient
import Logging
import Metrics
import Registry
import Synchronization
import YAML

/// What the registry keeps of an EndpointSlice: its Service and its endpoints' readiness
/// (`EndpointSliceSummary`), a few dozen bytes per endpoint.
public struct CachedEndpointSlice: Sendable, Equatable {
    public var ref: ObjectRef
    public var summary: EndpointSliceSummary

    public init(_ object: JSON) {
        ref = ObjectRef(object) ?? ObjectRef(namespace: "", name: "")
        summary = EndpointSliceSummary(json: object)
    }

    /// The Service it belongs to (label `kubernetes.io/service-name`).
    public var service: ObjectRef? { summary.service.isEmpty ? nil : ObjectRef(namespace: summary.namespace, name: summary.service) }
}

extension CachedService {
    /// The Service as the registry reads it.
    var registryService: RegistryService {
        RegistryService(
            name: reference.name, namespace: reference.namespace, uid: reference.uid, labels: labels, annotations: annotations,
            ports: ports.map { RegistryService.Port(name: $0.name ?? "", number: $0.port, appProtocol: $0.appProtocol, transport: $0.protocol ?? "TCP") },
            type: type, clusterIPs: clusterIPs.isEmpty && type != "ExternalName" ? ["None"] : clusterIPs, externalName: externalName)
    }
}

/// Converges the service registry in etcd: one entry per mesh Service under the registry prefix
/// (and, with a DNS domain, its SkyDNS records), computed by the pure `Registry` module from the
/// Service and its EndpointSlices, and nothing else under the operator's prefixes.
///
/// Keys are Services (which may be gone) plus one key for the strays. A reconcile reads the
/// Service and its slices from the shared informers and what etcd holds from the
/// `RegistryMirror`, plans the minimal writes (`RegistryPlanner`), and sends them as one
/// transaction comparing every key's mod revision, so a plan made from a stale view never
/// overwrites a newer write: on a conflict the keys as they are come back, and it plans again.
/// Unchanged Services write nothing.
///
/// Events on the Service: `Registered`, `RegistryEntryUpdated`, `Deregistered`; a Service that
/// cannot be registered (a cluster label outside the nine Lucid clusters, a port that is not
/// http/https/grpc, a bad annotation) gets a Warning with the refusal's reason and no entry;
/// `RegistryUnavailable` when etcd is away while its entry needs writing (it is written once
/// etcd is back). Metrics: `lucid_registry_entries`, `lucid_registry_sync_errors_total`,
/// `lucid_registry_sync_seconds`, `lucid_registry_writes_total{operation}`. Run `mirror` and
/// `events` as services beside the manager's.
public final class RegistryReconciler: Sendable {
    static let byService = "service"

    public let services: Informer<CachedService>
    public let endpointSlices: Informer<CachedEndpointSlice>
    /// The etcd side: run it as a service beside the manager's (on every replica).
    public let mirror: RegistryMirror
    let etcd: EtcdClient
    let options: RegistryOptions
    /// The Events it records, sent by a loop of their own: run it beside the mirror.
    public let events: RegistryEvents
    let logger: Logger
    /// The refusal last reported per Service, so an unchanged refusal is reported once.
    private let refusals = Mutex<[ObjectRef: String]>([:])
    private let syncTimer = Metrics.Timer(label: "lucid_registry_sync_seconds")
    private let puts = Counter(label: "lucid_registry_writes_total", dimensions: [("operation", "put")])
    private let deletes = Counter(label: "lucid_registry_writes_total", dimensions: [("operation", "delete")])

    /// Takes (or shares) the mesh-Service informer and an EndpointSlice informer from `manager`,
    /// scoped to `namespace` (nil: all), and mirrors the keys `options` gives the operator.
    public init(manager: Manager, events: EventRecorder, etcd: EtcdClient, options: RegistryOptions, namespace: String? = nil,
                mirror configuration: RegistryMirror.Configuration = RegistryMirror.Configuration(),
                logger: Logger = Logger(label: "lucid.registry")) {
        self.etcd = etcd
        self.options = options
        self.events = RegistryEvents(recorder: events, logger: logger)
        self.logger = logger
        services = SidecarReconciler.meshServices(manager, namespace: namespace)
        endpointSlices = manager.informer(.endpointSlices, namespace: namespace, labelSelector: RegistryLabels.serviceName,
                                          indexers: [Self.byService: { slice in slice.service.map { [$0.description] } ?? [] }]) { CachedEndpointSlice($0) }
        mirror = RegistryMirror(etcd: etcd, options: options, namespace: namespace, configuration: configuration, logger: logger)
    }

    /// The controller, with its mappers; the mirror feeds the same queue.
    public func controller(workers: Int = 2) -> Controller {
        let controller = Controller(name: "registry", workers: workers, reads: [services, endpointSlices]) { [self] key in try await reconcile(key) }
            .watches(services) { change in [change.ref] }
            .watches(endpointSlices) { change in Array(Set(change.values.compactMap(\.service))) }
        let queue = controller.queue, services = self.services, mirror = self.mirror
        mirror.setHandlers(RegistryMirror.Handlers(
            changed: { refs in for ref in refs { await queue.add(ref) } },
            resync: {
                // Both sides are watched, so what can be off is what one side lacks: keys of no
                // Service (and the strays), Services without keys (new, refused, or lost).
                for ref in Set(mirror.owners).symmetricDifference(services.keys) { await queue.add(ref) }
            }))
        return controller
    }

    // MARK: reconcile

    /// What one reconcile found and wants.
    struct Plan {
        var writes: [RegistryWrite]
        var observed: [String: ObservedKey]
        var service: CachedService?
        var records: ServiceRecords?
        var refusal: RegistryError?
    }

    enum WriteOutcome {
        case applied, conflicted
        /// etcd is away (its error code): the key waits for the mirror's next list.
        case parked(String)
    }

    public func reconcile(_ key: ObjectRef) async throws -> ReconcileResult {
        let started = ContinuousClock.now
        defer { syncTimer.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - started)) }
        for _ in 0..<3 {
            if let phase = mirror.park(key) {
                if case .lost(let code) = phase { reportUnavailable(key, code) }
                return .done
            }
            let plan = plan(key)
            reportRefusal(key, plan)
            guard !plan.writes.isEmpty else { return .done }
            switch try await write(plan.writes, for: key) {
            case .applied:
                announce(plan, key)
                return .done
            case .parked(let code):
                reportUnavailable(key, code)
                return .done
            case .conflicted:
                logger.debug("registry write conflicted; planning again", metadata: ["service": "\(key)"])
            }
        }
        return .requeueAfter(.milliseconds(100))
    }

    /// The writes that turn what etcd holds for `key` into what it should hold.
    func plan(_ key: ObjectRef) -> Plan {
        let observed = mirror.observed(key)
        if key == RegistryMirrorState.strays {
            return Plan(writes: RegistryPlanner.plan(desired: [:], observed: observed, scope: mirror.strayScope), observed: observed)
        }
        let service = services.get(key)
        var records: ServiceRecords?
        var refusal: RegistryError?
        if let service {
            let slices = endpointSlices.byIndex(Self.byService, key.description).map(\.summary)
            do {
                records = try ServiceRegistry.records(service: service.registryService, endpointSlices: slices, options: options, now: KubeTime.now(),
                                                      observedEntry: observed[options.key(namespace: key.namespace, name: key.name)]?.value)
            } catch {
                refusal = error
            }
        }
        let scope = records?.scope ?? ServiceRegistry.scope(namespace: key.namespace, name: key.name, options: options)
        return Plan(writes: RegistryPlanner.plan(desired: records?.records ?? [:], observed: observed, scope: scope),
                    observed: observed, service: service, records: records, refusal: refusal)
    }

    /// etcd's limit on operations per transaction is 128 by default; a Service's writes go in
    /// transactions of at most this many (one, but for headless Services with many endpoints).
    static let operationsPerTransaction = 64

    /// Sends the writes as transactions that apply only if every key still has the mod revision
    /// planned against; a refused one reads the keys back into the mirror.
    func write(_ writes: [RegistryWrite], for key: ObjectRef) async throws -> WriteOutcome {
        for start in stride(from: 0, to: writes.count, by: Self.operationsPerTransaction) {
            let chunk = Array(writes[start..<min(start + Self.operationsPerTransaction, writes.count)])
            let response: TxnResponse
            mirror.sending(chunk)
            do {
                response = try await etcd.txn(
                    compare: chunk.map { Compare.modRevision($0.key, .equal, $0.expectedModRevision) },
                    success: chunk.map { write in write.value.map { .put(write.key, $0) } ?? .delete(write.key) },
                    failure: chunk.map { .get($0.key) })
            } catch {
                mirror.unanswered(chunk)
                if error.code == .unavailable || error.code == .timeout {
                    logger.warning("registry write failed: etcd unavailable", metadata: ["service": "\(key)", "error": "\(error)"])
                    mirror.lose(error, parking: key)
                    return .parked(error.code.rawValue)
                }
                if error.code == .cancelled || error.code == .shutdown { throw error }
                mirror.syncErrors.increment()
                if let service = services.get(key) {
                    events.record(regarding: service.reference, type: "Warning", reason: "RegistryWriteFailed", action: "Register",
                                        note: "writing the registry entry failed: \(error.code.rawValue): \(error.message)")
                }
                throw error
            }
            guard response.succeeded else {
                let current = zip(chunk, response.responses).map { write, op -> (String, KeyValue?) in
                    if case .range(let read) = op { (write.key, read.kvs.first) } else { (write.key, nil) }
                }
                mirror.saw(current, revision: response.header.revision)
                return .conflicted
            }
            mirror.wrote(chunk, revision: response.header.revision)
            for write in chunk { (write.value == nil ? deletes : puts).increment() }
        }
        return .applied
    }

    // MARK: reporting

    /// An Event and a log line for what a plan changed.
    func announce(_ plan: Plan, _ key: ObjectRef) {
        let entryKey = options.key(namespace: key.namespace, name: key.name)
        guard key != RegistryMirrorState.strays, plan.writes.contains(where: { $0.key == entryKey }) else {
            logger.info("registry keys written", metadata: ["owner": "\(key == RegistryMirrorState.strays ? "<strays>" : key.description)",
                                                           "keys": "\(plan.writes.map(\.key))"])
            return
        }
        let before = plan.observed[entryKey]
        let previous = before.flatMap { try? RegistryEntry(decoding: $0.value) }
        let dns = plan.writes.count > 1 ? " and \(plan.writes.count - 1) DNS record\(plan.writes.count == 2 ? "" : "s")" : ""
        if let entry = plan.records?.entry {
            let health = "\(entry.health.status.rawValue), \(entry.health.ready)/\(entry.health.total) endpoints ready"
            let (reason, note): (String, String)
            if before == nil {
                (reason, note) = ("Registered", "registered \(entryKey)\(dns) (\(health))")
            } else if let previous, previous.with(health: entry.health) == entry {
                (reason, note) = ("RegistryEntryUpdated", "\(entryKey): health \(previous.health.status.rawValue) → \(health)")
            } else {
                (reason, note) = ("RegistryEntryUpdated", "rewrote \(entryKey)\(dns) (\(health))")
            }
            logger.info("registry entry written", metadata: ["key": "\(entryKey)", "reason": "\(reason)", "health": "\(health)"])
            if let service = plan.service {
                events.record(regarding: service.reference, reason: reason, action: before == nil ? "Register" : "Update", note: note)
            }
        } else {
            let why = plan.refusal.map { "\($0.reason.rawValue): \($0.message)" }
                ?? "the Service is gone or no longer labelled \(RegistryLabels.cluster) and \(RegistryLabels.plane)"
            logger.info("registry entry removed", metadata: ["key": "\(entryKey)", "why": "\(why)"])
            let uid = plan.service?.reference.uid ?? previous?.serviceId
            guard let uid, !uid.isEmpty else { return }
            let regarding = plan.service?.reference ?? ObjectReference(apiVersion: "v1", kind: "Service", namespace: key.namespace, name: key.name, uid: uid)
            events.record(regarding: regarding, reason: "Deregistered", action: "Deregister", note: "removed \(entryKey)\(dns): \(why)")
        }
    }

    /// A Warning when the Service cannot be registered, once per distinct refusal.
    func reportRefusal(_ key: ObjectRef, _ plan: Plan) {
        let note = plan.refusal.map { "\($0.reason.rawValue)\u{0}\($0.message)" }
        let changed = refusals.withLock { r in
            defer { r[key] = note }
            return r[key] != note
        }
        guard changed, let refusal = plan.refusal, let service = plan.service else { return }
        logger.info("registry refused a Service", metadata: ["service": "\(key)", "reason": "\(refusal.reason.rawValue)", "message": "\(refusal.message)"])
        events.record(regarding: service.reference, type: "Warning", reason: refusal.reason.rawValue, action: "Register",
                            note: "not registered: \(refusal.message)")
    }

    /// A Warning that the entry waits for etcd (`code`: why, e.g. `unavailable`).
    func reportUnavailable(_ key: ObjectRef, _ code: String) {
        guard let service = services.get(key) else { return }
        events.record(regarding: service.reference, type: "Warning", reason: "RegistryUnavailable", action: "Register",
                            note: "etcd (\(etcd.endpoints.joined(separator: ", "))) cannot be reached (\(code)); the registry entry is written once it is back")
    }

    static func nanoseconds(_ d: Duration) -> Int64 { d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000 }
}

extension RegistryEntry {
    func with(health: Health) -> RegistryEntry {
        var entry = self
        entry.health = health
        return entry
    }
}
