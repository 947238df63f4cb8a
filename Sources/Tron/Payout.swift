/// What a payout must pay: the operator builds its transaction from this, and `lucid-payout`
/// checks a transaction against it before signing.
public struct PayoutIntent: Sendable, Equatable {
    public var recipient: TronAddress
    public var amount: Amount
    public var currency: Currency
    public var network: TronNetwork

    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        /// The field at fault: recipient, amount, currency, network, owner, contract, ...
        public let field: String
        public let message: String
        public var description: String { "\(field): \(message)" }
    }

    public init(recipient: TronAddress, amount: Amount, currency: Currency, network: TronNetwork) throws(Invalid) {
        if recipient.isZero { throw Invalid(field: "recipient", message: "the zero address cannot receive a payout") }
        if currency == .usdt {
            guard let contract = network.usdtContract else {
                throw Invalid(field: "currency", message: "network \(network.name) has no USDT contract; pay TRX there")
            }
            if recipient == contract { throw Invalid(field: "recipient", message: "the recipient is the USDT token contract itself") }
        }
        self.recipient = recipient
        self.amount = amount
        self.currency = currency
        self.network = network
    }

    /// Parses the text form used by the resource and the executor's flags.
    public init(recipient: String, amount: String, currency: String, network: String) throws(Invalid) {
        let address: TronAddress
        do { address = try TronAddress(recipient) } catch { throw Invalid(field: "recipient", message: error.description) }
        guard let currency = Currency(rawValue: currency.uppercased()) else {
            throw Invalid(field: "currency", message: "\"\(currency)\" is not USDT or TRX")
        }
        let value: Amount
        do { value = try Amount(decimal: amount, currency: currency) } catch { throw Invalid(field: "amount", message: error.description) }
        guard let net = TronNetwork.named(network) else {
            throw Invalid(field: "network", message: "\"\(network)\" is not one of \(TronNetwork.all.map(\.name).joined(separator: ", "))")
        }
        try self.init(recipient: address, amount: value, currency: currency, network: net)
    }

    /// The contract that pays this intent from `owner`.
    public func contract(owner: TronAddress) -> TronContract {
        switch currency {
        case .trx: .transfer(owner: owner, to: recipient, amount: amount.baseUnits)
        case .usdt: .triggerSmartContract(owner: owner, contract: network.usdtContract!, callValue: 0,
                                          data: ABI.transferCall(to: recipient, amount: amount.baseUnits))
        }
    }

    /// Checks that `raw` pays exactly this intent from `owner`; names the first field that differs.
    public func verify(_ raw: RawTransaction, owner: TronAddress) throws(Invalid) {
        guard raw.contract.owner == owner else {
            throw Invalid(field: "owner", message: "the transaction spends from \(raw.contract.owner), but the key is \(owner)")
        }
        switch (currency, raw.contract) {
        case (.trx, .transfer(_, let to, let value)):
            guard to == recipient else { throw Invalid(field: "recipient", message: "the transaction pays \(to), not \(recipient)") }
            guard value == amount.baseUnits else {
                throw Invalid(field: "amount", message: "the transaction pays \(Amount(baseUnits: value)) TRX, not \(amount)")
            }
        case (.usdt, .triggerSmartContract(_, let contract, let callValue, let data)):
            guard contract == network.usdtContract else {
                throw Invalid(field: "contract", message: "the transaction calls \(contract), not the \(network.name) USDT contract")
            }
            guard callValue == 0 else { throw Invalid(field: "contract", message: "the transaction also sends \(callValue) sun") }
            guard let call = ABI.decodeTransferCall(data) else {
                throw Invalid(field: "contract", message: "the call data is not transfer(address,uint256)")
            }
            guard call.to == recipient else { throw Invalid(field: "recipient", message: "the transaction pays \(call.to), not \(recipient)") }
            guard call.amount == amount.baseUnits else {
                throw Invalid(field: "amount", message: "the transaction pays \(Amount(baseUnits: call.amount)) USDT, not \(amount)")
            }
        default:
            throw Invalid(field: "currency", message: "a \(currency.rawValue) payout cannot be a \(raw.contract.typeName)")
        }
    }
}

/// A block as the builder needs it: number, id and time (chain time, milliseconds).
public struct BlockHeader: Sendable, Equatable {
    public var number: Int64
    /// The 32-byte block id.
    public var id: [UInt8]
    public var timestamp: Int64

    public init(number: Int64, id: [UInt8], timestamp: Int64) {
        self.number = number
        self.id = id
        self.timestamp = timestamp
    }
}

public enum TransactionBuilder {
    /// Fee limit of a TRC20 transfer when none is given: 30 TRX.
    public static let defaultFeeLimit: Int64 = 30_000_000
    /// How long after the reference block a transaction stays valid when none is given.
    public static let defaultExpirationWindow: Int64 = 10 * 60 * 1000

    /// Builds `raw_data` for `intent`, anchored to `reference` (the latest *solid* block): TaPoS
    /// bytes from its number and id, timestamp and expiration from its time. Pure: chain time
    /// in, bytes out; no clock.
    public static func build(_ intent: PayoutIntent, owner: TronAddress, reference: BlockHeader,
                             expirationWindow: Int64 = defaultExpirationWindow, feeLimit: Int64 = defaultFeeLimit) -> RawTransaction {
        let number = UInt64(bitPattern: reference.number)
        let numberBytes = (0..<8).reversed().map { UInt8(truncatingIfNeeded: number >> (UInt64($0) * 8)) }
        return RawTransaction(
            refBlockBytes: Array(numberBytes[6..<8]),
            refBlockHash: Array(reference.id[8..<16]),
            expiration: reference.timestamp + expirationWindow,
            timestamp: reference.timestamp,
            feeLimit: intent.currency == .usdt ? feeLimit : 0,
            contract: intent.contract(owner: owner))
    }
}

/// What a receipt from the solidity endpoint says about a payout.
public enum ConfirmationVerdict: Sendable, Equatable {
    /// Paid: in solid block `block`, costing `fee` sun.
    case confirmed(block: Int64, fee: Int64)
    /// The transaction is on chain and failed: this txID can never pay; a new attempt may.
    case failed(reason: String)
}

extension PayoutIntent {
    /// Judges a solid receipt: TRX needs `contractRet == SUCCESS`; USDT needs
    /// `receipt.result == SUCCESS` and a Transfer log from the USDT contract paying exactly
    /// this recipient this amount from `owner`.
    public func verdict(for info: TransactionInfo, contractRet: String?, owner: TronAddress) -> ConfirmationVerdict {
        switch currency {
        case .trx:
            guard info.result != "FAILED", contractRet == "SUCCESS" else {
                return .failed(reason: "contractRet is \(contractRet ?? "missing")")
            }
        case .usdt:
            guard info.receiptResult == "SUCCESS", info.result != "FAILED" else {
                return .failed(reason: "receipt.result is \(info.receiptResult ?? "missing")")
            }
            let expected = [ABI.transferEventTopic, ABI.word(owner.accountID), ABI.word(recipient.accountID)]
            let paid = info.logs.contains { log in
                log.address == network.usdtContract?.accountID && log.topics == expected && log.data == ABI.word(amount.baseUnits)
            }
            guard paid else { return .failed(reason: "no Transfer log of \(amount) USDT to \(recipient) from \(owner)") }
        }
        return .confirmed(block: info.blockNumber, fee: info.fee)
    }
}
