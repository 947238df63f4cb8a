import LoopbackServer
import Synchronization
import Tron
import YAML

/// A simulated TRON chain behind TronGrid's HTTP API, on loopback, for tests and
/// `lucid-operator dev`.
///
/// Blocks are produced every `blockInterval` of wall time (worked out lazily on each request),
/// and `advance(by:)` jumps the chain forward (past an expiration, say); the solid block trails
/// the head by `solidLag` blocks. A broadcast is checked the way java-tron checks it (duplicate,
/// signature, expiration, TaPoS), waits in a pending pool, and lands in the next block with a
/// receipt: SUCCESS, or REVERT when `faults.revert` is set. What matters for at-most-once is
/// counted: broadcasts per txID, and transfers (what actually moved on chain) per recipient and
/// amount.
///
/// Endpoints: `/wallet/getnowblock`, `/wallet/broadcasthex`, `/wallet/gettransactionbyid`,
/// `/wallet/gettransactioninfobyid`, and the solidity ones `/walletsolidity/getnowblock`,
/// `/walletsolidity/gettransactionbyid`, `/walletsolidity/gettransactioninfobyid`, answering
/// `{}` for an unknown txID as TronGrid does.
public final class FakeTronGrid: Sendable {
    /// Ways to misbehave, settable while the server runs.
    public struct Faults: Sendable {
        /// Accept the next broadcast into the pool, then answer only after this long (the client
        /// times out first).
        public var acceptThenStall: Duration?
        /// The same, for the first accepted broadcast of each of these txIDs.
        public var acceptThenStallTxIDs: [String: Duration] = [:]
        /// Solidification stalls at this block (finality lagging): the solidity endpoints see
        /// no later block and no transaction in one. Nil: the solid block trails the head by `solidLag`.
        public var solidHeldAt: Int64?
        /// Answer this many next requests with 503.
        public var unavailable = 0
        /// Refuse the next broadcast with SIGERROR, whatever its signature.
        public var sigError = false
        /// TRC20 calls revert.
        public var revert = false
        public init() {}
    }

    struct Included {
        var block: Int64
        var timestamp: Int64
        var signed: SignedTransaction
        var raw: RawTransaction
        var success: Bool
    }

    /// Value moved by a transaction that succeeded in a block.
    public struct Transfer: Sendable, Equatable {
        public var txID: String
        public var block: Int64
        public var from: TronAddress
        public var to: TronAddress
        /// Base units (sun, or the token's).
        public var amount: Int64
        /// nil for TRX; the token contract for a TRC20 transfer.
        public var token: TronAddress?
    }

    struct Chain {
        var head: Int64 = 0
        /// Blocks added by `advance`, on top of those wall time produced.
        var skipped: Int64 = 0
        var pending: [(id: String, signed: SignedTransaction, raw: RawTransaction)] = []
        var included: [String: Included] = [:]
        var broadcasts: [String: Int] = [:]
        var transfers: [Transfer] = []
        var apiKeys: Set<String> = []
        var faults = Faults()
    }

    public let genesisTime: Int64
    public let blockInterval: Duration
    public let solidLag: Int64
    public let usdtContract: TronAddress
    private let started = ContinuousClock.now
    private let chain = Mutex(Chain())
    public let port: Int

    init(port: Int, genesisTime: Int64, blockInterval: Duration, solidLag: Int64, usdtContract: TronAddress) {
        self.port = port
        self.genesisTime = genesisTime
        self.blockInterval = blockInterval
        self.solidLag = solidLag
        self.usdtContract = usdtContract
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Runs a fake chain for the duration of `body`. `usdtContract` is the TRC20 it treats as
    /// USDT (Nile's by default).
    public static func run<T: Sendable>(
        host: String = "127.0.0.1", port: Int = 0,
        blockInterval: Duration = .milliseconds(10), solidLag: Int64 = 3,
        usdtContract: TronAddress = TronNetwork.nile.usdtContract!,
        genesisTime: Int64 = 1_751_466_000_000,
        _ body: @Sendable (FakeTronGrid) async throws -> T
    ) async throws -> T {
        let holder = Mutex<FakeTronGrid?>(nil)
        return try await LoopbackServer.run(host: host, port: port, handler: { request, writer in
            guard let fake = holder.withLock({ $0 }) else { return try await writer.respond(status: 503, text: "starting") }
            try await fake.handle(request, writer)
        }) { server in
            let fake = FakeTronGrid(port: server.port, genesisTime: genesisTime, blockInterval: blockInterval,
                                    solidLag: solidLag, usdtContract: usdtContract)
            holder.withLock { $0 = fake }
            return try await body(fake)
        }
    }

    public func setFaults(_ change: (inout Faults) -> Void) { chain.withLock { change(&$0.faults) } }

    /// How many times `txID` was broadcast (duplicates included).
    public func broadcasts(of txID: String) -> Int { chain.withLock { $0.broadcasts[txID] ?? 0 } }

    /// Broadcasts of any txID so far.
    public var totalBroadcasts: Int { chain.withLock { $0.broadcasts.values.reduce(0, +) } }

    /// Every transfer that landed, oldest first.
    public var transfers: [Transfer] { chain.withLock { c in advance(&c); return c.transfers } }

    /// Transfers that paid `amount` (decimal, 6 places) to `recipient` (base58), in TRX when
    /// `token` is nil, else in that token.
    public func transfers(to recipient: String, amount: String, token: TronAddress? = nil) -> [Transfer] {
        guard let to = try? TronAddress(recipient), let value = try? Amount(decimal: amount, currency: .trx) else { return [] }
        return transfers.filter { $0.to == to && $0.amount == value.baseUnits && $0.token == token }
    }

    /// `TRON-PRO-API-KEY` values the chain was sent.
    public var apiKeysSeen: Set<String> { chain.withLock { $0.apiKeys } }

    /// Moves the chain forward by `time` of chain time at once (blocks are produced as if that
    /// much time had passed; pending transactions land in the first of them).
    public func advance(by time: Duration) {
        chain.withLock { c in
            advance(&c)
            c.skipped += max(1, Int64(time / blockInterval))
            advance(&c)
        }
    }

    /// The latest solid block's header.
    public func solidBlock() -> BlockHeader { chain.withLock { c in advance(&c); return header(solidHeight(c)) } }

    /// Holds the solid block where it is now (`hold(true)`), or lets it follow the head again.
    public func holdSolid(_ on: Bool) {
        chain.withLock { c in
            advance(&c)
            c.faults.solidHeldAt = on ? solidHeight(c) : nil
        }
    }

    private func solidHeight(_ c: Chain) -> Int64 {
        let trailing = max(c.head - solidLag, 0)
        return c.faults.solidHeldAt.map { min($0, trailing) } ?? trailing
    }

    /// The latest block's header, as the chain stands now.
    public func headBlock() -> BlockHeader { chain.withLock { c in advance(&c); return header(c.head) } }

    /// Whether `txID` is in a solid block yet.
    public func isSolid(_ txID: String) -> Bool {
        chain.withLock { c in
            advance(&c)
            return c.included[txID].map { $0.block <= solidHeight(c) } ?? false
        }
    }

    // MARK: chain

    func header(_ number: Int64) -> BlockHeader {
        let n = UInt64(bitPattern: number)
        let prefix = (0..<8).reversed().map { UInt8(truncatingIfNeeded: n >> (UInt64($0) * 8)) }
        return BlockHeader(number: number, id: prefix + Array(sha256(prefix + Array("fake".utf8)).prefix(24)),
                           timestamp: genesisTime + number * blockInterval.milliseconds)
    }

    private func advance(_ c: inout Chain) {
        let target = Int64((ContinuousClock.now - started) / blockInterval) + 1 + c.skipped
        guard c.head < target else { return }
        // The next block takes the pending pool; empty blocks follow up to the target.
        c.head += 1
        let block = header(c.head)
        for tx in c.pending where tx.raw.expiration > block.timestamp {
            var success = true
            if case .triggerSmartContract = tx.raw.contract, c.faults.revert { success = false }
            c.included[tx.id] = Included(block: c.head, timestamp: block.timestamp, signed: tx.signed, raw: tx.raw, success: success)
            if success, let transfer = transfer(tx.id, tx.raw, block: c.head) { c.transfers.append(transfer) }
        }
        c.pending = []
        c.head = target
    }

    private func transfer(_ id: String, _ raw: RawTransaction, block: Int64) -> Transfer? {
        switch raw.contract {
        case .transfer(let owner, let to, let amount):
            return Transfer(txID: id, block: block, from: owner, to: to, amount: amount, token: nil)
        case .triggerSmartContract(let owner, let contract, _, let data):
            guard let call = ABI.decodeTransferCall(data) else { return nil }
            return Transfer(txID: id, block: block, from: owner, to: call.to, amount: call.amount, token: contract)
        }
    }

    // MARK: HTTP API

    func handle(_ request: LoopbackRequest, _ writer: LoopbackResponseWriter) async throws {
        let body = (try? JSON.parse(request.body)) ?? [:]
        let path = String(request.path)
        enum Action { case answer(JSON), unavailable, stall(Duration, JSON) }
        let apiKey = request.header("TRON-PRO-API-KEY")
        let action: Action = chain.withLock { c in
            if let apiKey { c.apiKeys.insert(apiKey) }
            if c.faults.unavailable > 0 {
                c.faults.unavailable -= 1
                return .unavailable
            }
            advance(&c)
            switch path {
            case "/wallet/getnowblock": return .answer(blockJSON(header(c.head)))
            case "/walletsolidity/getnowblock": return .answer(blockJSON(header(solidHeight(c))))
            case "/wallet/gettransactionbyid", "/walletsolidity/gettransactionbyid":
                let id = body["value"]?.stringValue ?? ""
                guard let tx = c.included[id], path.hasPrefix("/wallet/") || tx.block <= solidHeight(c) else { return .answer([:]) }
                return .answer(transactionJSON(id, tx))
            case "/wallet/gettransactioninfobyid", "/walletsolidity/gettransactioninfobyid":
                let id = body["value"]?.stringValue ?? ""
                guard let tx = c.included[id], path.hasPrefix("/wallet/") || tx.block <= solidHeight(c) else { return .answer([:]) }
                return .answer(infoJSON(id, tx))
            case "/wallet/broadcasthex":
                let (answer, accepted) = broadcast(body["transaction"]?.stringValue ?? "", &c)
                if accepted, let stall = c.faults.acceptThenStall {
                    c.faults.acceptThenStall = nil
                    return .stall(stall, answer)
                }
                if accepted, let id = answer["txid"]?.stringValue, let stall = c.faults.acceptThenStallTxIDs.removeValue(forKey: id) {
                    return .stall(stall, answer)
                }
                return .answer(answer)
            default:
                return .answer(["Error": .string("no such endpoint \(path)")])
            }
        }
        switch action {
        case .unavailable:
            try await writer.respond(status: 503, text: "service unavailable")
        case .answer(let json):
            try await writer.respond(status: 200, headers: [("Content-Type", "application/json")], body: json.serialized())
        case .stall(let wait, let json):
            try await Task.sleep(for: wait)
            try await writer.respond(status: 200, headers: [("Content-Type", "application/json")], body: json.serialized())
        }
    }

    private func broadcast(_ hex: String, _ c: inout Chain) -> (JSON, Bool) {
        func refuse(_ code: String, _ message: String) -> (JSON, Bool) {
            (["result": false, "code": .string(code), "message": .string(Array(message.utf8).hex)], false)
        }
        guard let bytes = [UInt8](hex: hex), let signed = try? SignedTransaction.decode(bytes),
              let raw = try? RawTransaction.decode(signed.rawData) else {
            return refuse("OTHER_ERROR", "cannot decode the transaction")
        }
        let id = signed.txID.hex
        c.broadcasts[id, default: 0] += 1
        if c.included[id] != nil || c.pending.contains(where: { $0.id == id }) {
            return refuse("DUP_TRANSACTION_ERROR", "dup transaction")
        }
        if c.faults.sigError {
            c.faults.sigError = false
            return refuse("SIGERROR", "validate signature error")
        }
        guard Signature.recoverAddress(digest: signed.txID, signature: signed.signature) == raw.contract.owner else {
            return refuse("SIGERROR", "validate signature error: signature is not the owner's")
        }
        let head = header(c.head)
        guard raw.expiration > head.timestamp else {
            return refuse("TRANSACTION_EXPIRATION_ERROR", "transaction expired")
        }
        let refNumber = Int64(raw.refBlockBytes.reduce(0) { $0 << 8 | Int($1) })
        var candidate = (c.head & ~0xFFFF) | refNumber
        if candidate > c.head { candidate -= 0x10000 }
        guard candidate >= 0, Array(header(candidate).id[8..<16]) == raw.refBlockHash else {
            return refuse("TAPOS_ERROR", "tapos check error")
        }
        c.pending.append((id, signed, raw))
        return (["result": true, "txid": .string(id)], true)
    }

    private func blockJSON(_ block: BlockHeader) -> JSON {
        let parent = header(max(block.number - 1, 0))
        return ["blockID": .string(block.id.hex),
                "block_header": [
                    "raw_data": ["number": .int(block.number), "txTrieRoot": .string(String(repeating: "0", count: 64)),
                                 "witness_address": "41928c9af0651632157ef27a2cf17ca72c575a4d21", "parentHash": .string(parent.id.hex),
                                 "version": 31, "timestamp": .int(block.timestamp)],
                    "witness_signature": .string(String(repeating: "0", count: 130)),
                ]]
    }

    private func transactionJSON(_ id: String, _ tx: Included) -> JSON {
        let ret: String = tx.success ? "SUCCESS" : "REVERT"
        return ["ret": [["contractRet": .string(ret)]], "txID": .string(id), "raw_data_hex": .string(tx.signed.rawData.hex),
                "signature": [.string(tx.signed.signature.hex)]]
    }

    private func infoJSON(_ id: String, _ tx: Included) -> JSON {
        var info: JSON = ["id": .string(id), "blockNumber": .int(tx.block), "blockTimeStamp": .int(tx.timestamp)]
        switch tx.raw.contract {
        case .transfer:
            info["receipt"] = ["net_usage": 268]
        case .triggerSmartContract(let owner, let contract, _, let data):
            info["fee"] = 13_844_850
            info["contract_address"] = .string(contract.hex)
            if tx.success, let call = ABI.decodeTransferCall(data) {
                info["receipt"] = ["energy_usage_total": 64_285, "result": "SUCCESS"]
                info["log"] = [[
                    "address": .string(contract.accountID.hex),
                    "topics": [.string(ABI.transferEventTopic.hex), .string(pad(owner.accountID).hex), .string(pad(call.to.accountID).hex)],
                    "data": .string(pad(withInt: call.amount).hex),
                ]]
            } else {
                info["receipt"] = ["energy_usage_total": 64_285, "result": "REVERT"]
                info["result"] = "FAILED"
            }
        }
        return info
    }

    private func pad(_ bytes: [UInt8]) -> [UInt8] { [UInt8](repeating: 0, count: 32 - bytes.count) + bytes }
    private func pad(withInt value: Int64) -> [UInt8] {
        pad((0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(value) >> (UInt64($0) * 8)) })
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, a) = components
        return s * 1000 + a / 1_000_000_000_000_000
    }
}
