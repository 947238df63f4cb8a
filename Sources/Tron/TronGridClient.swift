import HTTP
import YAML

/// A TronGrid (java-tron HTTP API) request that failed.
public struct TronGridError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No answer (connection, timeout). For a broadcast: it may have reached the node.
        case transport
        /// An HTTP error status after the retries.
        case http(Int)
        /// An answer that is not what the API returns.
        case decoding
    }

    public var kind: Kind
    public var message: String
    public var path: String

    public init(kind: Kind, message: String, path: String) {
        self.kind = kind
        self.message = message
        self.path = path
    }

    public var description: String { "\(path): \(message)" }
}

/// What a node said to a broadcast.
public struct BroadcastResult: Sendable, Equatable {
    public var accepted: Bool
    /// e.g. DUP_TRANSACTION_ERROR, SIGERROR, TRANSACTION_EXPIRATION_ERROR, SERVER_BUSY.
    public var code: String?
    /// The node's message (TronGrid sends it hex-encoded; decoded here).
    public var message: String?
}

/// A transaction's outcome as recorded in a block (`gettransactioninfobyid`).
public struct TransactionInfo: Sendable, Equatable {
    public struct Log: Sendable, Equatable {
        public var address: [UInt8]  // 20 bytes (no 0x41)
        public var topics: [[UInt8]]
        public var data: [UInt8]

        public init(address: [UInt8], topics: [[UInt8]], data: [UInt8]) {
            self.address = address
            self.topics = topics
            self.data = data
        }
    }

    public var id: String
    public var blockNumber: Int64
    public var blockTimestamp: Int64
    public var fee: Int64
    /// For contract calls: `receipt.result` (SUCCESS, REVERT, OUT_OF_ENERGY, ...).
    public var receiptResult: String?
    /// "FAILED" when the transaction failed; absent on success.
    public var result: String?
    public var logs: [Log]

    public init(id: String, blockNumber: Int64, blockTimestamp: Int64, fee: Int64 = 0, receiptResult: String? = nil,
                result: String? = nil, logs: [Log] = []) {
        self.id = id
        self.blockNumber = blockNumber
        self.blockTimestamp = blockTimestamp
        self.fee = fee
        self.receiptResult = receiptResult
        self.result = result
        self.logs = logs
    }
}

/// A client for the TronGrid HTTP API over the HTTP module. Queries back off and retry on 403,
/// 429 and 503 (TronGrid's rate limiting and maintenance); a broadcast retries only those
/// statuses too, since the node answered without taking the transaction.
public final class TronGridClient: Sendable {
    public let baseURL: String
    let apiKey: String?
    let http: HTTPClient
    let attempts: Int
    let baseDelay: Duration
    let timeout: Duration

    public init(baseURL: String, apiKey: String? = nil, http: HTTPClient, attempts: Int = 5,
                baseDelay: Duration = .milliseconds(250), timeout: Duration = .seconds(15)) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.http = http
        self.attempts = attempts
        self.baseDelay = baseDelay
        self.timeout = timeout
    }

    /// The latest block, or the latest solidified one (`walletsolidity`).
    public func nowBlock(solid: Bool) async throws(TronGridError) -> BlockHeader {
        let path = solid ? "/walletsolidity/getnowblock" : "/wallet/getnowblock"
        let value = try await post(path, [:])
        guard let idHex = value["blockID"]?.stringValue, let id = [UInt8](hex: idHex), id.count == 32,
              let number = value[path: "block_header", "raw_data", "number"]?.intValue,
              let timestamp = value[path: "block_header", "raw_data", "timestamp"]?.intValue else {
            throw TronGridError(kind: .decoding, message: "not a block: \(value.jsonText.prefix(200))", path: path)
        }
        return BlockHeader(number: number, id: id, timestamp: timestamp)
    }

    /// The outcome of `txID` once it is in a block (solid: once that block is irreversible);
    /// nil while it is not.
    public func transactionInfo(id txID: String, solid: Bool) async throws(TronGridError) -> TransactionInfo? {
        let path = solid ? "/walletsolidity/gettransactioninfobyid" : "/wallet/gettransactioninfobyid"
        let value = try await post(path, ["value": .string(txID)])
        guard value["id"]?.stringValue == txID else { return nil }
        let logs: [TransactionInfo.Log] = (value["log"]?.arrayValue ?? []).map { log in
            TransactionInfo.Log(
                address: log["address"]?.stringValue.flatMap { [UInt8](hex: $0) } ?? [],
                topics: (log["topics"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { [UInt8](hex: $0) } },
                data: log["data"]?.stringValue.flatMap { [UInt8](hex: $0) } ?? [])
        }
        return TransactionInfo(
            id: txID, blockNumber: value["blockNumber"]?.intValue ?? 0, blockTimestamp: value["blockTimeStamp"]?.intValue ?? 0,
            fee: value["fee"]?.intValue ?? 0, receiptResult: value[path: "receipt", "result"]?.stringValue,
            result: value["result"]?.stringValue, logs: logs)
    }

    /// Whether `txID` is in a block (solid: an irreversible one), with its `contractRet`.
    public func transaction(id txID: String, solid: Bool = false) async throws(TronGridError) -> (known: Bool, contractRet: String?) {
        let value = try await post(solid ? "/walletsolidity/gettransactionbyid" : "/wallet/gettransactionbyid", ["value": .string(txID)])
        guard value["txID"]?.stringValue == txID else { return (false, nil) }
        return (true, value["ret"]?[0]?["contractRet"]?.stringValue)
    }

    /// Sends the exact signed bytes (`broadcasthex`).
    public func broadcastHex(_ transaction: SignedTransaction) async throws(TronGridError) -> BroadcastResult {
        let value = try await post("/wallet/broadcasthex", ["transaction": .string(transaction.encoded().hex)])
        let message = value["message"]?.stringValue.map { text in
            [UInt8](hex: text).map { String(decoding: $0, as: UTF8.self) } ?? text
        }
        return BroadcastResult(accepted: value["result"]?.boolValue == true, code: value["code"]?.stringValue, message: message)
    }

    func post(_ path: String, _ body: JSON) async throws(TronGridError) -> JSON {
        var headers: HTTPHeaders = ["Content-Type": "application/json", "Accept": "application/json"]
        if let apiKey { headers.add("TRON-PRO-API-KEY", apiKey) }
        let request = HTTPRequest(method: .post, url: baseURL + path, headers: headers, body: body.serialized(), timeout: timeout)
        var attempt = 1
        while true {
            let response: HTTPResponse
            do { response = try await http.execute(request) } catch {
                throw TronGridError(kind: .transport, message: error.description, path: path)
            }
            if response.status == 200 {
                do { return try JSON.parse(response.body) } catch {
                    throw TronGridError(kind: .decoding, message: "\(error)", path: path)
                }
            }
            guard [403, 429, 503].contains(response.status), attempt < attempts else {
                throw TronGridError(kind: .http(response.status), message: "HTTP \(response.status): \(response.bodyText.prefix(200))", path: path)
            }
            let wait = baseDelay * (1 << min(attempt - 1, 10)) * Double.random(in: 0.5...1)
            do { try await Task.sleep(for: wait) } catch {
                throw TronGridError(kind: .transport, message: "cancelled", path: path)
            }
            attempt += 1
        }
    }
}
