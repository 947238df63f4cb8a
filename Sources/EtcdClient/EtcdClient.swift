import HTTP
import Synchronization
import YAML

/// An etcd v3 client over the JSON gateway (etcd 3.4+: `POST /v3/kv/range` and friends), on the
/// project's libcurl HTTP client.
///
/// - Requests stick to one endpoint and fail over to the others when it cannot be reached, times
///   out or has no leader; a failed endpoint is skipped with exponential backoff. Reads are sent
///   again on another endpoint after any such failure; writes only when they provably never left
///   (a refused connection), since a write that timed out may have been applied.
/// - With credentials, the client authenticates (`/v3/auth/authenticate`) before its first
///   request, sends the token in the `Authorization` header, and authenticates again when a
///   token is refused (expired, or the member restarted).
/// - TLS: `https` endpoints with the CA, client certificate and key of the configuration.
/// - Watches are `AsyncSequence`s that resume from the last revision seen, on another endpoint
///   if need be (`watch(prefix:fromRevision:)`).
public final class EtcdClient: Sendable {
    public let configuration: EtcdConfiguration
    /// The endpoints as used (validated, no trailing slash).
    public let endpoints: [String]
    let http: HTTPClient
    private let ownsHTTP: Bool
    /// Watches get a connection pool of their own. Over TLS libcurl (with `CURLOPT_PIPEWAIT`, as
    /// the HTTP module sets it there) makes a new request to a host wait while another connection to it is
    /// still waiting for its first response, and such a waiting request does not time out: a
    /// watch opened against a member that is just restarting would otherwise hold back every
    /// unary request to it.
    let streamHTTP: HTTPClient
    let pool: Mutex<EndpointPool>
    let authenticator = Authenticator()

    /// A client for `configuration`; `http` shares an existing HTTP client (its connections and
    /// thread) for unary requests, else the client makes its own. Watches always use one of the
    /// client's own. `shutdown()` stops what the client made.
    public init(_ configuration: EtcdConfiguration, http: HTTPClient? = nil) throws(EtcdError) {
        self.configuration = configuration
        endpoints = try configuration.validatedEndpoints()
        func makeHTTPClient() throws(EtcdError) -> HTTPClient {
            do { return try HTTPClient() } catch {
                throw EtcdError(code: .invalidConfiguration, message: "cannot start the HTTP client: \(error)")
            }
        }
        if let http {
            self.http = http
            ownsHTTP = false
        } else {
            self.http = try makeHTTPClient()
            ownsHTTP = true
        }
        streamHTTP = try makeHTTPClient()
        pool = Mutex(EndpointPool(urls: endpoints, baseBackoff: configuration.endpointBackoff,
                                  maxBackoff: configuration.maxEndpointBackoff))
    }

    /// A client for the same members that shares this one's connections for unary requests and
    /// has watch connections of its own, for a second watch that must run beside another
    /// without sharing (or waiting for) the first one's connections. Shut it down when the watch
    /// is over; this client stays up.
    public func withOwnWatchConnections() throws(EtcdError) -> EtcdClient {
        try EtcdClient(configuration, http: http)
    }

    /// Stops the HTTP clients this client made; requests in flight fail with `.shutdown`.
    public func shutdown() {
        if ownsHTTP { http.shutdown() }
        streamHTTP.shutdown()
    }

    // MARK: key-value

    /// The key, or nil when it does not exist.
    public func get(_ key: String) async throws(EtcdError) -> KeyValue? {
        try await range(RangeRequest(.key(key))).kvs.first
    }

    /// Every key under `prefix` (sorted by key), with the revision of the read.
    public func range(prefix: String, limit: Int64 = 0, revision: Int64 = 0) async throws(EtcdError) -> RangeResponse {
        try await range(RangeRequest(.prefix(prefix), limit: limit, revision: revision))
    }

    /// A read (`/v3/kv/range`).
    public func range(_ request: RangeRequest) async throws(EtcdError) -> RangeResponse {
        try GatewayCodec.rangeResponse(try await call("/v3/kv/range", GatewayCodec.encode(request), idempotent: true))
    }

    /// Writes `value` at `key`.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: Int64 = 0, prevKV: Bool = false) async throws(EtcdError) -> PutResponse {
        try await put(PutRequest(key: key, value: value, lease: lease, prevKV: prevKV))
    }

    /// Writes the UTF-8 bytes of `value` at `key`.
    @discardableResult
    public func put(_ key: String, _ value: String, lease: Int64 = 0, prevKV: Bool = false) async throws(EtcdError) -> PutResponse {
        try await put(PutRequest(key: key, value: Array(value.utf8), lease: lease, prevKV: prevKV))
    }

    /// A write (`/v3/kv/put`).
    @discardableResult
    public func put(_ request: PutRequest) async throws(EtcdError) -> PutResponse {
        try GatewayCodec.putResponse(try await call("/v3/kv/put", GatewayCodec.encode(request), idempotent: false))
    }

    /// Deletes one key.
    @discardableResult
    public func delete(_ key: String, prevKV: Bool = false) async throws(EtcdError) -> DeleteResponse {
        try await delete(DeleteRequest(.key(key), prevKV: prevKV))
    }

    /// Deletes every key under `prefix`.
    @discardableResult
    public func delete(prefix: String, prevKV: Bool = false) async throws(EtcdError) -> DeleteResponse {
        try await delete(DeleteRequest(.prefix(prefix), prevKV: prevKV))
    }

    /// A deletion (`/v3/kv/deleterange`).
    @discardableResult
    public func delete(_ request: DeleteRequest) async throws(EtcdError) -> DeleteResponse {
        try GatewayCodec.deleteResponse(try await call("/v3/kv/deleterange", GatewayCodec.encode(request), idempotent: false))
    }

    /// A transaction (`/v3/kv/txn`): if every comparison holds, the `success` operations run,
    /// else the `failure` ones; atomically, at one revision.
    public func txn(compare: [Compare], success: [RequestOp], failure: [RequestOp] = []) async throws(EtcdError) -> TxnResponse {
        try GatewayCodec.txnResponse(try await call("/v3/kv/txn", GatewayCodec.txn(compare: compare, success: success, failure: failure),
                                                    idempotent: false))
    }

    /// Writes `value` at `key` (or deletes the key when `value` is nil) only if the key's mod
    /// revision is `modRevision` (0: only if the key does not exist). One transaction; on a
    /// conflict nothing is written and the key as it is now comes back.
    public func compareAndSet(_ key: String, value: [UInt8]?, ifModRevision modRevision: Int64) async throws(EtcdError) -> CompareAndSetResult {
        let write: RequestOp = value.map { .put(key, $0) } ?? .delete(key)
        let response = try await txn(compare: [.modRevision(key, .equal, modRevision)], success: [write], failure: [.get(key)])
        if response.succeeded { return .applied(revision: response.header.revision) }
        var current: KeyValue?
        if case .range(let read)? = response.responses.first { current = read.kvs.first }
        return .conflict(current: current, revision: response.header.revision)
    }

    /// Discards the history before `revision` (`/v3/kv/compaction`); watches and reads of older
    /// revisions then fail with `.compacted`. `physical` waits until the space is reclaimed.
    public func compact(revision: Int64, physical: Bool = false) async throws(EtcdError) {
        var body: JSONObject = ["revision": GatewayCodec.int(revision)]
        if physical { body["physical"] = true }
        _ = try await call("/v3/kv/compaction", .object(body), idempotent: false)
    }

    // MARK: maintenance

    /// One member's status, asked of that endpoint only (no failover).
    public func status(of endpoint: String) async throws(EtcdError) -> EndpointStatus {
        let token = try await currentToken()
        let json = try await send(endpoint: endpoint, path: "/v3/maintenance/status", body: [:], token: token?.value)
        return try GatewayCodec.status(json, endpoint: endpoint)
    }

    // MARK: the request path

    /// Sends a unary request, failing over between endpoints and authenticating as needed.
    func call(_ path: String, _ body: JSON, idempotent: Bool) async throws(EtcdError) -> JSON {
        var token = try await currentToken()
        var reauthenticated = false
        let order = pool.withLock { $0.attemptOrder(now: .now) }
        var lastError: EtcdError?
        var attempt = 0
        while attempt < order.count {
            let index = order[attempt]
            do {
                let json = try await send(endpoint: endpoints[index], path: path, body: body, token: token?.value)
                pool.withLock { $0.succeeded(index) }
                return json
            } catch {
                if error.code == .unauthenticated, let used = token, !reauthenticated {
                    await authenticator.invalidate(used)
                    token = try await currentToken()
                    reauthenticated = true
                    continue
                }
                if error.blamesEndpoint { pool.withLock { $0.failed(index, now: .now, random: .random(in: 0..<1)) } }
                guard error.allowsRetry(idempotent: idempotent), !Task.isCancelled else { throw error }
                lastError = error
                attempt += 1
            }
        }
        var failure = lastError ?? EtcdError(code: .unavailable, message: "no etcd endpoint")
        failure.code = .unavailable
        failure.message = "no etcd endpoint could serve \(path) (tried \(order.count)); last: \(failure.message)"
        throw failure
    }

    /// One POST to one endpoint: the parsed JSON answer, or the error it stands for.
    func send(endpoint: String, path: String, body: JSON, token: String?) async throws(EtcdError) -> JSON {
        let response: HTTPResponse
        do {
            response = try await http.execute(request(endpoint: endpoint, path: path, body: body, token: token,
                                                      timeout: configuration.requestTimeout))
        } catch {
            throw EtcdError(transport: error, endpoint: endpoint)
        }
        guard response.status == 200 else {
            throw GatewayCodec.failure(status: response.status, body: response.body, endpoint: endpoint)
        }
        do {
            return try JSON.parse(GatewayCodec.firstLine(response.body))
        } catch {
            throw EtcdError(code: .malformedResponse, message: "\(path) answered with invalid JSON: \(error)", endpoint: endpoint)
        }
    }

    func request(endpoint: String, path: String, body: JSON, token: String?, timeout: Duration?) -> HTTPRequest {
        var headers: HTTPHeaders = ["Content-Type": "application/json"]
        if let token { headers.add("Authorization", token) }
        return HTTPRequest(method: .post, url: endpoint + path, headers: headers, body: body.serialized(), timeout: timeout,
                           connectTimeout: configuration.connectTimeout,
                           tls: endpoint.hasPrefix("https://") ? configuration.tls ?? TLSConfiguration() : nil)
    }

    /// The auth token to send, fetching one when there is none; nil without credentials.
    func currentToken() async throws(EtcdError) -> Authenticator.Token? {
        guard let credentials = configuration.credentials else { return nil }
        return try await authenticator.current { () async throws(EtcdError) -> String in
            try await self.authenticate(credentials)
        }
    }

    private func authenticate(_ credentials: EtcdConfiguration.Credentials) async throws(EtcdError) -> String {
        let body: JSON = ["name": .string(credentials.username), "password": .string(credentials.password)]
        let order = pool.withLock { $0.attemptOrder(now: .now) }
        var lastError: EtcdError?
        for index in order {
            do throws(EtcdError) {
                let json = try await send(endpoint: endpoints[index], path: "/v3/auth/authenticate", body: body, token: nil)
                guard let token = json["token"]?.stringValue, !token.isEmpty else {
                    throw EtcdError(code: .malformedResponse, message: "authenticate answered without a token", endpoint: endpoints[index])
                }
                pool.withLock { $0.succeeded(index) }
                return token
            } catch {
                if error.blamesEndpoint { pool.withLock { $0.failed(index, now: .now, random: .random(in: 0..<1)) } }
                guard error.allowsRetry(idempotent: true) else { throw error }
                lastError = error
            }
        }
        throw lastError ?? EtcdError(code: .unavailable, message: "no etcd endpoint to authenticate with")
    }
}
