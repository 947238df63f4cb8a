import YAML

/// The gateway's encoding of watch requests and of the messages of a watch stream.
enum WatchCodec {
    static func createRequest(_ range: KeyRange, startRevision: Int64?, options: WatchOptions) -> JSON {
        var create = JSONObject()
        GatewayCodec.range(range, into: &create)
        if let startRevision, startRevision > 0 { create["start_revision"] = GatewayCodec.int(startRevision) }
        if options.progressNotify { create["progress_notify"] = true }
        if options.prevKV { create["prev_kv"] = true }
        var filters: [JSON] = []
        if options.noPut { filters.append("NOPUT") }
        if options.noDelete { filters.append("NODELETE") }
        if !filters.isEmpty { create["filters"] = .array(filters) }
        return ["create_request": .object(create)]
    }

    /// One line of the stream.
    static func message(_ line: [UInt8], endpoint: String) throws(EtcdError) -> WatchMessage {
        let json: JSON
        do { json = try JSON.parse(line) } catch {
            throw EtcdError(code: .malformedResponse, message: "a watch message is not JSON: \(error)", endpoint: endpoint)
        }
        do {
            return try decode(json)
        } catch {
            var failure = error
            failure.endpoint = endpoint
            throw failure
        }
    }

    static func decode(_ json: JSON) throws(EtcdError) -> WatchMessage {
        if let error = json["error"], case .object = error {
            return WatchMessage(failure: .init(grpcCode: Int(error["grpc_code"]?.intValue ?? 2),
                                               message: error["message"]?.stringValue ?? error.jsonText))
        }
        guard let result = json["result"] else {
            throw GatewayCodec.malformed("a watch message has neither result nor error: \(json.jsonText)")
        }
        var message = WatchMessage()
        message.header = try GatewayCodec.header(result["header"])
        message.created = GatewayCodec.bool(result["created"])
        message.canceled = GatewayCodec.bool(result["canceled"])
        message.cancelReason = result["cancel_reason"]?.stringValue ?? ""
        message.compactRevision = try GatewayCodec.int64(result["compact_revision"], "compact_revision")
        for event in result["events"]?.arrayValue ?? [] {
            guard let kv = event["kv"] else { throw GatewayCodec.malformed("a watch event has no kv") }
            let kind: WatchEvent.Kind
            switch event["type"]?.stringValue {
            case nil, "PUT"?: kind = .put
            case "DELETE"?: kind = .delete
            case let other?: throw GatewayCodec.malformed("unknown watch event type \(other)")
            }
            message.events.append(WatchEvent(kind: kind, kv: try GatewayCodec.keyValue(kv),
                                             prevKV: try event["prev_kv"].map { (p) throws(EtcdError) in try GatewayCodec.keyValue(p) }))
        }
        return message
    }
}
