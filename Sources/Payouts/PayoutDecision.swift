import LucidAPI
import YAML

/// What the machine must know of the chain before it can decide.
public enum ChainNeed: Sendable, Equatable {
    /// The latest solid block (to prepare a transaction).
    case solidHead
    /// The latest solid block, then the txID's solid receipt (`TronGridClient.solidView`).
    case solidView(txID: String)
}

/// An Event (events.k8s.io/v1) on the payout.
public struct PayoutEvent: Sendable, Equatable {
    public enum Kind: String, Sendable { case normal = "Normal", warning = "Warning" }
    public var type: Kind
    /// CamelCase, stable.
    public var reason: String
    public var note: String

    public init(_ type: Kind, _ reason: String, _ note: String) {
        self.type = type
        self.reason = reason
        self.note = note
    }
}

/// A change the controller makes besides the payout's status.
public enum PayoutAction: Sendable, Equatable {
    /// Add `PayoutMachine.finalizer` to the payout (a metadata write; never with a status write).
    case addFinalizer
    /// Remove it (likewise alone).
    case removeFinalizer
    /// Create the session's claim (a ConfigMap). `AlreadyExists` is no error: decide again.
    case claimSession(JSON)
    /// Create the attempt's Job. Only ever for an attempt already in the input's status, that
    /// is, persisted. `AlreadyExists` is no error.
    case createJob(JSON)
    case event(PayoutEvent)
}

/// The machine's answer for one payout.
///
/// The controller performs it in this order: when `chainNeed` is set, it reads the chain and
/// decides again (nothing else is set then); otherwise it performs `actions` in order, then
/// writes `status` through `/status` with `resourceVersion` as precondition (a 409 means the
/// payout changed: decide again from the new one). A finalizer change never comes with a status.
public struct PayoutDecision: Sendable, Equatable {
    public var chainNeed: ChainNeed?
    public var actions: [PayoutAction]
    /// The new status; nil when it is unchanged (an idle payout writes nothing).
    public var status: TronPayoutStatus?
    /// The payout's resourceVersion the status write must be conditional on.
    public var resourceVersion: String?
    /// Decide again after this long even if nothing changes (chain polling, stalled checks).
    public var requeueAfter: Duration?

    public init(chainNeed: ChainNeed? = nil, actions: [PayoutAction] = [], status: TronPayoutStatus? = nil,
                resourceVersion: String? = nil, requeueAfter: Duration? = nil) {
        self.chainNeed = chainNeed
        self.actions = actions
        self.status = status
        self.resourceVersion = resourceVersion
        self.requeueAfter = requeueAfter
    }

    /// The Events to record.
    public var events: [PayoutEvent] {
        actions.compactMap { if case .event(let e) = $0 { e } else { nil } }
    }

    /// The Job to create, if any.
    public var job: JSON? {
        actions.lazy.compactMap { if case .createJob(let j) = $0 { j } else { nil } }.first
    }

    /// Whether the decision changes anything in the cluster (an Event alone does not happen).
    public var writes: Bool { status != nil || actions.contains { if case .event = $0 { false } else { true } } }
}
