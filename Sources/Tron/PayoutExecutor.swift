/// A payout attempt handed to the executor: the prepared bytes and what they must pay.
public struct BroadcastOrder: Sendable {
    public var rawDataHex: String
    public var txID: String
    public var intent: PayoutIntent

    public init(rawDataHex: String, txID: String, intent: PayoutIntent) {
        self.rawDataHex = rawDataHex
        self.txID = txID.lowercased()
        self.intent = intent
    }
}

/// How an attempt ended, in the three kinds the operator acts on.
public enum ExecutionOutcome: Sendable, Equatable {
    /// The network has the transaction: accepted now, a duplicate, or already on chain.
    case accepted(detail: String)
    /// Nothing was sent, or the node provably refused it: the same txID can be retried, and it
    /// cannot land later by way of this run.
    case notSent(reason: String)
    /// A broadcast may have reached a node: only the chain can tell (by txID) whether it lands.
    case maybeSent(reason: String)

    /// Exit codes of `lucid-payout broadcast`.
    public var exitCode: Int32 {
        switch self {
        case .accepted: 0
        case .notSent: 3
        case .maybeSent: 4
        }
    }

    public var name: String {
        switch self {
        case .accepted: "accepted"
        case .notSent: "notSent"
        case .maybeSent: "maybeSent"
        }
    }

    public var detail: String {
        switch self {
        case .accepted(let d), .notSent(let d), .maybeSent(let d): d
        }
    }
}

/// Signs and broadcasts a prepared payout transaction at most once per txID.
public struct PayoutExecutor: Sendable {
    /// Broadcast codes that mean the node validated the transaction and refused it.
    static let refusals: Set<String> = [
        "SIGERROR", "CONTRACT_VALIDATE_ERROR", "CONTRACT_EXE_ERROR", "BANDWITH_ERROR", "TAPOS_ERROR",
        "TOO_BIG_TRANSACTION_ERROR", "TRANSACTION_EXPIRATION_ERROR",
    ]

    let client: TronGridClient

    public init(client: TronGridClient) { self.client = client }

    /// The offline half: the bytes hash to the txID, decode, and pay exactly the intent from
    /// the key's address. Returns the signed transaction.
    public static func sign(_ order: BroadcastOrder, key: PrivateKey) -> Result<(RawTransaction, SignedTransaction), NotSent> {
        guard let raw = [UInt8](hex: order.rawDataHex), !raw.isEmpty else {
            return .failure(NotSent("--raw-data-hex is not hex"))
        }
        guard sha256(raw).hex == order.txID else {
            return .failure(NotSent("sha256(raw data) is \(sha256(raw).hex), not the txID \(order.txID)"))
        }
        let transaction: RawTransaction
        do { transaction = try RawTransaction.decode(raw) } catch {
            return .failure(NotSent("the raw data does not decode: \(error.description)"))
        }
        do { try order.intent.verify(transaction, owner: key.address) } catch {
            return .failure(NotSent("the raw data does not match the payout: \(error.description)"))
        }
        do {
            let signature = try key.sign(digest: raw.sha256Digest)
            return .success((transaction, SignedTransaction(rawData: raw, signature: signature)))
        } catch {
            return .failure(NotSent(error.description))
        }
    }

    public struct NotSent: Error, Sendable, Equatable {
        public let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Checks, asks the chain for the txID first (never broadcasts a known one), refuses an
    /// expired transaction, signs, and broadcasts the exact bytes.
    public func broadcast(_ order: BroadcastOrder, key: PrivateKey) async -> ExecutionOutcome {
        let transaction: RawTransaction, signed: SignedTransaction
        switch Self.sign(order, key: key) {
        case .failure(let refusal): return .notSent(reason: refusal.reason)
        case .success(let pair): (transaction, signed) = pair
        }
        do {
            if try await client.transaction(id: order.txID).known {
                return .accepted(detail: "txID \(order.txID) is already on chain; not broadcast again")
            }
        } catch {
            return .notSent(reason: "could not ask the chain whether \(order.txID) exists: \(error.description)")
        }
        do {
            let head = try await client.nowBlock(solid: false)
            if head.timestamp >= transaction.expiration {
                return .notSent(reason: "the transaction expired at \(transaction.expiration); the chain is at \(head.timestamp)")
            }
        } catch {
            return .notSent(reason: "could not read the latest block: \(error.description)")
        }

        let result: BroadcastResult
        do {
            result = try await client.broadcastHex(signed)
        } catch {
            if case .http(let status) = error.kind, [403, 429, 503].contains(status) {
                return .notSent(reason: "the node refused the request: \(error.description)")
            }
            // The request may have reached the node: ask the chain before saying so.
            if let known = try? await client.transaction(id: order.txID).known, known {
                return .accepted(detail: "broadcast got no answer (\(error.description)), but txID \(order.txID) is on chain")
            }
            return .maybeSent(reason: "broadcast got no answer: \(error.description)")
        }
        if result.accepted { return .accepted(detail: "broadcast accepted, txID \(order.txID)") }
        let code = result.code ?? "UNKNOWN"
        let message = result.message.map { ": \($0)" } ?? ""
        if code == "DUP_TRANSACTION_ERROR" { return .accepted(detail: "the node already has txID \(order.txID) (DUP_TRANSACTION_ERROR)") }
        if Self.refusals.contains(code) { return .notSent(reason: "the node refused the transaction: \(code)\(message)") }
        return .maybeSent(reason: "the node answered \(code)\(message)")
    }
}

extension Array where Element == UInt8 {
    var sha256Digest: [UInt8] { sha256(self) }
}
