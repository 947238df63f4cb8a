import LucidAPI
import Tron

/// Everything the payout state machine decides from, gathered by the controller from its
/// caches and the chain. No clock: `now` is passed in and only ever written into timestamps.
public struct PayoutInput: Sendable {
    public var payout: TronPayout
    /// The namespace's approvals naming this payout (`spec.payoutName`); the machine decides
    /// which of them count.
    public var approvals: [TronPayoutApproval]
    /// Other payouts in the namespace with the same `sessionId`.
    public var sessionPeers: [SessionPeer]
    /// The session's claim object (see `SessionClaim`).
    public var sessionClaim: SessionClaim.State
    /// The current attempt's Job (named by the attempt), read with `JobObservation.read`.
    public var job: JobObservation
    /// What the solid chain says, when the machine asked for it (`PayoutDecision.chainNeed`).
    public var chain: SolidChainView?
    public var settings: PayoutSettings
    /// RFC 3339, for condition and status timestamps.
    public var now: String

    public init(payout: TronPayout, approvals: [TronPayoutApproval] = [], sessionPeers: [SessionPeer] = [],
                sessionClaim: SessionClaim.State, job: JobObservation = .absent, chain: SolidChainView? = nil,
                settings: PayoutSettings, now: String) {
        self.payout = payout
        self.approvals = approvals
        self.sessionPeers = sessionPeers
        self.sessionClaim = sessionClaim
        self.job = job
        self.chain = chain
        self.settings = settings
        self.now = now
    }
}

/// Another payout of the same session, as the cache shows it.
public struct SessionPeer: Sendable, Equatable {
    public var name: String
    public var uid: String
    public var creationTimestamp: String
    public var phase: PayoutPhase?
    public var attempts: Int

    public init(name: String, uid: String, creationTimestamp: String, phase: PayoutPhase? = nil, attempts: Int = 0) {
        self.name = name
        self.uid = uid
        self.creationTimestamp = creationTimestamp
        self.phase = phase
        self.attempts = attempts
    }

    public init(_ payout: TronPayout) {
        self.init(name: payout.metadata.name ?? "", uid: payout.metadata.uid ?? "", creationTimestamp: payout.metadata.creationTimestamp ?? "",
                  phase: payout.status?.phase, attempts: payout.status?.attempts?.count ?? 0)
    }

    /// A payout that was refused before it could hold or use the session (invalid, or itself a
    /// duplicate) does not hold the session against others.
    var holdsSession: Bool { !(phase == .failed && attempts == 0) }
}

/// The current attempt's Job, as far as the payout needs to know.
public enum JobObservation: Sendable, Equatable {
    /// No Job of that name.
    case absent
    /// A Job of that name owned by another object (say, an earlier payout of the same name
    /// that is still being garbage-collected): not ours to read or replace.
    case foreign(ownerUID: String?)
    /// Created, not finished (pending or running).
    case active
    case finished(JobResult)
}

/// How a payout Job ended, as the Job controller and the kubelet recorded it.
public struct JobResult: Sendable, Equatable {
    /// The Job's `Complete` condition (`Failed` otherwise).
    public var succeeded: Bool
    /// The `Failed` condition's reason (`DeadlineExceeded`, `BackoffLimitExceeded`, ...).
    public var reason: String?
    public var message: String?
    /// The container's exit code, when its pod is still there.
    public var exitCode: Int?
    /// The termination message `lucid-payout` wrote, when it names this attempt's txID.
    public var report: TerminationReport?
    public var finishedAt: String?

    public init(succeeded: Bool, reason: String? = nil, message: String? = nil, exitCode: Int? = nil, report: TerminationReport? = nil,
                finishedAt: String? = nil) {
        self.succeeded = succeeded
        self.reason = reason
        self.message = message
        self.exitCode = exitCode
        self.report = report
        self.finishedAt = finishedAt
    }
}

/// `lucid-payout`'s termination message: `{outcome, txID, detail}`.
public struct TerminationReport: Sendable, Equatable {
    /// `accepted`, `notSent`, `maybeSent`, or `signerMissing` (no key file: nothing signed).
    public var outcome: String
    public var txID: String
    public var detail: String

    /// What `lucid-payout` reports when the signer key file is absent (the pod mounts the signer
    /// Secret as optional, so a missing Secret is reported by the pod instead of the operator
    /// having to read Secrets).
    public static let signerMissing = "signerMissing"

    public init(outcome: String, txID: String, detail: String) {
        self.outcome = outcome
        self.txID = txID
        self.detail = detail
    }
}
