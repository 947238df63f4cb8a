import Foundation
import YAML

/// The v3 JSON gateway's encoding of etcd's protobuf messages (grpc-gateway with `OrigName`):
/// snake_case fields, bytes as base64, 64-bit integers as decimal strings, fields at their zero
/// value left out, enums by name.
enum GatewayCodec {
    // MARK: scalars

    static func base64(_ bytes: [UInt8]) -> JSON { .string(Data(bytes).base64EncodedString()) }

    static func int(_ value: Int64) -> JSON { .string(String(value)) }

    static func bytes(_ json: JSON?, _ field: String) throws(EtcdError) -> [UInt8] {
        guard let json else { return [] }
        guard let text = json.stringValue, let data = Data(base64Encoded: text) else {
            throw malformed("\(field) is not base64")
        }
        return [UInt8](data)
    }

    static func int64(_ json: JSON?, _ field: String) throws(EtcdError) -> Int64 {
        switch json {
        case nil: return 0
        case .string(let text)?:
            guard let value = Int64(text) else { throw malformed("\(field) is not a 64-bit integer: \(text)") }
            return value
        case let other?:
            guard let value = other.intValue else { throw malformed("\(field) is not an integer") }
            return value
        }
    }

    static func uint64(_ json: JSON?, _ field: String) throws(EtcdError) -> UInt64 {
        switch json {
        case nil: return 0
        case .string(let text)?:
            guard let value = UInt64(text) else { throw malformed("\(field) is not an unsigned 64-bit integer: \(text)") }
            return value
        case let other?:
            guard let value = other.intValue, value >= 0 else { throw malformed("\(field) is not an unsigned integer") }
            return UInt64(value)
        }
    }

    static func bool(_ json: JSON?) -> Bool { json?.boolValue ?? false }

    static func malformed(_ message: String) -> EtcdError { EtcdError(code: .malformedResponse, message: message) }

    // MARK: requests

    static func range(_ range: KeyRange, into object: inout JSONObject) {
        object["key"] = base64(range.start)
        if let end = range.end { object["range_end"] = base64(end) }
    }

    static func encode(_ request: RangeRequest) -> JSON {
        var o = JSONObject()
        range(request.range, into: &o)
        if request.limit != 0 { o["limit"] = int(request.limit) }
        if request.revision != 0 { o["revision"] = int(request.revision) }
        if request.sortOrder != .none {
            o["sort_order"] = .string(request.sortOrder.rawValue)
            o["sort_target"] = .string(request.sortTarget.rawValue)
        }
        if request.serializable { o["serializable"] = true }
        if request.keysOnly { o["keys_only"] = true }
        if request.countOnly { o["count_only"] = true }
        return .object(o)
    }

    static func encode(_ request: PutRequest) -> JSON {
        var o: JSONObject = ["key": base64(request.key), "value": base64(request.value)]
        if request.lease != 0 { o["lease"] = int(request.lease) }
        if request.prevKV { o["prev_kv"] = true }
        if request.ignoreValue { o["ignore_value"] = true }
        if request.ignoreLease { o["ignore_lease"] = true }
        return .object(o)
    }

    static func encode(_ request: DeleteRequest) -> JSON {
        var o = JSONObject()
        range(request.range, into: &o)
        if request.prevKV { o["prev_kv"] = true }
        return .object(o)
    }

    static func encode(_ compare: Compare) -> JSON {
        var o = JSONObject()
        range(compare.range, into: &o)
        o["result"] = .string(compare.op.rawValue)
        switch compare.target {
        case .version(let v):
            o["target"] = "VERSION"
            o["version"] = int(v)
        case .createRevision(let r):
            o["target"] = "CREATE"
            o["create_revision"] = int(r)
        case .modRevision(let r):
            o["target"] = "MOD"
            o["mod_revision"] = int(r)
        case .value(let bytes):
            o["target"] = "VALUE"
            o["value"] = base64(bytes)
        case .lease(let l):
            o["target"] = "LEASE"
            o["lease"] = int(l)
        }
        return .object(o)
    }

    static func encode(_ op: RequestOp) -> JSON {
        switch op {
        case .range(let r): ["request_range": encode(r)]
        case .put(let p): ["request_put": encode(p)]
        case .delete(let d): ["request_delete_range": encode(d)]
        }
    }

    static func txn(compare: [Compare], success: [RequestOp], failure: [RequestOp]) -> JSON {
        [
            "compare": .array(compare.map(encode)),
            "success": .array(success.map(encode)),
            "failure": .array(failure.map(encode)),
        ]
    }

    // MARK: responses

    static func header(_ json: JSON?) throws(EtcdError) -> ResponseHeader {
        ResponseHeader(
            clusterID: try uint64(json?["cluster_id"], "header.cluster_id"),
            memberID: try uint64(json?["member_id"], "header.member_id"),
            revision: try int64(json?["revision"], "header.revision"),
            raftTerm: try uint64(json?["raft_term"], "header.raft_term"))
    }

    static func keyValue(_ json: JSON) throws(EtcdError) -> KeyValue {
        KeyValue(
            key: try bytes(json["key"], "kv.key"),
            value: try bytes(json["value"], "kv.value"),
            createRevision: try int64(json["create_revision"], "kv.create_revision"),
            modRevision: try int64(json["mod_revision"], "kv.mod_revision"),
            version: try int64(json["version"], "kv.version"),
            lease: try int64(json["lease"], "kv.lease"))
    }

    static func keyValues(_ json: JSON?) throws(EtcdError) -> [KeyValue] {
        guard let items = json?.arrayValue else { return [] }
        var result: [KeyValue] = []
        result.reserveCapacity(items.count)
        for item in items { result.append(try keyValue(item)) }
        return result
    }

    static func rangeResponse(_ json: JSON) throws(EtcdError) -> RangeResponse {
        RangeResponse(header: try header(json["header"]), kvs: try keyValues(json["kvs"]), more: bool(json["more"]),
                      count: try int64(json["count"], "count"))
    }

    static func putResponse(_ json: JSON) throws(EtcdError) -> PutResponse {
        PutResponse(header: try header(json["header"]), prevKV: try json["prev_kv"].map { (kv) throws(EtcdError) in try keyValue(kv) })
    }

    static func deleteResponse(_ json: JSON) throws(EtcdError) -> DeleteResponse {
        DeleteResponse(header: try header(json["header"]), deleted: try int64(json["deleted"], "deleted"),
                       prevKVs: try keyValues(json["prev_kvs"]))
    }

    static func txnResponse(_ json: JSON) throws(EtcdError) -> TxnResponse {
        var responses: [ResponseOp] = []
        for item in json["responses"]?.arrayValue ?? [] {
            if let r = item["response_range"] {
                responses.append(.range(try rangeResponse(r)))
            } else if let p = item["response_put"] {
                responses.append(.put(try putResponse(p)))
            } else if let d = item["response_delete_range"] {
                responses.append(.delete(try deleteResponse(d)))
            } else {
                throw malformed("a transaction response holds an unknown operation: \(item.jsonText)")
            }
        }
        return TxnResponse(header: try header(json["header"]), succeeded: bool(json["succeeded"]), responses: responses)
    }

    static func status(_ json: JSON, endpoint: String) throws(EtcdError) -> EndpointStatus {
        EndpointStatus(
            endpoint: endpoint, header: try header(json["header"]), version: json["version"]?.stringValue ?? "",
            dbSize: try int64(json["dbSize"], "dbSize"), leader: try uint64(json["leader"], "leader"),
            raftIndex: try uint64(json["raftIndex"], "raftIndex"), raftTerm: try uint64(json["raftTerm"], "raftTerm"),
            raftAppliedIndex: try uint64(json["raftAppliedIndex"], "raftAppliedIndex"),
            errors: (json["errors"]?.arrayValue ?? []).compactMap(\.stringValue))
    }

    /// An error body: `{"error": "...", "message": "...", "code": 11}` from unary calls, or
    /// `{"error": {"grpc_code": 14, "message": "...", "http_code": 503}}` inside a stream.
    static func gatewayError(_ json: JSON, endpoint: String?, httpStatus: Int?) -> EtcdError? {
        if let inner = json["error"], case .object = inner {
            let code = Int(inner["grpc_code"]?.intValue ?? 2)
            let message = inner["message"]?.stringValue ?? inner.jsonText
            return EtcdError(grpcCode: code, message: message, endpoint: endpoint,
                             httpStatus: inner["http_code"]?.intValue.map { Int($0) } ?? httpStatus)
        }
        guard let code = json["code"]?.intValue else { return nil }
        let message = json["message"]?.stringValue ?? json["error"]?.stringValue ?? json.jsonText
        return EtcdError(grpcCode: Int(code), message: message, endpoint: endpoint, httpStatus: httpStatus)
    }

    /// The error for a non-200 answer, whatever its body.
    static func failure(status: Int, body: [UInt8], endpoint: String) -> EtcdError {
        if let json = try? JSON.parse(firstLine(body)), let error = gatewayError(json, endpoint: endpoint, httpStatus: status) {
            return error
        }
        let text = String(decoding: body.prefix(512), as: UTF8.self)
        let code: EtcdError.Code = status == 503 || status == 502 ? .unavailable : .server
        return EtcdError(code: code, message: "HTTP \(status): \(text)", endpoint: endpoint, httpStatus: status)
    }

    /// Streamed answers (and keep-alive) come as JSON lines; a unary answer is one line too.
    static func firstLine(_ body: [UInt8]) -> ArraySlice<UInt8> {
        let end = body.firstIndex(of: UInt8(ascii: "\n")) ?? body.endIndex
        return body[..<end]
    }
}
