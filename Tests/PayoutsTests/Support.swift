import LucidAPI
import Payouts
import Testing
import Tron
import YAML

let signerAddress = "THKrowiEfCe8evdbaBzDDvQjM5DGeB3s3F"  // key 8e81…79df (the dev sample's)
let recipientAddress = "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru"
let created = "2026-07-01T10:00:00Z"

func makePayout(name: String = "session-1", amount: String = "125.50", currency: Currency = .usdt, network: String = "nile",
                session: String = "s-1", recipient: String = recipientAddress, signer: String = signerAddress,
                uid: String = "00000000-0000-0000-0000-000000000001", creationTimestamp: String = created) -> TronPayout {
    var meta = ObjectMeta(name: name, namespace: "lucid-payment")
    meta.uid = uid
    meta.resourceVersion = "1"
    meta.generation = 1
    meta.creationTimestamp = creationTimestamp
    return TronPayout(metadata: meta, spec: TronPayoutSpec(
        sessionId: session, recipient: recipient, amount: amount, currency: currency, network: network,
        signer: Signer(secretRef: SecretKeyRef(name: "payout-signer", key: "key"), address: signer)))
}

func makeApproval(_ name: String, payout: String = "session-1", decision: ApprovalDecision = .approved, approver: String = "treasury-admin",
                  reason: String? = "checked", uid: String? = nil, creationTimestamp: String = "2026-07-01T10:05:00Z") -> TronPayoutApproval {
    var meta = ObjectMeta(name: name, namespace: "lucid-payment")
    meta.creationTimestamp = creationTimestamp
    return TronPayoutApproval(metadata: meta, spec: TronPayoutApprovalSpec(payoutName: payout, payoutUID: uid, decision: decision,
                                                                          approver: approver, reason: reason))
}

let defaultSettings = PayoutSettings(
    approvalThresholds: [.usdt: try! Amount(decimal: "1000", currency: .usdt), .trx: try! Amount(decimal: "20000", currency: .trx)],
    job: JobSettings(image: "lucid-payout:test", tronURLs: ["nile": "http://127.0.0.1:8090"]))

func block(_ number: Int64, time: Int64) -> BlockHeader {
    BlockHeader(number: number, id: Array(repeating: UInt8(truncatingIfNeeded: number), count: 32), timestamp: time)
}

/// A receipt as the solidity endpoint gives it for a payout that paid.
func paidReceipt(_ payout: TronPayout, txID: String, block: Int64 = 2000, fee: Int64 = 13_844_850) -> SolidReceipt {
    let spec = payout.spec
    let amount = try! Amount(decimal: spec.amount, currency: spec.currency)
    let owner = try! TronAddress(spec.signer.address), to = try! TronAddress(spec.recipient)
    switch spec.currency {
    case .trx:
        return SolidReceipt(info: TransactionInfo(id: txID, blockNumber: block, blockTimestamp: block * 3000), contractRet: "SUCCESS")
    case .usdt:
        let log = TransactionInfo.Log(address: TronNetwork.nile.usdtContract!.accountID,
                                      topics: [ABI.transferEventTopic, ABI.word(owner.accountID), ABI.word(to.accountID)],
                                      data: ABI.word(amount.baseUnits))
        return SolidReceipt(info: TransactionInfo(id: txID, blockNumber: block, blockTimestamp: block * 3000, fee: fee, receiptResult: "SUCCESS",
                                                  logs: [log]), contractRet: "SUCCESS")
    }
}

/// A cluster and a chain in miniature: applies decisions the way the controller will (actions,
/// then the status write under its resourceVersion precondition) and checks the rules that make
/// payouts at most once on every step.
struct World {
    var payout: TronPayout
    var approvals: [TronPayoutApproval] = []
    var peers: [SessionPeer] = []
    var claim: SessionClaim.State = .absent
    /// Jobs by name, as the controller's cache shows them.
    var jobs: [String: JobObservation] = [:]
    /// Jobs the API server has (a second create of one is AlreadyExists).
    var jobsCreated: [JSON] = []
    var head: BlockHeader = block(1000, time: 3_000_000)
    var receipts: [String: SolidReceipt] = [:]
    var settings = defaultSettings
    var tick = 0
    var events: [PayoutEvent] = []
    var phases: [PayoutPhase] = []
    var statusWrites = 0
    var chainReads: [ChainNeed] = []

    init(_ payout: TronPayout) { self.payout = payout }

    var now: String {
        let s = tick % 60, m = tick / 60
        return "2026-07-01T11:\(m < 10 ? "0" : "")\(m):\(s < 10 ? "0" : "")\(s)Z"
    }

    var currentAttempt: PayoutAttempt? { payout.status?.attempts?.last }
    var status: TronPayoutStatus? { payout.status }

    func input(chain: SolidChainView? = nil) -> PayoutInput {
        let job = currentAttempt.map { jobs[$0.jobName] ?? .absent } ?? .absent
        return PayoutInput(payout: payout, approvals: approvals, sessionPeers: peers,
                           sessionClaim: claim, job: job, chain: chain, settings: settings, now: now)
    }

    func view(_ need: ChainNeed) -> SolidChainView {
        switch need {
        case .solidHead: SolidChainView(head: head)
        case .solidView(let txID): SolidChainView(head: head, txID: txID, receipt: receipts[txID])
        }
    }

    /// Decides once (reading the chain when asked), applies the decision, returns it.
    @discardableResult
    mutating func step(sourceLocation: SourceLocation = #_sourceLocation) -> PayoutDecision {
        tick += 1
        var decision = PayoutMachine.decide(input())
        if let need = decision.chainNeed {
            chainReads.append(need)
            #expect(decision.actions.isEmpty && decision.status == nil, "a decision that needs the chain does nothing else", sourceLocation: sourceLocation)
            decision = PayoutMachine.decide(input(chain: view(need)))
            #expect(decision.chainNeed == nil, "one chain read is enough", sourceLocation: sourceLocation)
        }
        apply(decision, sourceLocation: sourceLocation)
        return decision
    }

    mutating func apply(_ decision: PayoutDecision, sourceLocation: SourceLocation = #_sourceLocation) {
        let persisted = payout.status?.attempts ?? []
        var metadataWrites = 0
        for action in decision.actions {
            switch action {
            case .addFinalizer:
                payout.metadata.finalizers = (payout.metadata.finalizers ?? []) + [PayoutMachine.finalizer]
                bump()
                metadataWrites += 1
            case .removeFinalizer:
                payout.metadata.finalizers = payout.metadata.finalizers?.filter { $0 != PayoutMachine.finalizer }
                bump()
                metadataWrites += 1
            case .claimSession(let object):
                #expect(object[path: "data", "sessionId"]?.stringValue == payout.spec.sessionId, sourceLocation: sourceLocation)
                if claim == .absent { claim = .held(payoutName: payout.metadata.name ?? "", payoutUID: payout.metadata.uid ?? "") }
            case .createJob(let job):
                let txID = job[path: "metadata", "annotations", PayoutJob.txIDAnnotation]?.stringValue
                let name = job[path: "metadata", "name"]?.stringValue ?? ""
                // The rule: a Job only for an attempt that is already persisted.
                #expect(persisted.contains { $0.txID == txID && $0.jobName == name },
                        "Job \(name) for txID \(txID ?? "-") whose attempt is not persisted", sourceLocation: sourceLocation)
                if !jobsCreated.contains(where: { $0[path: "metadata", "name"]?.stringValue == name }) {
                    jobs[name] = .active
                    jobsCreated.append(job)
                }
            case .event(let event):
                events.append(event)
            }
        }
        if let status = decision.status {
            #expect(metadataWrites == 0, "a finalizer change comes alone", sourceLocation: sourceLocation)
            #expect(decision.resourceVersion == payout.metadata.resourceVersion, "status written under the current resourceVersion",
                    sourceLocation: sourceLocation)
            // Attempts are only ever appended, and a txID never changes.
            for (old, new) in zip(persisted, status.attempts ?? []) {
                #expect(old.txID == new.txID && old.rawDataHex == new.rawDataHex, "attempt \(old.attempt) changed its transaction",
                        sourceLocation: sourceLocation)
            }
            #expect((status.attempts ?? []).count >= persisted.count, sourceLocation: sourceLocation)
            payout.status = status
            bump()
            statusWrites += 1
            if let phase = status.phase, phases.last != phase { phases.append(phase) }
        }
    }

    mutating func bump() { payout.metadata.resourceVersion = String((Int(payout.metadata.resourceVersion ?? "0") ?? 0) + 1) }

    /// Steps until a decision writes nothing (at most `limit` times); returns how many wrote.
    @discardableResult
    mutating func settle(limit: Int = 20, sourceLocation: SourceLocation = #_sourceLocation) -> Int {
        var writing = 0
        for _ in 0..<limit {
            guard step(sourceLocation: sourceLocation).writes else { return writing }
            writing += 1
        }
        Issue.record("no idle state after \(limit) steps", sourceLocation: sourceLocation)
        return writing
    }

    /// The current attempt's Job ends with `lucid-payout`'s report.
    mutating func finishJob(_ outcome: String, exitCode: Int, detail: String = "") {
        guard let attempt = currentAttempt else { return }
        jobs[attempt.jobName] = .finished(JobResult(
            succeeded: exitCode == 0, reason: exitCode == 0 ? nil : "BackoffLimitExceeded", exitCode: exitCode,
            report: TerminationReport(outcome: outcome, txID: attempt.txID, detail: detail), finishedAt: now))
    }

    /// The chain moves to `time` (ms), one block per 3 s.
    mutating func advanceChain(to time: Int64) {
        head = block(head.number + max(1, (time - head.timestamp) / 3000), time: time)
    }

    func condition(_ type: String) -> Condition? { payout.status?.conditions?.first(type) }
}
