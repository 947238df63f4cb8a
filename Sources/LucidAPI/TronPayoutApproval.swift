import StructuralSchema

/// An admin's decision on a payout at or above the approval threshold (seed 000's admin
/// approve/reject). A resource of its own, not a field of the payout: RBAC on
/// `tronpayoutapprovals` alone separates who may approve from who may create payouts.
public struct TronPayoutApprovalSpec: Codable, Sendable, Equatable {
    /// The `TronPayout` in the same namespace this decides.
    public var payoutName: String
    /// Binds the decision to one payout object. Without it, the approval only counts for a
    /// payout created before the approval (a payout deleted and created again under the same
    /// name is not approved by an older decision).
    public var payoutUID: String?
    public var decision: ApprovalDecision
    /// Who decided: the Kubernetes user name. A ValidatingAdmissionPolicy can require it to be
    /// `request.userInfo.username` (see the README), so it cannot be made up.
    public var approver: String
    /// Why; required for a rejection.
    public var reason: String?

    public init(payoutName: String, payoutUID: String? = nil, decision: ApprovalDecision, approver: String, reason: String? = nil) {
        self.payoutName = payoutName
        self.payoutUID = payoutUID
        self.decision = decision
        self.approver = approver
        self.reason = reason
    }
}

public enum ApprovalDecision: String, Codable, Sendable, CaseIterable {
    case approved = "Approved"
    case rejected = "Rejected"
}

/// What the operator made of an approval (e.g. `Applied`, or ignored because it names no payout).
public struct TronPayoutApprovalStatus: Codable, Sendable, Equatable {
    public var observedGeneration: Int64?
    public var conditions: [Condition]?
    public init() {}
}

public enum TronPayoutApprovalKind: ResourceKind {
    public typealias Spec = TronPayoutApprovalSpec
    public typealias Status = TronPayoutApprovalStatus

    public static let group = "payments.lucid.io"
    public static let kind = "TronPayoutApproval"
    public static let plural = "tronpayoutapprovals"
    public static let shortNames = ["payoutapproval", "tpa"]
    public static let description = "TronPayoutApproval records an admin's decision (Approved or Rejected) on one TronPayout at or above the approval threshold. Separate from the payout so that RBAC can grant approving without creating, and the other way round. Immutable."

    static let immutable = [Schema.Rule("self == oldSelf", message: "an approval cannot be changed; create another")]

    public static let specSchema = Schema.object(
        "The decision. Immutable.", required: ["payoutName", "decision", "approver"],
        rules: immutable + [Schema.Rule("self.decision != 'Rejected' || has(self.reason)", message: "a rejection needs a reason",
                                        fieldPath: ".reason")],
        [
            "payoutName": .string("The TronPayout (same namespace) this decides.", pattern: #"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"#, maxLength: 253),
            "payoutUID": .string("The payout's metadata.uid, binding the decision to that object.",
                                 pattern: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
            "decision": .string(enum: ApprovalDecision.allCases.map(\.rawValue)),
            "approver": .string("The approver's Kubernetes user name.", minLength: 1, maxLength: 253),
            "reason": .string(maxLength: 1024),
        ])

    public static let statusSchema = Schema.object(
        "What the operator made of the approval.",
        [
            "observedGeneration": .integer(minimum: 0),
            "conditions": Condition.listSchema,
        ])

    public static let printerColumns = [
        PrinterColumn("Payout", "string", ".spec.payoutName"),
        PrinterColumn("Decision", "string", ".spec.decision"),
        PrinterColumn("Approver", "string", ".spec.approver"),
        PrinterColumn.age,
    ]

    public static func semanticErrors(_ spec: TronPayoutApprovalSpec) -> [FieldError] {
        if spec.decision == .rejected, (spec.reason ?? "").allSatisfy(\.isWhitespace) {
            return [FieldError(.required, "spec.reason", "Required value: a rejection needs a reason")]
        }
        return []
    }
}

public typealias TronPayoutApproval = Resource<TronPayoutApprovalKind>
