import LucidAPI
import Tron
import YAML

/// The payout state machine, as a pure function from what the controller observes to the next
/// status and the changes to make (DESIGN.md, "Payouts").
///
/// Pending → (AwaitingApproval) → Prepared → Broadcasting → Confirming → Completed; Rejected
/// and Failed are terminal. The rules that keep it at most once:
/// - a transaction is prepared (raw data, txID, expiration) and written to status, with a
///   resourceVersion precondition, before its Job exists; a Job is only ever created for an
///   attempt read back from the persisted status;
/// - an attempt is paid only on a solid receipt for its txID;
/// - a new attempt (a new txID) is made only when the current txID provably can never land: a
///   failed solid receipt, or a solid block whose time is past expiration + margin with the txID
///   in no solid block. Never the operator's clock, never a Job's exit code or a node's message;
/// - a session is held by one payout only (a claim object created atomically).
public enum PayoutMachine {
    /// Held while a payout's transaction may still land.
    public static let finalizer = "payments.lucid.io/payout-evidence"

    public static func decide(_ input: PayoutInput) -> PayoutDecision {
        var draft = Draft(input)
        draft.run()
        return draft.finish()
    }

    /// The decision for a payout whose spec does not even decode (it skipped admission, or was
    /// stored under another schema): it is never paid. Before any attempt it becomes
    /// `Failed`/`Invalid` naming `problem` (its finalizer, if any, goes first); with an attempt
    /// that may still land, the operator cannot check what it would pay, so the payout only
    /// reports that it is stuck and keeps its finalizer.
    public static func decideUndecodable(status current: TronPayoutStatus?, problem: String, generation: Int64?, resourceVersion: String?,
                                         hasFinalizer: Bool, now: String) -> PayoutDecision {
        let status = current ?? TronPayoutStatus()
        if let phase = status.phase, phase.isTerminal {
            return PayoutDecision(actions: hasFinalizer ? [.removeFinalizer] : [])
        }
        let next: TronPayoutStatus
        var actions: [PayoutAction] = []
        if let attempt = status.attempts?.last, attempt.outcome == nil {
            next = settled(status, status.phase ?? .prepared, PayoutReason.invalid,
                           "The payout's spec no longer decodes (\(problem)) while txID \(attempt.txID) may still land: restore the spec so the operator can follow it.",
                           stalled: true, generation: generation, now: now)
        } else {
            if hasFinalizer { return PayoutDecision(actions: [.removeFinalizer]) }
            let message = "The payout is invalid and will never be paid: \(problem). A payout cannot be changed: create a corrected one."
            next = settled(status, .failed, PayoutReason.invalid, message, stalled: true, generation: generation, now: now)
            if status.phase != .failed { actions.append(.event(PayoutEvent(.warning, PayoutReason.invalid, message))) }
        }
        guard next != status else { return PayoutDecision() }
        return PayoutDecision(actions: actions, status: next, resourceVersion: resourceVersion)
    }

    /// `status` in `phase`, with the three kstatus conditions: Ready (True only when
    /// Completed), Reconciling (True while the operator is still working), Stalled (True when it
    /// cannot go on without someone: terminal failures, a missing signer Secret, a conflicting Job).
    static func settled(_ status: TronPayoutStatus, _ phase: PayoutPhase, _ reason: String, _ message: String, stalled: Bool,
                        generation: Int64?, now: String) -> TronPayoutStatus {
        var status = status
        let stuck = stalled || phase == .failed || phase == .rejected
        let working = !phase.isTerminal && !stuck
        var conditions = status.conditions ?? []
        conditions = conditions.setting("Ready", phase == .completed ? .true : .false, reason: reason, message: message,
                                        observedGeneration: generation, now: now)
        conditions = conditions.setting("Reconciling", working ? .true : .false, reason: working ? reason : phase.rawValue,
                                        message: working ? message : "", observedGeneration: generation, now: now)
        conditions = conditions.setting("Stalled", stuck ? .true : .false, reason: stuck ? reason : phase.rawValue,
                                        message: stuck ? message : "", observedGeneration: generation, now: now)
        status.conditions = conditions
        if status.phase != phase || status.phaseTransitionTime == nil { status.phaseTransitionTime = now }
        status.phase = phase
        status.message = message
        status.observedGeneration = generation
        return status
    }
}

/// Stable reasons of the payout's conditions and Events.
public enum PayoutReason {
    public static let claimingSession = "ClaimingSession"
    public static let invalid = "Invalid"
    public static let duplicateSession = "DuplicateSession"
    /// The attempt's Job found no signer key: its Secret (or the key in it) does not exist.
    /// The operator cannot read Secrets in payout namespaces; the Job's pod is what looks.
    public static let signerSecretMissing = "SignerSecretMissing"
    public static let awaitingApproval = "AwaitingApproval"
    public static let approved = "Approved"
    public static let rejected = "Rejected"
    public static let prepared = "Prepared"
    public static let jobCreated = "JobCreated"
    public static let jobHeld = "JobHeld"
    public static let jobConflict = "JobConflict"
    public static let broadcasting = "Broadcasting"
    public static let confirming = "Confirming"
    public static let completed = "Completed"
    public static let attemptFailedOnChain = "AttemptFailedOnChain"
    public static let attemptExpired = "AttemptExpired"
    public static let attemptsExhausted = "AttemptsExhausted"
    public static let awaitingSolidBlock = "AwaitingSolidBlock"
    public static let deleted = "Deleted"
}

/// One decision being made: the input, the status as it will be written, the actions.
struct Draft {
    let input: PayoutInput
    var status: TronPayoutStatus
    var actions: [PayoutAction] = []
    var chainNeed: ChainNeed?
    var requeueAfter: Duration?

    init(_ input: PayoutInput) {
        self.input = input
        status = input.payout.status ?? TronPayoutStatus()
    }

    var payout: TronPayout { input.payout }
    var spec: TronPayoutSpec { payout.spec }
    var name: String { payout.metadata.name ?? "" }
    var deleting: Bool { payout.metadata.deletionTimestamp != nil }
    var hasFinalizer: Bool { payout.metadata.finalizers?.contains(PayoutMachine.finalizer) ?? false }
    var attempts: [PayoutAttempt] { status.attempts ?? [] }

    mutating func run() {
        if let phase = status.phase, phase.isTerminal { return terminal() }
        if let current = attempts.last {
            if current.outcome == nil { return attemptFlow(current) }
            // The last attempt ended but no next one was written (not a state this machine
            // leaves behind; the status was edited): carry on from the chain.
            guard let chain = input.chain else { return need(.solidHead) }
            return startNextAttempt(chain)
        }
        beforeFirstAttempt()
    }

    // MARK: before any transaction exists

    mutating func beforeFirstAttempt() {
        if deleting {
            if hasFinalizer { actions.append(.removeFinalizer) }
            return
        }
        let errors = payout.validate()
        if !errors.isEmpty {
            let what = errors.map(\.description).joined(separator: "; ")
            return fail(PayoutReason.invalid, "The payout is invalid and will never be paid: \(what). A payout cannot be changed: create a corrected one.")
        }
        switch input.sessionClaim {
        case .held(_, let uid) where uid == payout.metadata.uid:
            break
        case .held(let holder, _):
            return fail(PayoutReason.duplicateSession,
                        "Session \(spec.sessionId) is already held by payout \(holder); this payout will never be paid.")
        case .absent:
            if let first = input.sessionPeers.filter({ $0.holdsSession && isAhead($0) }).min(by: { order($0) < order($1) }) {
                return fail(PayoutReason.duplicateSession,
                            "Session \(spec.sessionId) was first used by payout \(first.name); this payout will never be paid.")
            }
            actions.append(.claimSession(SessionClaim.object(for: payout)))
            note(.normal, PayoutReason.claimingSession, "Claiming session \(spec.sessionId)")
            settle(.pending, PayoutReason.claimingSession, "Claiming session \(spec.sessionId) for this payout.")
            requeueAfter = .seconds(1)
            return
        }
        let approval = approvalDecision()
        if let record = approval.record, record.decision == .rejected {
            status.approval = record
            note(.warning, PayoutReason.rejected, "Rejected by \(record.approver): \(record.reason ?? "")")
            return settle(.rejected, PayoutReason.rejected,
                          "Rejected by \(record.approver) (\(record.name)): \(record.reason ?? "no reason given"). It will never be paid.")
        }
        if approval.record == nil, needsApproval {
            let threshold = input.settings.approvalThresholds[spec.currency]?.description ?? "?"
            note(.normal, PayoutReason.awaitingApproval, "\(spec.amount) \(spec.currency.rawValue) needs an approval")
            let ignored = approval.ignored.isEmpty ? "" : " Ignored: \(approval.ignored.joined(separator: "; "))."
            return settle(.awaitingApproval, PayoutReason.awaitingApproval,
                          "\(spec.amount) \(spec.currency.rawValue) is at or above the approval threshold (\(threshold) \(spec.currency.rawValue)): an approver creates a TronPayoutApproval with payoutName \(name).\(ignored)")
        }
        guard hasFinalizer else {
            actions.append(.addFinalizer)
            return
        }
        guard let chain = input.chain else { return need(.solidHead) }
        if let record = approval.record {
            status.approval = record
            note(.normal, PayoutReason.approved, "Approved by \(record.approver) (\(record.name))")
        }
        prepare(number: 1, reference: chain.head)
    }

    // MARK: an attempt that may still land

    mutating func attemptFlow(_ current: PayoutAttempt) {
        guard let chain = input.chain, chain.txID == current.txID else { return need(.solidView(txID: current.txID)) }
        guard let intent = self.intent, let owner = signerAddress else {
            // The spec validated when the attempt was prepared; a spec that no longer does can
            // still not stop a transaction from landing: only watch the chain.
            return watchOnly(current, chain, because: "the payout's spec no longer validates")
        }
        // What the Job reported is kept even when the chain already decided (informational only).
        if case .finished(let result) = input.job { keepJobReport(result, current) }
        if let receipt = chain.receipt {
            switch intent.verdict(for: receipt.info, contractRet: receipt.contractRet, owner: owner) {
            case .confirmed(let block, let fee):
                return confirm(current, block: block, blockTime: receipt.info.blockTimestamp, fee: fee)
            case .failed(let reason):
                end(current, outcome: "FailedOnChain",
                    "txID \(current.txID) failed in solid block \(receipt.info.blockNumber): \(reason); it can never pay.")
                note(.warning, PayoutReason.attemptFailedOnChain, "Attempt \(current.attempt) failed on chain: \(reason)")
                return startNextAttempt(chain)
            }
        }
        let deadline = current.expiration + input.settings.expirationMargin
        if chain.head.timestamp >= deadline {
            end(current, outcome: "Expired",
                "solid block \(chain.head.number) (chain time \(chain.head.timestamp)) is past the expiration \(current.expiration) + margin \(input.settings.expirationMargin) ms, and txID \(current.txID) is in no solid block: it can never land.")
            note(.normal, PayoutReason.attemptExpired, "Attempt \(current.attempt) (txID \(current.txID)) expired unpaid")
            return startNextAttempt(chain)
        }
        requeueAfter = input.settings.chainPollInterval
        let job = current.jobName
        switch input.job {
        case .foreign(let uid):
            settle(status.phase ?? .prepared, PayoutReason.jobConflict,
                   "A Job named \(job) exists but belongs to another object (uid \(uid ?? "none")); attempt \(current.attempt) cannot run until it is gone.",
                   stalled: true)
        case .absent where status.phase == .prepared || status.phase == .pending || status.phase == nil:
            if let hold = jobHold(current, intent: intent, owner: owner) {
                settle(.prepared, PayoutReason.jobHeld, "The Job for attempt \(current.attempt) is not created: \(hold). Waiting until txID \(current.txID) can no longer land (chain time \(deadline)).")
            } else {
                actions.append(.createJob(PayoutJob.build(payout: payout, attempt: current, settings: input.settings.job)))
                note(.normal, PayoutReason.jobCreated, "Created Job \(job) for attempt \(current.attempt), txID \(current.txID)")
            }
        case .absent:
            settle(.confirming, PayoutReason.confirming,
                   "Job \(job) is gone; waiting for txID \(current.txID) in a solid block, or for the solid chain to pass \(deadline).")
        case .active:
            if status.phase != .broadcasting { note(.normal, PayoutReason.broadcasting, "Job \(job) is running for txID \(current.txID)") }
            settle(.broadcasting, PayoutReason.broadcasting, "Job \(job) is signing and broadcasting txID \(current.txID).")
        case .finished(let result) where result.report?.outcome == TerminationReport.signerMissing:
            let secret = spec.signer.secretRef
            settle(.confirming, PayoutReason.signerSecretMissing,
                   "Job \(job) found no signer key: Secret \(payout.metadata.namespace ?? "")/\(secret.name) (key \"\(secret.key ?? "key")\") does not exist, so nothing was signed. Create it; attempt \(current.attempt + 1) is prepared once the solid chain passes \(deadline) (txID \(current.txID) can no longer land then).",
                   stalled: true)
        case .finished(let result):
            settle(.confirming, PayoutReason.confirming,
                   "Job \(job) reported \(Self.jobReport(result).outcome); waiting for txID \(current.txID) in a solid block, or for the solid chain to pass \(deadline).")
        }
    }

    /// Records the current attempt's finished Job in the attempt, once (with an Event).
    mutating func keepJobReport(_ result: JobResult, _ current: PayoutAttempt) {
        let report = Self.jobReport(result)
        guard let last = status.attempts?.indices.last, status.attempts?[last].txID == current.txID, status.attempts?[last].job != report else { return }
        status.attempts?[last].job = report
        note(report.outcome == "accepted" ? .normal : .warning,
             report.outcome == TerminationReport.signerMissing ? PayoutReason.signerSecretMissing : PayoutReason.confirming,
             "Job \(current.jobName) finished: \(report.outcome)\(report.detail.map { ": \($0)" } ?? "")")
    }

    /// Why the current attempt's Job must not be created now, if it must not.
    func jobHold(_ current: PayoutAttempt, intent: PayoutIntent, owner: TronAddress) -> String? {
        if deleting { return "the payout is being deleted" }
        if let record = approvalDecision().record, record.decision == .rejected {
            return "\(record.approver) rejected the payout (\(record.name))"
        }
        guard let bytes = [UInt8](hex: current.rawDataHex), sha256(bytes).hex == current.txID,
              let raw = try? RawTransaction.decode(bytes) else {
            return "the prepared raw data does not hash to its txID"
        }
        do { try intent.verify(raw, owner: owner) } catch {
            return "the prepared transaction no longer matches the spec (\(error.description))"
        }
        return nil
    }

    mutating func watchOnly(_ current: PayoutAttempt, _ chain: SolidChainView, because reason: String) {
        requeueAfter = input.settings.chainPollInterval
        let deadline = current.expiration + input.settings.expirationMargin
        if chain.receipt != nil || chain.head.timestamp >= deadline {
            return fail(PayoutReason.invalid, "Attempt \(current.attempt) ended on chain, and \(reason): no new attempt is made.")
        }
        settle(status.phase ?? .prepared, PayoutReason.jobHeld,
               "\(reason.prefix(1).uppercased() + reason.dropFirst()); waiting until txID \(current.txID) can no longer land (chain time \(deadline)).",
               stalled: true)
    }

    // MARK: ending attempts

    mutating func confirm(_ current: PayoutAttempt, block: Int64, blockTime: Int64, fee: Int64) {
        end(current, outcome: "Confirmed", "txID \(current.txID) is in solid block \(block).")
        status.confirmation = PayoutConfirmation(txID: current.txID, block: block, blockTime: blockTime, fee: fee, confirmedAt: input.now)
        note(.normal, PayoutReason.completed, "Paid \(spec.amount) \(spec.currency.rawValue) to \(spec.recipient): txID \(current.txID) in solid block \(block), fee \(fee) sun")
        var message = "Paid \(spec.amount) \(spec.currency.rawValue) to \(spec.recipient) in solid block \(block) (fee \(fee) sun), txID \(current.txID)."
        if let record = approvalDecision().record, record.decision == .rejected, status.approval?.decision != .rejected {
            message += " A rejection (\(record.name)) came after the transaction was broadcast; it could not be recalled."
        }
        settle(.completed, PayoutReason.completed, message)
    }

    mutating func end(_ attempt: PayoutAttempt, outcome: String, _ message: String) {
        guard let i = attempts.lastIndex(where: { $0.attempt == attempt.attempt }) else { return }
        status.attempts?[i].outcome = outcome
        status.attempts?[i].outcomeMessage = message
        status.attempts?[i].endedAt = input.now
    }

    /// The current attempt can never land: make the next one, or stop.
    mutating func startNextAttempt(_ chain: SolidChainView) {
        let done = attempts.count
        if deleting {
            return fail(PayoutReason.deleted, "The payout is being deleted; attempt \(done) can no longer land, so no new attempt is made.")
        }
        if let record = approvalDecision().record, record.decision == .rejected {
            status.approval = record
            note(.warning, PayoutReason.rejected, "Rejected by \(record.approver): \(record.reason ?? "")")
            return settle(.rejected, PayoutReason.rejected,
                          "Rejected by \(record.approver) (\(record.name)) before the transaction was sent: \(record.reason ?? "no reason given"). It will never be paid.")
        }
        guard done < input.settings.maxAttempts else {
            note(.warning, PayoutReason.attemptsExhausted, "\(done) attempts ended unpaid; no more are made")
            return fail(PayoutReason.attemptsExhausted,
                        "\(done) attempts ended without paying (the last: \(attempts.last?.outcomeMessage ?? "")); the limit is \(input.settings.maxAttempts). Nothing was paid; create a new payout (after deleting this one and its session claim) to try again.")
        }
        // A new transaction must differ from every earlier one: built from a newer solid block.
        // (The chain is always past the old reference by now; this only guards against a stale read.)
        if let previous = attempts.compactMap(\.referenceBlock).max(), chain.head.number <= previous {
            requeueAfter = input.settings.chainPollInterval
            return settle(.pending, PayoutReason.awaitingSolidBlock,
                          "Attempt \(done) ended; attempt \(done + 1) is prepared from a solid block newer than \(previous) (the latest seen is \(chain.head.number)).")
        }
        prepare(number: done + 1, reference: chain.head)
    }

    // MARK: preparing

    mutating func prepare(number: Int, reference: BlockHeader) {
        guard let intent, let owner = signerAddress else {
            return fail(PayoutReason.invalid, "The payout no longer validates; no transaction is prepared.")
        }
        let raw = TransactionBuilder.build(intent, owner: owner, reference: reference, expirationWindow: input.settings.expirationWindow,
                                           feeLimit: input.settings.feeLimit)
        let attempt = PayoutAttempt(attempt: number, txID: raw.txID.hex, rawDataHex: raw.encoded().hex, expiration: raw.expiration,
                                    referenceBlock: reference.number, jobName: PayoutJob.name(payout: name, attempt: number), preparedAt: input.now)
        status.attempts = attempts + [attempt]
        status.txID = attempt.txID
        note(.normal, PayoutReason.prepared, "Prepared attempt \(number): txID \(attempt.txID), valid until chain time \(attempt.expiration)")
        requeueAfter = input.settings.chainPollInterval
        settle(.prepared, PayoutReason.prepared,
               "Attempt \(number) is prepared from solid block \(reference.number): txID \(attempt.txID), valid until chain time \(attempt.expiration). Its Job \(attempt.jobName) is created next.")
    }

    // MARK: terminal

    mutating func terminal() {
        if hasFinalizer {
            actions.append(.removeFinalizer)
            return
        }
        let ready = status.conditions?.first("Ready")
        settle(status.phase ?? .failed, ready?.reason ?? (status.phase?.rawValue ?? "Failed"), status.message ?? ready?.message ?? "")
    }

    mutating func fail(_ reason: String, _ message: String) {
        if status.phase != .failed { note(.warning, reason, message) }
        settle(.failed, reason, message)
    }

    mutating func need(_ what: ChainNeed) { chainNeed = what }

    // MARK: approvals and sessions

    var amount: Amount? { try? Amount(decimal: spec.amount, currency: spec.currency) }
    var needsApproval: Bool { amount.map { input.settings.needsApproval($0, spec.currency) } ?? false }
    var intent: PayoutIntent? {
        try? PayoutIntent(recipient: spec.recipient, amount: spec.amount, currency: spec.currency.rawValue, network: spec.network)
    }
    var signerAddress: TronAddress? { try? TronAddress(spec.signer.address) }

    /// The approval that counts (a rejection wins over any approval), and why others do not.
    func approvalDecision() -> (record: PayoutApprovalRecord?, ignored: [String]) {
        var valid: [TronPayoutApproval] = []
        var ignored: [String] = []
        for approval in input.approvals where approval.spec.payoutName == name {
            let label = approval.metadata.name ?? "?"
            if let uid = approval.spec.payoutUID {
                guard uid == payout.metadata.uid else {
                    ignored.append("\(label) names payout uid \(uid), not this one")
                    continue
                }
            } else if (approval.metadata.creationTimestamp ?? "") < (payout.metadata.creationTimestamp ?? "") {
                ignored.append("\(label) is older than this payout (it may be meant for an earlier payout of that name; set payoutUID)")
                continue
            }
            let errors = approval.validate()
            guard errors.isEmpty else {
                ignored.append("\(label) is invalid: \(errors.map(\.description).joined(separator: "; "))")
                continue
            }
            valid.append(approval)
        }
        let ordered = valid.sorted { ($0.metadata.creationTimestamp ?? "", $0.metadata.name ?? "") < ($1.metadata.creationTimestamp ?? "", $1.metadata.name ?? "") }
        guard let chosen = ordered.first(where: { $0.spec.decision == .rejected }) ?? ordered.first else { return (nil, ignored) }
        return (PayoutApprovalRecord(name: chosen.metadata.name ?? "", decision: chosen.spec.decision, approver: chosen.spec.approver,
                                     reason: chosen.spec.reason, decidedAt: chosen.metadata.creationTimestamp), ignored)
    }

    /// Whether `peer` came first: created earlier, or at the same time with a smaller name.
    func isAhead(_ peer: SessionPeer) -> Bool {
        peer.uid != payout.metadata.uid && order(peer) < (payout.metadata.creationTimestamp ?? "", name)
    }

    func order(_ peer: SessionPeer) -> (String, String) { (peer.creationTimestamp, peer.name) }

    static func jobReport(_ result: JobResult) -> AttemptJobResult {
        let detail = result.report?.detail ?? [result.reason, result.message].compactMap { $0 }.joined(separator: ": ")
        return AttemptJobResult(outcome: result.report?.outcome ?? "unknown", exitCode: result.exitCode,
                                detail: detail.isEmpty ? nil : String(detail.prefix(4096)), finishedAt: result.finishedAt)
    }

    // MARK: status and conditions

    mutating func note(_ type: PayoutEvent.Kind, _ reason: String, _ text: String) {
        actions.append(.event(PayoutEvent(type, reason, text)))
    }

    /// Sets the phase and the three kstatus conditions (`PayoutMachine.settled`).
    mutating func settle(_ phase: PayoutPhase, _ reason: String, _ message: String, stalled: Bool = false) {
        status = PayoutMachine.settled(status, phase, reason, message, stalled: stalled, generation: payout.metadata.generation, now: input.now)
    }

    func finish() -> PayoutDecision {
        if let chainNeed { return PayoutDecision(chainNeed: chainNeed) }
        var decision = PayoutDecision(actions: actions, requeueAfter: requeueAfter)
        let changesFinalizer = actions.contains { $0 == .addFinalizer || $0 == .removeFinalizer }
        if status != (input.payout.status ?? TronPayoutStatus()), !changesFinalizer {
            decision.status = status
            decision.resourceVersion = payout.metadata.resourceVersion
        }
        // Events go with changes only: deciding the same thing again records nothing.
        if !decision.writes { decision.actions = [] }
        return decision
    }
}
