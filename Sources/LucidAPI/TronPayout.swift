import StructuralSchema
import Tron

/// One payout (seed 000's payout events): a session, a recipient, an amount. Paid at most once.
/// Immutable once created; approval above the threshold is a separate `TronPayoutApproval`, so
/// RBAC can give approvers a permission that payout creators do not have.
public struct TronPayoutSpec: Codable, Sendable, Equatable {
    public var sessionId: String
    /// Base58 TRON address (T...).
    public var recipient: String
    /// Decimal string, e.g. "125.50": exact, never a float.
    public var amount: String
    public var currency: Currency
    public var network: String
    public var signer: Signer

    public init(sessionId: String, recipient: String, amount: String, currency: Currency, network: String, signer: Signer) {
        self.sessionId = sessionId
        self.recipient = recipient
        self.amount = amount
        self.currency = currency
        self.network = network
        self.signer = signer
    }
}

/// Who signs: the key in a Secret (mounted into the payout Job only) and its public address,
/// which the operator needs to build the transaction without ever reading the key. The Job
/// refuses to sign when the key's address is not this one.
public struct Signer: Codable, Sendable, Equatable {
    public var secretRef: SecretKeyRef
    /// The key's base58 address: the account the payout is paid from.
    public var address: String
    public init(secretRef: SecretKeyRef, address: String) {
        self.secretRef = secretRef
        self.address = address
    }
}

public struct SecretKeyRef: Codable, Sendable, Equatable {
    public var name: String
    public var key: String?
    public init(name: String, key: String? = nil) {
        self.name = name
        self.key = key
    }
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

    /// Completed, Failed and Rejected never change again.
    public var isTerminal: Bool { self == .completed || self == .failed || self == .rejected }
}

/// One prepared transaction and what became of it. Written (with a resourceVersion
/// precondition) before its Job exists; `txID` never changes for an attempt.
public struct PayoutAttempt: Codable, Sendable, Equatable {
    public var attempt: Int
    public var txID: String
    public var rawDataHex: String
    /// Chain time (ms) after which this transaction can never land.
    public var expiration: Int64
    /// The solid block the transaction references (TaPoS).
    public var referenceBlock: Int64?
    public var jobName: String
    /// When the operator prepared it (RFC 3339).
    public var preparedAt: String?
    /// What the Job reported, once it finished.
    public var job: AttemptJobResult?
    /// Why the attempt ended: `Confirmed`, `FailedOnChain` or `Expired`; nil while it may land.
    public var outcome: String?
    /// The evidence for `outcome`, in words (block, chain time, receipt).
    public var outcomeMessage: String?
    public var endedAt: String?

    public init(attempt: Int, txID: String, rawDataHex: String, expiration: Int64, referenceBlock: Int64? = nil, jobName: String,
                preparedAt: String? = nil) {
        self.attempt = attempt
        self.txID = txID
        self.rawDataHex = rawDataHex
        self.expiration = expiration
        self.referenceBlock = referenceBlock
        self.jobName = jobName
        self.preparedAt = preparedAt
    }
}

/// A finished payout Job as the operator read it: informational only, since whether money
/// moved is decided by the chain, never by a Job or a node's message.
public struct AttemptJobResult: Codable, Sendable, Equatable {
    /// `accepted`, `notSent`, `maybeSent`, `signerMissing` (from the termination message), or `unknown`.
    public var outcome: String
    public var exitCode: Int?
    public var detail: String?
    public var finishedAt: String?

    public init(outcome: String, exitCode: Int? = nil, detail: String? = nil, finishedAt: String? = nil) {
        self.outcome = outcome
        self.exitCode = exitCode
        self.detail = detail
        self.finishedAt = finishedAt
    }
}

public struct PayoutConfirmation: Codable, Sendable, Equatable {
    public var txID: String
    /// The solid block that holds it.
    public var block: Int64
    /// That block's time (chain time, ms).
    public var blockTime: Int64?
    /// Sun.
    public var fee: Int64
    /// When the operator saw the solid receipt (RFC 3339).
    public var confirmedAt: String?

    public init(txID: String, block: Int64, blockTime: Int64? = nil, fee: Int64, confirmedAt: String? = nil) {
        self.txID = txID
        self.block = block
        self.blockTime = blockTime
        self.fee = fee
        self.confirmedAt = confirmedAt
    }
}

/// The approval decision the payout followed, and who made it.
public struct PayoutApprovalRecord: Codable, Sendable, Equatable {
    /// The `TronPayoutApproval` object.
    public var name: String
    public var decision: ApprovalDecision
    public var approver: String
    public var reason: String?
    /// The approval's creation time (RFC 3339).
    public var decidedAt: String?

    public init(name: String, decision: ApprovalDecision, approver: String, reason: String? = nil, decidedAt: String? = nil) {
        self.name = name
        self.decision = decision
        self.approver = approver
        self.reason = reason
        self.decidedAt = decidedAt
    }
}

public struct TronPayoutStatus: Codable, Sendable, Equatable {
    public var phase: PayoutPhase?
    /// When the payout entered its phase (RFC 3339): how long it has been there, for the
    /// `lucid_payout_oldest_in_phase_seconds` gauge and the alerts on stuck payouts.
    public var phaseTransitionTime: String?
    public var observedGeneration: Int64?
    public var conditions: [Condition]?
    /// The current attempt's txID (also in `attempts`), for `kubectl get`.
    public var txID: String?
    public var attempts: [PayoutAttempt]?
    public var approval: PayoutApprovalRecord?
    public var confirmation: PayoutConfirmation?
    public var message: String?

    public init(phase: PayoutPhase? = nil) { self.phase = phase }
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
        "The payout. Immutable: approvals are TronPayoutApproval objects.", required: ["sessionId", "recipient", "amount", "currency", "network", "signer"],
        [
            "sessionId": .string("The session this pays for; one payout per session.", pattern: #"^[A-Za-z0-9][A-Za-z0-9._-]*$"#, minLength: 1, maxLength: 128, rules: immutable),
            "recipient": .string("Base58 TRON address.", pattern: base58Address, rules: immutable),
            "amount": .string("Decimal amount, at most 6 decimals, e.g. \"125.50\".", pattern: #"^[0-9]{1,13}(\.[0-9]{1,6})?$"#, rules: immutable),
            "currency": .string(enum: Currency.allCases.map(\.rawValue), rules: immutable),
            "network": .string(enum: TronNetwork.all.map(\.name), rules: immutable),
            "signer": Schema(type: "object", description: "The key that signs, from a Secret mounted into the payout Job only, and its address.",
                             properties: [
                                ("secretRef", .object(required: ["name"], [
                                    "name": .string(pattern: #"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"#, maxLength: 253),
                                    "key": .string(pattern: #"^[-._a-zA-Z0-9]+$"#, maxLength: 253, default: "key"),
                                ])),
                                ("address", .string("The key's base58 address, the account that pays; the Job refuses a key with another address.",
                                                    pattern: base58Address)),
                             ], required: ["secretRef", "address"], rules: immutable),
        ])

    static let base58Address = "^T[1-9A-HJ-NP-Za-km-z]{33}$"
    static let txIDPattern = "^[0-9a-f]{64}$"

    public static let statusSchema = Schema.object(
        "Where the payout stands.",
        [
            "phase": .string(enum: PayoutPhase.allCases.map(\.rawValue)),
            "phaseTransitionTime": .string("When the payout entered its phase.", format: "date-time"),
            "observedGeneration": .integer(minimum: 0),
            "conditions": Condition.listSchema,
            "txID": .string("The current attempt's txID.", pattern: txIDPattern),
            "attempts": .array("Every attempt, oldest first.", of: .object(required: ["attempt", "txID", "rawDataHex", "expiration", "jobName"], [
                "attempt": .integer(minimum: 1, format: "int32"),
                "txID": .string(pattern: txIDPattern),
                "rawDataHex": .string(pattern: "^([0-9a-f]{2})+$"),
                "expiration": .integer("Chain time (ms) after which it can never land."),
                "referenceBlock": .integer("The solid block it references.", minimum: 0),
                "jobName": .string(),
                "preparedAt": .string(format: "date-time"),
                "job": .object("What the Job reported (informational: the chain decides).", required: ["outcome"], [
                    "outcome": .string(enum: ["accepted", "notSent", "maybeSent", "signerMissing", "unknown"]),
                    "exitCode": .integer(format: "int32"),
                    "detail": .string(maxLength: 4096),
                    "finishedAt": .string(format: "date-time"),
                ]),
                "outcome": .string("Why the attempt ended.", enum: ["Confirmed", "FailedOnChain", "Expired"]),
                "outcomeMessage": .string(),
                "endedAt": .string(format: "date-time"),
            ])),
            "approval": .object("The approval the payout followed.", required: ["name", "decision", "approver"], [
                "name": .string(), "decision": .string(enum: ApprovalDecision.allCases.map(\.rawValue)),
                "approver": .string(), "reason": .string(), "decidedAt": .string(format: "date-time"),
            ]),
            "confirmation": .object(required: ["txID", "block", "fee"], [
                "txID": .string(pattern: txIDPattern), "block": .integer(minimum: 0), "blockTime": .integer(minimum: 0),
                "fee": .integer("Sun.", minimum: 0), "confirmedAt": .string(format: "date-time"),
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
        let intent: PayoutIntent
        do {
            intent = try PayoutIntent(recipient: spec.recipient, amount: spec.amount, currency: spec.currency.rawValue, network: spec.network)
        } catch {
            return [FieldError(.invalid, "spec.\(error.field)", "Invalid value: \(error.message)")]
        }
        let signer: TronAddress
        do { signer = try TronAddress(spec.signer.address) } catch {
            return [FieldError(.invalid, "spec.signer.address", "Invalid value: \(error.description)")]
        }
        if signer.isZero { return [FieldError(.invalid, "spec.signer.address", "Invalid value: the zero address cannot sign")] }
        if signer == intent.recipient {
            return [FieldError(.invalid, "spec.recipient", "Invalid value: the recipient is the signer's own address")]
        }
        return []
    }
}

public typealias TronPayout = Resource<TronPayoutKind>
