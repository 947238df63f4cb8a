import YAML

extension EtcdClient {
    /// Grants a lease of `ttl` seconds (`/v3/lease/grant`); `id` 0 lets etcd choose the id.
    public func grantLease(ttl: Int64, id: Int64 = 0) async throws(EtcdError) -> Lease {
        var body: JSONObject = ["TTL": GatewayCodec.int(ttl)]
        if id != 0 { body["ID"] = GatewayCodec.int(id) }
        let json = try await call("/v3/lease/grant", .object(body), idempotent: false)
        if let error = json["error"]?.stringValue, !error.isEmpty {
            throw EtcdError(grpcCode: 2, message: error, endpoint: nil, httpStatus: nil)
        }
        return Lease(id: try GatewayCodec.int64(json["ID"], "ID"), ttl: try GatewayCodec.int64(json["TTL"], "TTL"),
                     header: try GatewayCodec.header(json["header"]))
    }

    /// Revokes a lease (`/v3/lease/revoke`): its keys are deleted. `.leaseNotFound` when it is
    /// already gone.
    public func revokeLease(_ id: Int64) async throws(EtcdError) {
        _ = try await call("/v3/lease/revoke", ["ID": GatewayCodec.int(id)], idempotent: false)
    }

    /// Renews a lease once (`/v3/lease/keepalive`); the seconds it now has. `.leaseNotFound`
    /// when it expired or was revoked.
    @discardableResult
    public func keepAliveOnce(_ id: Int64) async throws(EtcdError) -> Int64 {
        let json = try await call("/v3/lease/keepalive", ["ID": GatewayCodec.int(id)], idempotent: true)
        // The gateway streams `{"result": {...}}` (or `{"error": {...}}`); a lease that is gone
        // comes back without a TTL.
        if let error = GatewayCodec.gatewayError(json, endpoint: nil, httpStatus: nil) { throw error }
        let result = json["result"] ?? json
        let ttl = try GatewayCodec.int64(result["TTL"], "TTL")
        guard ttl > 0 else { throw EtcdError(code: .leaseNotFound, message: "lease \(id) has expired or was revoked") }
        return ttl
    }

    /// Keeps a lease alive until the calling task is cancelled (then returns), renewing it every
    /// third of its TTL (or every `interval`). Throws `.leaseNotFound` once it has expired; a
    /// failed renewal is retried at a shorter interval while the lease can still be saved.
    public func keepAlive(_ id: Int64, interval: Duration? = nil) async throws(EtcdError) {
        var ttl = try await keepAliveOnce(id)
        var lastRenewal = ContinuousClock.now
        while !Task.isCancelled {
            let period = interval ?? .seconds(max(ttl, 1)) / 3
            do { try await Task.sleep(for: period) } catch { return }
            do {
                ttl = try await keepAliveOnce(id)
                lastRenewal = .now
            } catch {
                if error.code == .cancelled || Task.isCancelled { return }
                if error.code == .leaseNotFound { throw error }
                // Unreachable for now: the lease lives on until its TTL runs out since the last renewal.
                guard ContinuousClock.now - lastRenewal < .seconds(ttl) else {
                    throw EtcdError(code: .leaseNotFound, message: "lease \(id) could not be renewed within its TTL: \(error.message)",
                                    endpoint: error.endpoint)
                }
            }
        }
    }

    /// The seconds a lease has left and the keys attached to it (`/v3/lease/timetolive`); nil
    /// when it does not exist.
    public func timeToLive(_ id: Int64, keys: Bool = false) async throws(EtcdError) -> LeaseTimeToLive? {
        let json = try await call("/v3/lease/timetolive", ["ID": GatewayCodec.int(id), "keys": .bool(keys)], idempotent: true)
        let ttl = try GatewayCodec.int64(json["TTL"], "TTL")
        guard ttl >= 0 else { return nil }
        var attached: [[UInt8]] = []
        for key in json["keys"]?.arrayValue ?? [] { attached.append(try GatewayCodec.bytes(key, "keys")) }
        return LeaseTimeToLive(id: id, ttl: ttl, grantedTTL: try GatewayCodec.int64(json["grantedTTL"], "grantedTTL"), keys: attached)
    }

    /// The ids of every lease (`/v3/lease/leases`).
    public func leases() async throws(EtcdError) -> [Int64] {
        let json = try await call("/v3/lease/leases", [:], idempotent: true)
        var ids: [Int64] = []
        for lease in json["leases"]?.arrayValue ?? [] { ids.append(try GatewayCodec.int64(lease["ID"], "leases.ID")) }
        return ids
    }
}
