import Foundation
import HTTP
import Logging
import YAML

/// One request the client made, for metrics: `rest_client_requests_total{code,method}` and
/// its latency.
public struct RequestRecord: Sendable {
    /// get, list, watch, create, update, patch, delete.
    public var verb: String
    public var method: String
    /// The HTTP status as text, or "<error>" when no response came.
    public var code: String
    public var duration: Duration
    public var path: String
}

/// A client for the Kubernetes API over libcurl: any group/version/resource, namespaced or
/// cluster-scoped; untyped (`JSON`) or typed (`Codable`) objects; watches as event streams.
public final class KubeClient: Sendable {
    public let config: KubeConfig
    public let retry: RetryPolicy
    let http: HTTPClient
    let credentials: CredentialSource
    let observer: (@Sendable (RequestRecord) -> Void)?
    let logger: Logger
    let userAgent: String
    let writeGate: (@Sendable () -> Bool)?
    /// Reads return only metadata (see `metadataOnly()`); writes are refused.
    public let readsMetadataOnly: Bool

    /// `observer` sees every request attempt (retries included); `http` may be shared. A client
    /// made here stops when the last reference to it goes (this one, or an open watch's).
    /// `writeGate`, when given, is asked before every attempt of a write (POST, PUT, PATCH,
    /// DELETE): when it says no, nothing is sent and the write fails with `.refused` — how a
    /// replica whose leadership ran out stops writing at once.
    public init(config: KubeConfig, http: HTTPClient? = nil, retry: RetryPolicy = RetryPolicy(),
                userAgent: String = "lucid-operator/0.1", logger: Logger = Logger(label: "lucid.kubeclient"),
                observer: (@Sendable (RequestRecord) -> Void)? = nil, writeGate: (@Sendable () -> Bool)? = nil) throws(KubeError) {
        self.config = config
        self.writeGate = writeGate
        self.userAgent = userAgent
        self.retry = retry
        self.observer = observer
        self.logger = logger
        self.readsMetadataOnly = false
        self.credentials = CredentialSource(config.credentials)
        if let http {
            self.http = http
        } else {
            do { self.http = try HTTPClient() } catch {
                throw KubeError(code: .transport, message: "\(error)", transport: HTTPErrorInfo(curlCode: error.curlCode, message: error.message))
            }
        }
    }

    /// The same client with another read shape (see `metadataOnly()`).
    init(copying other: KubeClient, metadataOnly: Bool) {
        config = other.config
        retry = other.retry
        http = other.http
        credentials = other.credentials
        observer = other.observer
        logger = other.logger
        userAgent = other.userAgent
        writeGate = other.writeGate
        readsMetadataOnly = metadataOnly
    }

    // MARK: verbs

    public func get(_ resource: GroupVersionResource, namespace: String? = nil, name: String,
                    subresource: String? = nil) async throws(KubeError) -> JSON {
        shaped(try parse(try await send("get", .get, resource.path(namespace: namespace, name: name, subresource: subresource))))
    }

    public func get<T: Decodable>(_ type: T.Type, _ resource: GroupVersionResource, namespace: String? = nil,
                                  name: String) async throws(KubeError) -> T {
        let body = try await send("get", .get, resource.path(namespace: namespace, name: name))
        guard readsMetadataOnly else { return try decode(T.self, body) }
        return try decode(T.self, shaped(try parse(body)).serialized())
    }

    /// One page; follow `ObjectList.continueToken` (or use `listAll`) for the rest.
    public func list(_ resource: GroupVersionResource, namespace: String? = nil,
                     options: ListOptions = ListOptions()) async throws(KubeError) -> ObjectList {
        let value = try parse(try await send("list", .get, resource.path(namespace: namespace), query: options.query))
        return ObjectList(
            items: (value["items"]?.arrayValue ?? []).map(shaped),
            resourceVersion: value[path: "metadata", "resourceVersion"]?.stringValue ?? "",
            continueToken: value[path: "metadata", "continue"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// Every page, `pageSize` objects at a time. The resourceVersion is the first page's, the
    /// point a watch should start from.
    public func listAll(_ resource: GroupVersionResource, namespace: String? = nil, options: ListOptions = ListOptions(),
                        pageSize: Int = 500) async throws(KubeError) -> ObjectList {
        var options = options
        options.limit = pageSize
        var all = try await list(resource, namespace: namespace, options: options)
        var token = all.continueToken
        while let next = token {
            options.continueToken = next
            options.resourceVersion = nil
            let page = try await list(resource, namespace: namespace, options: options)
            all.items += page.items
            token = page.continueToken
        }
        all.continueToken = nil
        return all
    }

    public func create(_ resource: GroupVersionResource, namespace: String? = nil, _ object: JSON,
                       fieldValidation: String? = nil) async throws(KubeError) -> JSON {
        var query: [(String, String)] = []
        if let fieldValidation { query.append(("fieldValidation", fieldValidation)) }
        return try parse(try await send("create", .post, resource.path(namespace: namespace), query: query, body: object))
    }

    /// Replaces the object; its `metadata.resourceVersion`, when set, must still be current
    /// (else a 409 Conflict error).
    public func update(_ resource: GroupVersionResource, namespace: String? = nil, _ object: JSON,
                       subresource: String? = nil) async throws(KubeError) -> JSON {
        guard let name = object[path: "metadata", "name"]?.stringValue else {
            throw KubeError(code: .configuration, message: "update needs metadata.name", verb: "update")
        }
        return try parse(try await send("update", .put, resource.path(namespace: namespace, name: name, subresource: subresource), body: object))
    }

    /// Writes `status` through the `/status` subresource.
    public func updateStatus(_ resource: GroupVersionResource, namespace: String? = nil, _ object: JSON) async throws(KubeError) -> JSON {
        try await update(resource, namespace: namespace, object, subresource: "status")
    }

    public func patch(_ resource: GroupVersionResource, namespace: String? = nil, name: String, _ patch: Patch,
                      subresource: String? = nil) async throws(KubeError) -> JSON {
        var query: [(String, String)] = []
        let body: JSON
        switch patch {
        case .merge(let p): body = p
        case .json(let ops): body = .array(ops)
        case .apply(let p, let manager, let force):
            body = p
            query.append(("fieldManager", manager))
            if force { query.append(("force", "true")) }
        }
        return try parse(try await send("patch", .patch, resource.path(namespace: namespace, name: name, subresource: subresource),
                                        query: query, body: body, contentType: patch.contentType))
    }

    /// Deletes; returns what the server answered (the object while finalizers hold it, else a
    /// Success Status).
    @discardableResult
    public func delete(_ resource: GroupVersionResource, namespace: String? = nil, name: String,
                       options: DeleteOptions = DeleteOptions()) async throws(KubeError) -> JSON {
        try parse(try await send("delete", .delete, resource.path(namespace: namespace, name: name), body: options.body))
    }

    // MARK: transport

    /// Sends one request with retries; returns the body of a 2xx answer, throws otherwise.
    func send(_ verb: String, _ method: HTTPMethod, _ path: String, query: [(String, String)] = [],
              body: JSON? = nil, contentType: String = "application/json") async throws(KubeError) -> [UInt8] {
        if readsMetadataOnly, method != .get {
            throw KubeError(code: .configuration, message: "a metadata-only client does not write", verb: verb)
        }
        let request = makeRequest(method, path, query: query, body: body, contentType: contentType, accept: accept(verb))
        let gate = method == .get ? nil : writeGate
        return try await retrying(verb, request, path: path) { (request) async throws(HTTPError) -> Attempt<[UInt8]> in
            if let gate, !gate() { return .refused }
            let response = try await self.http.execute(request)
            if (200..<300).contains(response.status) { return .done(response.body, status: response.status) }
            return .failed(status: response.status, retryAfter: response.headers["Retry-After"], body: response.body)
        }
    }

    /// What one try of a request produced.
    enum Attempt<T: Sendable>: Sendable {
        case done(T, status: Int)
        case failed(status: Int, retryAfter: String?, body: [UInt8])
        /// The write gate said no: nothing was sent.
        case refused
    }

    /// Runs `attempt` until it succeeds or `retry` gives up; records every try. Each try gets
    /// the current credentials; after a 401 the credentials are renewed (exec plugin run again,
    /// token file read again) and, if that changed them, the request is sent once more at once.
    func retrying<T: Sendable>(_ verb: String, _ unauthenticated: HTTPRequest, path: String,
                               _ attempt: (HTTPRequest) async throws(HTTPError) -> Attempt<T>) async throws(KubeError) -> T {
        var number = 1
        var authentication = try await credentials.current()
        var renewed = false
        while true {
            let request = authentication.applied(to: unauthenticated)
            let started = ContinuousClock.now
            let failure: KubeError
            var status: Int?
            var retryAfter: String?
            var connectFailure = false
            var refused = false
            do {
                switch try await attempt(request) {
                case .done(let value, let code):
                    record(verb, request.method, String(code), ContinuousClock.now - started, path)
                    return value
                case .failed(let code, let after, let body):
                    record(verb, request.method, String(code), ContinuousClock.now - started, path)
                    status = code
                    retryAfter = after
                    failure = apiError(verb, request.url, code, body)
                case .refused:
                    refused = true
                    failure = KubeError(code: .refused, message: "not sent: this client may not write now (leadership lost)", verb: verb, url: request.url)
                }
            } catch {
                record(verb, request.method, "<error>", ContinuousClock.now - started, path)
                if error.kind == .cancelled { throw KubeError(code: .transport, message: "cancelled", verb: verb, url: request.url) }
                connectFailure = error.isConnectFailure
                failure = KubeError(code: .transport, message: error.message,
                                    transport: HTTPErrorInfo(curlCode: error.curlCode, message: error.message), verb: verb, url: request.url)
            }
            if refused { throw failure }
            if status == 401, !renewed, let fresh = try await credentials.renew(after: authentication) {
                logger.debug("credentials refused; retrying with renewed ones", metadata: ["verb": "\(verb)", "path": "\(path)"])
                authentication = fresh
                renewed = true
                continue
            }
            guard let wait = retry.delay(afterAttempt: number, status: status, retryAfter: retryAfter,
                                         idempotent: request.method.isIdempotent, connectFailure: connectFailure,
                                         random: Double.random(in: 0...1)) else { throw failure }
            logger.debug("retrying request", metadata: [
                "verb": "\(verb)", "path": "\(path)", "attempt": "\(number)", "wait": "\(wait)", "error": "\(failure)"])
            do { try await Task.sleep(for: wait) } catch {
                throw KubeError(code: .transport, message: "cancelled", verb: verb, url: request.url)
            }
            number += 1
            authentication = try await credentials.current()
        }
    }

    func makeRequest(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: JSON?,
                     contentType: String, accept: String = "application/json", timeout: Duration? = .seconds(60)) -> HTTPRequest {
        var url = config.server + path
        if !query.isEmpty { url += "?" + query.map { "\($0.0.queryEscaped)=\($0.1.queryEscaped)" }.joined(separator: "&") }
        var headers: HTTPHeaders = ["Accept": accept, "User-Agent": userAgent]
        if body != nil { headers.add("Content-Type", contentType) }
        return HTTPRequest(method: method, url: url, headers: headers, body: body?.serialized(), timeout: timeout,
                           tls: config.server.hasPrefix("https:") ? config.tls : nil)
    }

    func record(_ verb: String, _ method: HTTPMethod, _ code: String, _ duration: Duration, _ path: String) {
        observer?(RequestRecord(verb: verb, method: method.rawValue, code: code, duration: duration, path: path))
    }

    func apiError(_ verb: String, _ url: String, _ code: Int, _ body: [UInt8]) -> KubeError {
        var status = Status.decode(body) ?? Status(message: String(decoding: body.prefix(1024), as: UTF8.self), reason: Self.reason(for: code), code: code)
        if status.code == nil { status.code = code }
        return KubeError(code: .api, message: status.message ?? "HTTP \(code)", status: status, verb: verb, url: url)
    }

    static func reason(for code: Int) -> String {
        switch code {
        case 400: "BadRequest"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 405: "MethodNotAllowed"
        case 409: "Conflict"
        case 410: "Gone"
        case 415: "UnsupportedMediaType"
        case 422: "Invalid"
        case 429: "TooManyRequests"
        case 504: "Timeout"
        case 500..<600: "InternalError"
        default: "Unknown"
        }
    }

    func parse(_ body: [UInt8]) throws(KubeError) -> JSON {
        do { return try JSON.parse(body) } catch {
            throw KubeError(code: .decoding, message: "response is not JSON: \(error)")
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws(KubeError) -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(body)) } catch {
            throw KubeError(code: .decoding, message: "response is not a \(T.self): \(error)")
        }
    }
}

/// One page of a list.
public struct ObjectList: Sendable {
    public var items: [JSON]
    /// The collection's version at the time of the list: where a watch should start.
    public var resourceVersion: String
    public var continueToken: String?
}
