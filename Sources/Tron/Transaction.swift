/// The contract a transaction carries: only the two a payout uses.
public enum TronContract: Sendable, Equatable {
    /// TRX transfer (`protocol.TransferContract`, type 1).
    case transfer(owner: TronAddress, to: TronAddress, amount: Int64)
    /// Smart-contract call (`protocol.TriggerSmartContract`, type 31), e.g. a TRC20 transfer.
    case triggerSmartContract(owner: TronAddress, contract: TronAddress, callValue: Int64, data: [UInt8])

    static let transferTypeURL = "type.googleapis.com/protocol.TransferContract"
    static let triggerTypeURL = "type.googleapis.com/protocol.TriggerSmartContract"

    public var owner: TronAddress {
        switch self {
        case .transfer(let owner, _, _), .triggerSmartContract(let owner, _, _, _): owner
        }
    }

    public var typeName: String {
        switch self {
        case .transfer: "TransferContract"
        case .triggerSmartContract: "TriggerSmartContract"
        }
    }

    /// `Transaction.Contract` message bytes.
    func encoded() -> [UInt8] {
        var parameter = ProtoWriter()
        var any = ProtoWriter()
        var contract = ProtoWriter()
        switch self {
        case .transfer(let owner, let to, let amount):
            parameter.bytes(1, owner.bytes)
            parameter.bytes(2, to.bytes)
            parameter.int(3, amount)
            any.bytes(1, Array(Self.transferTypeURL.utf8))
            contract.int(1, 1)
        case .triggerSmartContract(let owner, let address, let callValue, let data):
            parameter.bytes(1, owner.bytes)
            parameter.bytes(2, address.bytes)
            parameter.int(3, callValue)
            parameter.bytes(4, data)
            any.bytes(1, Array(Self.triggerTypeURL.utf8))
            contract.int(1, 31)
        }
        any.bytes(2, parameter.bytes)
        contract.bytes(2, any.bytes)
        return contract.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(ProtoError) -> TronContract {
        var type: UInt64 = 0
        var any: [UInt8] = []
        var reader = ProtoReader(bytes)
        while let (field, value) = try reader.field() {
            switch (field, value) {
            case (1, .varint(let v)): type = v
            case (2, .bytes(let b)): any = b
            default: break
            }
        }
        var typeURL = ""
        var parameter: [UInt8] = []
        reader = ProtoReader(any)
        while let (field, value) = try reader.field() {
            switch (field, value) {
            case (1, .bytes(let b)): typeURL = String(decoding: b, as: UTF8.self)
            case (2, .bytes(let b)): parameter = b
            default: break
            }
        }
        var owner: [UInt8] = [], target: [UInt8] = [], amount: Int64 = 0, data: [UInt8] = []
        reader = ProtoReader(parameter)
        while let (field, value) = try reader.field() {
            switch (field, value) {
            case (1, .bytes(let b)): owner = b
            case (2, .bytes(let b)): target = b
            case (3, .varint(let v)): amount = Int64(bitPattern: v)
            case (4, .bytes(let b)): data = b
            default: break
            }
        }
        func address(_ b: [UInt8], _ what: String) throws(ProtoError) -> TronAddress {
            do { return try TronAddress(bytes: b) } catch { throw ProtoError(description: "\(what): \(error.description)") }
        }
        switch (type, typeURL) {
        case (1, transferTypeURL):
            return .transfer(owner: try address(owner, "owner_address"), to: try address(target, "to_address"), amount: amount)
        case (31, triggerTypeURL):
            return .triggerSmartContract(owner: try address(owner, "owner_address"), contract: try address(target, "contract_address"),
                                         callValue: amount, data: data)
        default:
            throw ProtoError(description: "unsupported contract type \(type) (\(typeURL)); only TransferContract and TriggerSmartContract")
        }
    }
}

/// `Transaction.raw`: what is hashed into the txID and signed.
public struct RawTransaction: Sendable, Equatable {
    public var refBlockBytes: [UInt8]
    public var refBlockHash: [UInt8]
    /// Milliseconds since the epoch, in chain time; the network drops the transaction after it.
    public var expiration: Int64
    public var timestamp: Int64
    public var feeLimit: Int64
    public var contract: TronContract

    public init(refBlockBytes: [UInt8], refBlockHash: [UInt8], expiration: Int64, timestamp: Int64, feeLimit: Int64 = 0,
                contract: TronContract) {
        self.refBlockBytes = refBlockBytes
        self.refBlockHash = refBlockHash
        self.expiration = expiration
        self.timestamp = timestamp
        self.feeLimit = feeLimit
        self.contract = contract
    }

    /// The exact protobuf bytes (fields in number order, defaults omitted, as java-tron writes them).
    public func encoded() -> [UInt8] {
        var w = ProtoWriter()
        w.bytes(1, refBlockBytes)
        w.bytes(4, refBlockHash)
        w.int(8, expiration)
        w.bytes(11, contract.encoded())
        w.int(14, timestamp)
        w.int(18, feeLimit)
        return w.bytes
    }

    /// sha256 of the raw bytes.
    public var txID: [UInt8] { sha256(encoded()) }

    /// Reads raw bytes back. Fields a payout never sets (auths, data, scripts, ref_block_num)
    /// are refused rather than ignored, so what is checked is all that is signed.
    public static func decode(_ bytes: [UInt8]) throws(ProtoError) -> RawTransaction {
        var reader = ProtoReader(bytes)
        var refBytes: [UInt8] = [], refHash: [UInt8] = [], expiration: Int64 = 0, timestamp: Int64 = 0, feeLimit: Int64 = 0
        var contracts: [TronContract] = []
        while let (field, value) = try reader.field() {
            switch (field, value) {
            case (1, .bytes(let b)): refBytes = b
            case (4, .bytes(let b)): refHash = b
            case (8, .varint(let v)): expiration = Int64(bitPattern: v)
            case (11, .bytes(let b)): contracts.append(try TronContract.decode(b))
            case (14, .varint(let v)): timestamp = Int64(bitPattern: v)
            case (18, .varint(let v)): feeLimit = Int64(bitPattern: v)
            default: throw ProtoError(description: "unexpected field \(field) in Transaction.raw")
            }
        }
        guard contracts.count == 1, let contract = contracts.first else {
            throw ProtoError(description: "a payout transaction holds exactly one contract, not \(contracts.count)")
        }
        return RawTransaction(refBlockBytes: refBytes, refBlockHash: refHash, expiration: expiration, timestamp: timestamp,
                              feeLimit: feeLimit, contract: contract)
    }
}

/// A signed transaction, as `broadcasthex` takes it: `Transaction { raw raw_data = 1; repeated bytes signature = 2; }`.
public struct SignedTransaction: Sendable, Equatable {
    public var rawData: [UInt8]
    public var signature: [UInt8]

    public init(rawData: [UInt8], signature: [UInt8]) {
        self.rawData = rawData
        self.signature = signature
    }

    public var txID: [UInt8] { sha256(rawData) }

    public func encoded() -> [UInt8] {
        var w = ProtoWriter()
        w.bytes(1, rawData)
        w.bytes(2, signature)
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(ProtoError) -> SignedTransaction {
        var reader = ProtoReader(bytes)
        var raw: [UInt8] = [], signature: [UInt8] = []
        while let (field, value) = try reader.field() {
            switch (field, value) {
            case (1, .bytes(let b)): raw = b
            case (2, .bytes(let b)): signature = b
            default: break
            }
        }
        return SignedTransaction(rawData: raw, signature: signature)
    }
}
