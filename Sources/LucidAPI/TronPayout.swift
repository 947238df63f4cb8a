import StructuralSchema
import Tron

/// One payout (seed 000's payout events): a session, a recipient, an amount. Paid at most once.
public struct TronPayoutSpec: Codable, Sendable, Equatable {
    public var sessionId: String
    /// Base58 TRON address (T...).
    public var recipient: String
    /// Decimal string, e.g. "125.50": exact, never a float.
    public var amount: String
    public var currency: Currency
    public var network: String
    public var signer: Signer
    public var approval: Approval?

    public init(sessionId: String, recipient: String, amount: String, currency: Currency, network: String, signer: Signer, approval: Approval? = nil) {
        self.sessionId = sessionId
        self.recipient = recipient
        self.amount = amount
        self.currency = currency
        self.network = network
        self.signer = signer
        self.approval = approval
    }
}

public struct Signer: Codable, Sendable, Equatable {
    /// The Secret holding the signing key, mounted into the payout Job; the operator never reads it.
    public var secretRef: SecretKeyRef
    public init(secretRef: SecretKeyRef) { self.secretRef = secretRef }
}

public struct SecretKeyRef: Codable, Sendable, Equatable {
    public var name: String
    public var key: String?
    public init(name: String, key: String? = nil) {
        self.name = name
        self.key = key
    }
}

/// An admin's decision on a payout above the approval threshold.
public struct Approval: Codable, Sendable, Equatable {
    public enum Decision: String, Codable, Sendable, CaseIterable { case approved = "Approved", rejected = "Rejected" }
    public var decision: Decision
    public var by: String
    public var reason: String?
}

public enum PayoutPhase: String, Codable, Sendable, CaseIterable {
    case pending = "Pending"
    case awaitingApproval = "AwaitingApproval"
    case rejected = "Rejected"
    case prepared = "Prepared"
    case broadcasting = "Broadcasting"
    case confirming = "Confirming"
    case completed = "Completed"
    case failed = "Failed"
}

public struct PayoutAttempt: Codable, Sendable, Equatable {
    public var attempt: Int
    public var txID: String
    public var rawDataHex: String
    /// Chain time (ms) after which this transaction can never land.
    public var expiration: Int64
    public var jobName: String
    /// What ended the attempt, when it ended without paying.
    public var outcome: String?
}

public struct PayoutConfirmation: Codable, Sendable, Equatable {
    public var txID: String
    public var block: Int64
    /// Sun.
    public var fee: Int64
}

public struct TronPayoutStatus: Codable, Sendable, Equatable {
    public var phase: PayoutPhase?
    public var observedGeneration: Int64?
    public var conditions: [Condition]?
    /// The current attempt's txID (also in `attempts`), for `kubectl get`.
    public var txID: String?
    public var attempts: [PayoutAttempt]?
    public var confirmation: PayoutConfirmation?
    public var message: String?
}

public enum TronPayoutKind: ResourceKind {
    public typealias Spec = TronPayoutSpec
    public typealias Status = TronPayoutStatus

    public static let group = "payments.lucid.io"
    public static let kind = "TronPayout"
    public static let plural = "tronpayouts"
    public static let shortNames = ["payout", "tpo"]
    public static let description = "TronPayout declares one TRON payout (USDT or TRX) for a finished session. The operator prepares the transaction, runs one Job that signs and broadcasts it, and reports its confirmation. Paid at most once."

    static let immutable = [Schema.Rule("self == oldSelf", message: "cannot change once the payout is created")]

    public static let specSchema = Schema.object(
        "The payout. Everything but approval is immutable.", required: ["sessionId", "recipient", "amount", "currency", "network", "signer"],
        [
            "sessionId": .string("The session this pays for; one payout per session.", pattern: #"^[A-Za-z0-9][A-Za-z0-9._-]*$"#, minLength: 1, maxLength: 128, rules: immutable),
            "recipient": .string("Base58 TRON address.", pattern: "^T[1-9A-HJ-NP-Za-km-z]{33}$", rules: immutable),
            "amount": .string("Decimal amount, at most 6 decimals, e.g. \"125.50\".", pattern: #"^[0-9]{1,13}(\.[0-9]{1,6})?$"#, rules: immutable),
            "currency": .string(enum: Currency.allCases.map(\.rawValue), rules: immutable),
            "network": .string(enum: TronNetwork.all.map(\.name), rules: immutable),
            "signer": Schema(type: "object", description: "The key that signs, from a Secret mounted into the payout Job.",
                             properties: [("secretRef", .object(required: ["name"], [
                                 "name": .string(pattern: #"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"#, maxLength: 253),
                                 "key": .string(pattern: #"^[-._a-zA-Z0-9]+$"#, maxLength: 253, default: "key"),
                             ]))], required: ["secretRef"], rules: immutable),
            "approval": .object("An admin's decision, for payouts above the approval threshold.", required: ["decision", "by"], [
                "decision": .string(enum: Approval.Decision.allCases.map(\.rawValue)),
                "by": .string(minLength: 1, maxLength: 253),
                "reason": .string(maxLength: 1024),
            ]),
        ])

    public static let statusSchema = Schema.object(
        "Where the payout stands.",
        [
            "phase": .string(enum: PayoutPhase.allCases.map(\.rawValue)),
            "observedGeneration": .integer(minimum: 0),
            "conditions": Condition.listSchema,
            "txID": .string(pattern: "^[0-9a-f]{64}$"),
            "attempts": .array("Every attempt, oldest first.", of: .object(required: ["attempt", "txID", "rawDataHex", "expiration", "jobName"], [
                "attempt": .integer(minimum: 1, format: "int32"),
                "txID": .string(pattern: "^[0-9a-f]{64}$"),
                "rawDataHex": .string(pattern: "^([0-9a-f]{2})+$"),
                "expiration": .integer("Chain time (ms) after which it can never land."),
                "jobName": .string(),
                "outcome": .string(),
            ])),
            "confirmation": .object(required: ["txID", "block", "fee"], [
                "txID": .string(), "block": .integer(minimum: 0), "fee": .integer(minimum: 0),
            ]),
            "message": .string(),
        ])

    public static let printerColumns = [
        PrinterColumn("Recipient", "string", ".spec.recipient"),
        PrinterColumn("Amount", "string", ".spec.amount"),
        PrinterColumn("Currency", "string", ".spec.currency"),
        PrinterColumn("Phase", "string", ".status.phase"),
        PrinterColumn("TxID", "string", ".status.txID"),
        PrinterColumn.age,
    ]

    public static func semanticErrors(_ spec: TronPayoutSpec) -> [FieldError] {
        do {
            _ = try PayoutIntent(recipient: spec.recipient, amount: spec.amount, currency: spec.currency.rawValue, network: spec.network)
            return []
        } catch {
            return [FieldError(.invalid, "spec.\(error.field)", "Invalid value: \(error.message)")]
        }
    }
}

public typealias TronPayout = Resource<TronPayoutKind>
