import ControllerRuntime
import Foundation
import KubeClient
import Logging
import LucidAPI
import Metrics
import Payouts
import Tron
import YAML

/// Pays each TronPayout at most once: gathers what the payout state machine decides from (the
/// payout, its approvals, its session's peers and claim, the
/// current attempt's Job and Pods, the solid chain when asked), lets `PayoutMachine.decide`
/// decide, and performs the decision in its order: the chain read, then finalizer / claim /
/// Job writes, then the status through `/status` under the payout's resourceVersion (a 409
/// reads the payout again and decides anew), then the Events.
///
/// Keys are payouts. The mappers: a payout's change enqueues itself and the payouts of its
/// session; an approval, the payout it names; a Job or Pod, its payout (label
/// `payments.lucid.io/payout`); a session claim, the payouts of its session.
///
/// It reads no Secrets at all (RBAC cannot grant "metadata only", and listing Secrets where
/// signing keys live would be reading them): whether a payout's signer Secret exists is found
/// out by its Job's pod, which mounts it as optional and reports `signerMissing` without
/// signing anything (`PayoutReason.signerSecretMissing`).
public final class PayoutReconciler: Sendable {
    public static let tronPayouts = GroupVersionResource(group: TronPayoutKind.group, version: TronPayoutKind.version, resource: TronPayoutKind.plural)
    public static let tronPayoutApprovals = GroupVersionResource(group: TronPayoutApprovalKind.group, version: TronPayoutApprovalKind.version,
                                                                 resource: TronPayoutApprovalKind.plural)
    /// How soon a payout is looked at again after a write lost to a concurrent change.
    static let conflictRetry = Duration.milliseconds(50)

    public typealias Approval = CachedResource<TronPayoutApprovalKind>

    let client: KubeClient
    let events: EventRecorder
    let chains: PayoutChains
    let settings: PayoutSettings
    let logger: Logger
    public let payouts: Informer<CachedPayout>
    public let approvals: Informer<Approval>
    public let jobs: Informer<CachedPayoutObject>
    public let pods: Informer<CachedPayoutObject>
    public let claims: Informer<CachedClaim>

    /// Takes (or shares) its informers from `manager`, scoped to `namespace` (nil: all).
    public init(manager: Manager, events: EventRecorder, chains: PayoutChains, settings: PayoutSettings, namespace: String? = nil,
                logger: Logger = Logger(label: "lucid.payouts")) {
        client = manager.client
        self.events = events
        self.chains = chains
        self.settings = settings
        self.logger = logger
        payouts = manager.informer(Self.tronPayouts, namespace: namespace, indexers: [
            "session": { p in p.spec.map { [Self.key(p.metadata.namespace, $0.sessionId)] } ?? [] },
        ]) { CachedPayout($0) }
        approvals = manager.informer(Self.tronPayoutApprovals, namespace: namespace, indexers: [
            "payout": { a in a.spec.map { [Self.key(a.reference.namespace, $0.payoutName)] } ?? [] },
        ]) { Approval($0) }
        jobs = manager.informer(.jobs, namespace: namespace, labelSelector: PayoutJob.payoutLabel) { CachedPayoutObject(job: $0) }
        pods = manager.informer(.pods, namespace: namespace, labelSelector: PayoutJob.payoutLabel, indexers: [
            "job": { p in p.jobName.map { [Self.key(p.ref.namespace, $0)] } ?? [] },
        ]) { CachedPayoutObject(pod: $0) }
        claims = manager.informer(.configMaps, namespace: namespace, labelSelector: "\(SessionClaim.label)=true") { CachedClaim($0) }
    }

    static func key(_ namespace: String?, _ name: String) -> String { "\(namespace ?? "")/\(name)" }

    /// The controller, with its mappers.
    public func controller(workers: Int = 2) -> Controller {
        let payouts = self.payouts
        let session: @Sendable (String, String?) -> [ObjectRef] = { namespace, sessionId in
            sessionId.map { payouts.keys("session", Self.key(namespace, $0)) } ?? []
        }
        return Controller(name: "payout", workers: workers, reads: [payouts, approvals, jobs, pods, claims]) { [self] key in
            try await reconcile(key)
        }
        .watches(payouts) { change in
            [change.ref] + change.values.flatMap { session(change.ref.namespace, $0.spec?.sessionId) }.filter { $0 != change.ref }
        }
        .watches(approvals) { change in
            change.values.compactMap { a in a.spec.map { ObjectRef(namespace: a.reference.namespace, name: $0.payoutName) } }
        }
        .watches(jobs) { change in change.values.compactMap { j in j.payout.map { ObjectRef(namespace: j.ref.namespace, name: $0) } } }
        .watches(pods) { change in change.values.compactMap { p in p.payout.map { ObjectRef(namespace: p.ref.namespace, name: $0) } } }
        .watches(claims) { change in
            change.values.flatMap { claim -> [ObjectRef] in
                var keys = session(claim.ref.namespace, claim.sessionId)
                if case .held(let holder, _) = claim.state { keys.append(ObjectRef(namespace: claim.ref.namespace, name: holder)) }
                return keys
            }
        }
    }

    // MARK: reconcile

    public func reconcile(_ key: ObjectRef) async throws -> ReconcileResult {
        guard let cached = payouts.get(key) else { return .done }
        guard let payout = cached.payout else {
            let decision = PayoutMachine.decideUndecodable(status: cached.status, problem: cached.invalid ?? "the spec does not decode",
                                                           generation: cached.metadata.generation, resourceVersion: cached.metadata.resourceVersion,
                                                           hasFinalizer: cached.hasFinalizer, now: KubeTime.now())
            return try await perform(decision, cached)
        }
        let input = gather(payout)
        var decision = PayoutMachine.decide(input)
        if let need = decision.chainNeed {
            var withChain = input
            do throws(TronGridError) {
                withChain.chain = try await chains.view(network: payout.spec.network, need)
            } catch {
                logger.warning("payout: cannot read the solid chain", metadata: ["payout": "\(key)", "network": "\(payout.spec.network)", "error": "\(error)"])
                await events.record(regarding: cached.reference, type: "Warning", reason: "ChainUnavailable", action: "ReadChain",
                                    note: "Cannot read the solid chain of \(payout.spec.network) at \(chains.url(network: payout.spec.network)): \(error.description)")
                return .requeueAfter(settings.chainPollInterval)
            }
            decision = PayoutMachine.decide(withChain)
            if decision.chainNeed != nil { return .requeueAfter(settings.chainPollInterval) }
        }
        return try await perform(decision, cached)
    }

    /// What the machine decides from, from the caches.
    func gather(_ payout: TronPayout) -> PayoutInput {
        let namespace = payout.metadata.namespace ?? ""
        let name = payout.metadata.name ?? ""
        let peers = payouts.byIndex("session", Self.key(namespace, payout.spec.sessionId))
            .filter { $0.metadata.uid != payout.metadata.uid }
            .compactMap { $0.payout.map(SessionPeer.init) }
        let claim = claims.get(ObjectRef(namespace: namespace, name: SessionClaim.name(sessionId: payout.spec.sessionId)))?.state ?? .absent
        var job = JobObservation.absent
        if let attempt = payout.status?.attempts?.last {
            let jobObject = jobs.get(ObjectRef(namespace: namespace, name: attempt.jobName))?.object
            let jobPods = pods.byIndex("job", Self.key(namespace, attempt.jobName)).map(\.object)
            job = PayoutJob.observe(job: jobObject, pods: jobPods, payoutUID: payout.metadata.uid ?? "", txID: attempt.txID)
        }
        return PayoutInput(
            payout: payout,
            approvals: approvals.byIndex("payout", Self.key(namespace, name)).compactMap(\.approval),
            sessionPeers: peers, sessionClaim: claim, job: job, settings: settings, now: KubeTime.now())
    }

    /// Performs `decision`: its actions in order, the status, then its Events. Returns what the
    /// queue should do next.
    func perform(_ decision: PayoutDecision, _ cached: CachedPayout) async throws -> ReconcileResult {
        let namespace = cached.ref.namespace
        for action in decision.actions {
            switch action {
            case .addFinalizer, .removeFinalizer:
                guard try await setFinalizer(cached, present: action == .addFinalizer) else { return .requeueAfter(Self.conflictRetry) }
            case .claimSession(let claim):
                try await createClaim(claim, namespace: namespace)
            case .createJob(let job):
                try await createJob(job, namespace: namespace)
            case .event:
                break
            }
        }
        if let status = decision.status {
            guard try await writeStatus(cached, status, resourceVersion: decision.resourceVersion) else { return .requeueAfter(Self.conflictRetry) }
        }
        if decision.writes { log(decision, cached) }
        for event in decision.events {
            await events.record(regarding: cached.reference, type: event.type.rawValue, reason: event.reason, action: Self.action(event.reason),
                                note: event.note)
        }
        return decision.requeueAfter.map { .requeueAfter($0) } ?? .done
    }

    // MARK: writes

    /// Adds or removes the finalizer with a merge patch conditional on the cached
    /// resourceVersion. False when the cache was stale (refreshed; decide again).
    func setFinalizer(_ cached: CachedPayout, present: Bool) async throws -> Bool {
        var finalizers = (cached.metadata.finalizers ?? []).filter { $0 != PayoutMachine.finalizer }
        if present { finalizers.append(PayoutMachine.finalizer) }
        let patch: JSON = ["metadata": [
            "resourceVersion": .string(cached.metadata.resourceVersion ?? ""),
            "finalizers": finalizers.isEmpty ? .null : .array(finalizers.map { .string($0) }),
        ]]
        do throws(KubeError) {
            let written = try await client.patch(Self.tronPayouts, namespace: cached.ref.namespace, name: cached.ref.name, .merge(patch))
            if written[path: "metadata", "deletionTimestamp"] != nil, finalizers.isEmpty {
                await payouts.observeDeletion(cached.ref)
            } else {
                await payouts.observe(written)
            }
        } catch {
            if error.isNotFound {
                await payouts.observeDeletion(cached.ref)
                return false
            }
            guard error.isConflict else { throw error }
            await refreshPayout(cached.ref)
            return false
        }
        logger.info("payout finalizer \(present ? "added" : "removed")", metadata: ["payout": "\(cached.ref)"])
        return true
    }

    /// Creates the session's claim; one that exists already (this payout's, or another's) is
    /// read into the cache instead.
    func createClaim(_ claim: JSON, namespace: String) async throws {
        do throws(KubeError) {
            await claims.observe(try await client.create(.configMaps, namespace: namespace, claim))
        } catch {
            guard error.isAlreadyExists else { throw error }
            let name = claim[path: "metadata", "name"]?.stringValue ?? ""
            if let current = try? await client.get(.configMaps, namespace: namespace, name: name) { await claims.observe(current) }
        }
    }

    /// Creates the attempt's Job; one that exists already is read into the cache instead.
    func createJob(_ job: JSON, namespace: String) async throws {
        do throws(KubeError) {
            await jobs.observe(try await client.create(.jobs, namespace: namespace, job))
        } catch {
            guard error.isAlreadyExists else { throw error }
            let name = job[path: "metadata", "name"]?.stringValue ?? ""
            if let current = try? await client.get(.jobs, namespace: namespace, name: name) { await jobs.observe(current) }
        }
    }

    /// Writes the status through `/status` under `resourceVersion`. False on a conflict (the
    /// payout is read again; decide again).
    func writeStatus(_ cached: CachedPayout, _ status: TronPayoutStatus, resourceVersion: String?) async throws -> Bool {
        let body = try cached.statusWrite(status, resourceVersion: resourceVersion)
        do throws(KubeError) {
            await payouts.observe(try await client.updateStatus(Self.tronPayouts, namespace: cached.ref.namespace, body))
        } catch {
            if error.isNotFound { return true }
            guard error.isConflict else { throw error }
            await refreshPayout(cached.ref)
            return false
        }
        PayoutMetrics.written(status, after: cached.status)
        return true
    }

    private func refreshPayout(_ ref: ObjectRef) async {
        do throws(KubeError) {
            await payouts.observe(try await client.get(Self.tronPayouts, namespace: ref.namespace, name: ref.name))
        } catch {
            if error.isNotFound { await payouts.observeDeletion(ref) }
        }
    }

    // MARK: reporting

    /// One line per decision that changed something; never key material (there is none here).
    func log(_ decision: PayoutDecision, _ cached: CachedPayout) {
        let status = decision.status ?? cached.status
        var metadata: Logger.Metadata = ["payout": "\(cached.ref)", "phase": "\(status?.phase?.rawValue ?? "-")"]
        if let reason = status?.conditions?.first("Ready")?.reason { metadata["reason"] = "\(reason)" }
        if let txID = status?.txID { metadata["txID"] = "\(txID)" }
        let actions = decision.actions.compactMap { action -> String? in
            switch action {
            case .addFinalizer: "addFinalizer"
            case .removeFinalizer: "removeFinalizer"
            case .claimSession: "claimSession"
            case .createJob(let job): "createJob \(job[path: "metadata", "name"]?.stringValue ?? "")"
            case .event: nil
            }
        }
        if !actions.isEmpty { metadata["actions"] = "\(actions.joined(separator: ","))" }
        logger.info("payout decided", metadata: metadata)
    }

    /// The Event's `action` (what the operator did) for a reason.
    static func action(_ reason: String) -> String {
        switch reason {
        case PayoutReason.claimingSession: "ClaimSession"
        case PayoutReason.prepared: "Prepare"
        case PayoutReason.jobCreated: "CreateJob"
        case PayoutReason.completed, PayoutReason.confirming, PayoutReason.attemptFailedOnChain, PayoutReason.attemptExpired: "ReadChain"
        case PayoutReason.approved, PayoutReason.rejected, PayoutReason.awaitingApproval: "Approve"
        default: "Reconcile"
        }
    }
}

extension PayoutReconciler {
    /// Sets `lucid_payouts_in_phase{phase}` (payouts in each phase now, from the cache) and
    /// `lucid_payout_oldest_in_phase_seconds{phase}` (for the phases a payout can be stuck in:
    /// how long the oldest has been there, by its `phaseTransitionTime`). Called when /metrics
    /// is scraped: one pass over the cached payouts per scrape, nothing per event.
    public func recordGauges(now: Date = Date()) {
        var count: [PayoutPhase: Int] = [:]
        var oldest: [PayoutPhase: Date] = [:]
        for payout in payouts.list() {
            let phase = payout.status?.phase ?? .pending
            count[phase, default: 0] += 1
            guard !phase.isTerminal else { continue }
            let since = payout.status?.phaseTransitionTime ?? payout.status?.conditions?.first("Ready")?.lastTransitionTime ?? payout.metadata.creationTimestamp
            if let date = since.flatMap(PayoutMetrics.date), date < oldest[phase] ?? .distantFuture { oldest[phase] = date }
        }
        for phase in PayoutPhase.allCases {
            Gauge(label: "lucid_payouts_in_phase", dimensions: [("phase", phase.rawValue)]).record(count[phase] ?? 0)
            guard !phase.isTerminal else { continue }
            let age = oldest[phase].map { max(0, now.timeIntervalSince($0)) } ?? 0
            Gauge(label: "lucid_payout_oldest_in_phase_seconds", dimensions: [("phase", phase.rawValue)]).record(age)
        }
    }
}

/// `lucid_payouts_total{phase}` (payouts entering each phase), `lucid_payout_attempts_total`
/// (transactions prepared) and `lucid_payout_confirmation_seconds` (from an attempt's
/// preparation to its solid receipt, on the operator's clock).
enum PayoutMetrics {
    static func written(_ status: TronPayoutStatus, after old: TronPayoutStatus?) {
        if let phase = status.phase, phase != old?.phase {
            Counter(label: "lucid_payouts_total", dimensions: [("phase", phase.rawValue)]).increment()
        }
        let added = (status.attempts?.count ?? 0) - (old?.attempts?.count ?? 0)
        if added > 0 { Counter(label: "lucid_payout_attempts_total").increment(by: added) }
        if status.phase == .completed, old?.phase != .completed, let prepared = status.attempts?.last?.preparedAt.flatMap(Self.date) {
            let seconds = max(0, Date().timeIntervalSince(prepared))
            Metrics.Timer(label: "lucid_payout_confirmation_seconds").recordNanoseconds(Int64(seconds * 1_000_000_000))
        }
    }

    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
