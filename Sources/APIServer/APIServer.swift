import Foundation
import LoopbackServer
import StructuralSchema
import Synchronization
import YAML

/// A request the server could not understand, for the public helpers.
public struct APIServerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// An in-process Kubernetes API server on 127.0.0.1, for tests, benchmarks and
/// `lucid-operator dev`. It keeps the semantics the operator and kubectl rely on: one
/// resourceVersion counter, watches with bookmarks and a history window (410 beyond it),
/// optimistic concurrency, generation, the status subresource, finalizers, owner garbage
/// collection, CRDs with schema validation, Table output. State lives in memory.
public final class APIServer: Sendable {
    /// Ways to misbehave, settable while it runs (from tests, or flags of `dev`).
    public struct Faults: Sendable {
        /// Fraction (0...1) of requests to fail, by verb: get, list, watch, create, update, patch,
        /// delete; "*" for all.
        public var errorRate: [String: Double] = [:]
        /// Fail with 429 Too Many Requests and this Retry-After (seconds), instead of 500.
        public var tooManyRequestsRetryAfter: Int?
        /// Added to every request.
        public var latency: Duration = .zero
        /// Cut every watch connection this long after it started.
        public var dropWatchesAfter: Duration?
        /// Answer every watch that resumes from a resourceVersion with 410 Expired.
        public var forceGone = false
        public init() {}
    }

    public struct Configuration: Sendable {
        /// Events kept for resuming watches; older versions get 410 Expired.
        public var historyWindow: Int
        /// How often watches that asked for them get a BOOKMARK.
        public var bookmarkInterval: Duration
        public var faults: Faults
        /// Authenticate bearer tokens and authorize every request with RBAC, as a real server
        /// does (off: every request is allowed). On, the server starts with the bootstrap
        /// roles (`cluster-admin`, `system:discovery`, `system:basic-user`, `view`, `edit`,
        /// `admin`, ...); `kubeconfig()` carries the admin's token; `token(forServiceAccount:)`
        /// and the TokenRequest API issue ServiceAccount tokens.
        public var rbac: Bool

        public init(historyWindow: Int = 10_000, bookmarkInterval: Duration = .seconds(10), faults: Faults = Faults(), rbac: Bool = false) {
            self.historyWindow = historyWindow
            self.bookmarkInterval = bookmarkInterval
            self.faults = faults
            self.rbac = rbac
        }
    }

    let store: Store
    let configuration: Configuration
    let faults: Mutex<Faults>
    let http: LoopbackServer
    /// HTTPS in front of `http` (RBAC on), and the certificates it serves.
    let tls: (front: TLSFront, certificates: DevCertificates)?
    /// Issued tokens, the authorizer's cache, the recorded decisions.
    let access = Mutex(AccessState())
    /// The admin's token (see `adminToken`).
    let admin: String

    init(http: LoopbackServer, store: Store, configuration: Configuration, tls: (TLSFront, DevCertificates)? = nil) {
        self.http = http
        self.tls = tls.map { (front: $0.0, certificates: $0.1) }
        self.store = store
        self.configuration = configuration
        faults = Mutex(configuration.faults)
        admin = (0..<4).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
        access.withLock { $0.tokens[admin] = AccessState.Issued(identity: .user(.admin), expires: nil) }
    }

    /// The port clients use: HTTPS with RBAC on, else plain HTTP.
    public var port: Int { tls?.front.port ?? http.port }
    /// `https://127.0.0.1:<port>` with RBAC on (the CA is `certificateAuthority`), else `http://...`.
    public var url: String { tls.map { "https://127.0.0.1:\($0.front.port)" } ?? http.baseURL }
    /// The plain-HTTP address, also served with RBAC on (the same authentication and authorization).
    public var insecureURL: String { http.baseURL }
    /// The PEM of the CA that signed the HTTPS certificate (RBAC on), for clients to verify it.
    public var certificateAuthority: String? { tls?.certificates.authority }

    /// Starts a server on `port` (0: a free one), runs `body`, stops the server.
    public static func run<T: Sendable>(_ configuration: Configuration = Configuration(), port: Int = 0,
                                        _ body: @Sendable (APIServer) async throws -> T) async throws -> T {
        let store = Store(historyLimit: configuration.historyWindow)
        let holder = Mutex<APIServer?>(nil)
        return try await LoopbackServer.run(port: configuration.rbac ? 0 : port, handler: { request, writer in
            guard let server = holder.withLock({ $0 }) else { return try await writer.respond(status: 503, text: "starting") }
            try await server.handle(request, writer)
        }) { http in
            var tls: (TLSFront, DevCertificates)?
            if configuration.rbac {
                let certificates = try DevCertificates.shared()
                tls = (try await TLSFront.start(port: port, backend: http.port, material: certificates), certificates)
            }
            let server = APIServer(http: http, store: store, configuration: configuration, tls: tls)
            if configuration.rbac { try server.install(BootstrapRBAC.objects) }
            holder.withLock { $0 = server }
            do {
                let result = try await body(server)
                await tls?.0.stop()
                return result
            } catch {
                await tls?.0.stop()
                throw error
            }
        }
    }

    public func setFaults(_ change: (inout Faults) -> Void) { faults.withLock { change(&$0) } }

    /// Drops every client connection at once, as a restart would; the state is kept.
    public func restart() { http.dropConnections() }

    /// Writes accepted so far (creates, updates, patches, deletes), by verb and resource.
    public var writes: WriteCounts { store.state.withLock { $0.writes } }

    /// Client connections open now.
    public var openConnections: Int { http.openConnections }

    /// The current resourceVersion.
    public var resourceVersion: String { store.state.withLock { String($0.rv) } }

    /// Creates or replaces objects directly (CRDs at start-up, fixtures), bypassing HTTP.
    public func install(_ objects: [JSON]) throws {
        for object in objects {
            let apiVersion = object["apiVersion"]?.stringValue ?? ""
            let (group, version) = apiVersion.contains("/") ? (String(apiVersion.split(separator: "/")[0]), String(apiVersion.split(separator: "/")[1])) : ("", apiVersion)
            try store.state.withLock { s in
                guard let rt = s.types.values.first(where: { $0.group == group && $0.version == version && $0.kind == object["kind"]?.stringValue }) else {
                    throw APIError.badRequest("no kind \(object["kind"]?.stringValue ?? "") in \(apiVersion)")
                }
                let namespace = rt.namespaced ? object[path: "metadata", "namespace"]?.stringValue ?? "default" : nil
                let name = object[path: "metadata", "name"]?.stringValue ?? ""
                if (try? s.get(rt, namespace: namespace, name: name)) != nil {
                    var replacement = object
                    replacement["metadata"]?["resourceVersion"] = nil
                    _ = try s.update(rt, namespace: namespace, name: name, replacement, status: false, options: WriteOptions(), historyLimit: configuration.historyWindow)
                } else {
                    _ = try s.create(rt, namespace: namespace, object, options: WriteOptions(), historyLimit: configuration.historyWindow)
                }
            }
        }
    }

    /// Decodes an enveloped `application/vnd.kubernetes.protobuf` body (what kubectl sends for
    /// built-in kinds) into the object's JSON form, as the server does for requests.
    public static func decodeProtobuf(_ body: [UInt8]) throws -> JSON {
        do throws(ProtobufError) { return try KubeProtobuf.decodeObject(body) } catch { throw APIServerError(message: error.message) }
    }

    /// A kubeconfig for this server: with `token`, or (RBAC on) the admin's token, else no
    /// credentials; with RBAC on, HTTPS and the CA to verify it.
    public func kubeconfig(context: String = "lucid-dev", token: String? = nil, namespace: String = "default") -> String {
        let credential = token ?? (configuration.rbac ? admin : nil)
        let user = credential.map { "\n    token: \($0)" } ?? " {}"
        let authority = certificateAuthority.map { "\n    certificate-authority-data: \(Data($0.utf8).base64EncodedString())" } ?? ""
        return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: \(context)
          cluster:
            server: \(url)\(authority)
        users:
        - name: \(context)
          user:\(user)
        contexts:
        - name: \(context)
          context:
            cluster: \(context)
            user: \(context)
            namespace: \(namespace)
        current-context: \(context)

        """
    }

    // MARK: routing

    struct Route {
        var type: ResourceType
        var namespace: String?
        var name: String?
        var subresource: String?
    }

    func handle(_ request: LoopbackRequest, _ writer: LoopbackResponseWriter) async throws {
        let path = String(request.path)
        let query = Self.decodeQuery(request.uri)
        let segments = path.split(separator: "/").map(String.init)
        let current = faults.withLock { $0 }
        if current.latency > .zero { try await Task.sleep(for: current.latency) }
        let user: UserInfo
        switch admit(request, RequestAttributes.parse(method: request.method, path: path, query: query)) {
        case .success(let admitted): user = admitted
        case .failure(let refusal): return try await fail(writer, refusal)
        }

        switch segments {
        case ["version"]: return try await send(writer, 200, Discovery.version())
        case ["healthz"], ["readyz"], ["livez"]: return try await writer.respond(status: 200, headers: [("Content-Type", "text/plain")], text: "ok")
        case ["api"]: return try await send(writer, 200, Discovery.coreVersions(address: "127.0.0.1:\(port)"))
        case ["apis"]: return try await send(writer, 200, Discovery.groups(types()))
        case ["openapi", "v3"]: return try await send(writer, 200, Discovery.openAPIIndex(types(), revision: crdRevision()))
        default: break
        }
        if segments.first == "openapi", segments.count >= 3, segments[1] == "v3" {
            let gv = segments.dropFirst(3).joined(separator: "/")  // api/v1 → v1, apis/g/v → g/v
            return try await send(writer, 200, OpenAPI.document(gv, types()))
        }
        if segments == ["api", "v1"] { return try await send(writer, 200, Discovery.resources("v1", types())) }
        if segments.count == 2, segments[0] == "apis" {
            guard let (name, versions) = Discovery.groupVersions(types()).first(where: { $0.group == segments[1] }) else {
                return try await fail(writer, APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource"))
            }
            return try await send(writer, 200, Discovery.group(name, versions))
        }
        if segments.count == 3, segments[0] == "apis" {
            let gv = "\(segments[1])/\(segments[2])"
            guard types().contains(where: { $0.groupVersion == gv }) else {
                return try await fail(writer, APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource"))
            }
            return try await send(writer, 200, Discovery.resources(gv, types()))
        }
        guard let route = route(segments) else {
            return try await fail(writer, APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource"))
        }

        guard Self.acceptsJSON(request.header("accept")) else {
            return try await fail(writer, APIError(code: 406, reason: "NotAcceptable",
                                                   message: "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf (requests only)"))
        }
        let verb = Self.verb(request.method, route, watch: query["watch"] == "true" || query["watch"] == "1")
        if let failure = injectedFailure(verb, current) {
            var headers: [(String, String)] = [("Content-Type", "application/json")]
            if let retry = current.tooManyRequestsRetryAfter { headers.append(("Retry-After", String(retry))) }
            return try await writer.respond(status: failure.code, headers: headers, body: failure.status.serialized())
        }
        do {
            try await serve(verb, route, request, query, writer, current, user: user)
        } catch let error as APIError {
            try await fail(writer, error)
        }
    }

    func types() -> [ResourceType] { store.state.withLock { Array($0.types.values) } }

    func crdRevision() -> UInt64 {
        store.state.withLock { s in UInt64(s.types.values.filter { $0.crdName != nil }.count) &* 1_000_003 &+ s.rv }
    }

    /// `/api/v1/namespaces/ns/configmaps/name/status` → type, namespace, name, subresource.
    func route(_ segments: [String]) -> Route? {
        var rest: ArraySlice<String>
        var group = "", version: String
        if segments.first == "api", segments.count >= 3 {
            version = segments[1]
            rest = segments[2...]
        } else if segments.first == "apis", segments.count >= 4 {
            group = segments[1]
            version = segments[2]
            rest = segments[3...]
        } else {
            return nil
        }
        let all = types()
        func find(_ resource: String) -> ResourceType? { all.first { $0.group == group && $0.version == version && $0.resource == resource } }
        var namespace: String?
        if rest.first == "namespaces", rest.count >= 3, let t = find(rest[rest.startIndex + 2]), t.namespaced {
            namespace = rest[rest.startIndex + 1]
            rest = rest.dropFirst(2)
        }
        guard let resource = rest.first, let type = find(resource) else { return nil }
        rest = rest.dropFirst()
        let name = rest.first
        rest = rest.dropFirst()
        let sub = rest.first
        if let sub, sub != "status", !type.subresources.contains(where: { $0.name == sub }) { return nil }
        if sub == "status" && !type.hasStatus { return nil }
        return Route(type: type, namespace: namespace, name: name, subresource: sub)
    }

    static func verb(_ method: String, _ route: Route, watch: Bool) -> String {
        switch method {
        case "GET": route.name == nil ? (watch ? "watch" : "list") : "get"
        case "POST": "create"
        case "PUT": "update"
        case "PATCH": "patch"
        case "DELETE": route.name == nil ? "deletecollection" : "delete"
        default: method.lowercased()
        }
    }

    func injectedFailure(_ verb: String, _ faults: Faults) -> APIError? {
        guard let rate = faults.errorRate[verb] ?? faults.errorRate["*"], rate > 0, Double.random(in: 0..<1) < rate else { return nil }
        if faults.tooManyRequestsRetryAfter != nil {
            return APIError(code: 429, reason: "TooManyRequests", message: "injected: too many requests, please try again later")
        }
        return APIError(code: 500, reason: "InternalError", message: "injected: an error on the server has prevented the request from succeeding")
    }

    static func decodeQuery(_ uri: String) -> [String: String] {
        guard let q = uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return [:] }
        var result: [String: String] = [:]
        for pair in q.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in (String(s).replacingOccurrences(of: "+", with: " ")).removingPercentEncoding ?? String(s) }
            result[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return result
    }

    // MARK: verbs

    func serve(_ verb: String, _ route: Route, _ request: LoopbackRequest, _ query: [String: String],
               _ writer: LoopbackResponseWriter, _ faults: Faults, user: UserInfo) async throws {
        if route.type.virtual || route.subresource == "token" {
            guard verb == "create" else {
                throw APIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
            }
            let (code, answer) = try review(route, try Self.body(request), user: user, dryRun: query["dryRun"] == "All")
            return try await send(writer, code, answer)
        }
        // events.k8s.io/v1 is a view of the core/v1 Event store.
        let view = EventConversion.isEventsView(route.type)
        var route = route
        if view, let core = store.state.withLock({ $0.type(group: "", version: "v1", resource: "events") }) { route.type = core }
        let out = { (o: JSON) -> JSON in view ? EventConversion.toEvents(o) : o }
        let rt = route.type
        let window = configuration.historyWindow
        let wantsTable = (request.header("accept") ?? "").contains("as=Table")
        var options = WriteOptions()
        options.agent = request.header("user-agent") ?? ""
        options.strictFields = query["fieldValidation"] == "Strict"
        options.dryRun = query["dryRun"] == "All"
        options.fieldManager = query["fieldManager"]
        if configuration.rbac, rt.group == "rbac.authorization.k8s.io", !user.isMaster {
            let snapshot = rbac()
            options.admit = { rt, object in Escalation.check(rt, object, user: user, snapshot: snapshot) }
        }
        let labels = try query["labelSelector"].flatMap { text throws(APIError) -> LabelSelector? in
            do throws(LabelSelector.ParseError) { return try LabelSelector(text) } catch { throw APIError.badRequest(error.message) }
        }
        let fields = try query["fieldSelector"].flatMap { text throws(APIError) -> FieldSelector? in
            do throws(LabelSelector.ParseError) { return try FieldSelector(view ? EventConversion.coreSelector(text) : text) } catch {
                throw APIError.badRequest(error.message)
            }
        }

        switch verb {
        case "get":
            let object = try store.state.withLock { s throws(APIError) in try s.get(rt, namespace: route.namespace, name: route.name!) }
            if wantsTable { return try await send(writer, 200, Tables.table(rt, [object], resourceVersion: object[path: "metadata", "resourceVersion"]?.stringValue ?? "")) }
            try await send(writer, 200, out(object))

        case "list":
            let after = try query["continue"].flatMap { token throws(APIError) -> (ObjectKey, String)? in
                guard let data = Data(base64Encoded: token), let value = try? JSON.parse(Array(data)),
                      let ns = value["ns"]?.stringValue, let name = value["name"]?.stringValue, let rv = value["rv"]?.stringValue else {
                    throw APIError(code: 400, reason: "BadRequest", message: "the continue token is not valid")
                }
                return (ObjectKey(namespace: ns, name: name), rv)
            }
            let limit = query["limit"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
            let page = store.state.withLock { $0.list(rt, namespace: route.namespace, labels: labels, fields: fields, limit: limit, after: after?.0) }
            let rv = after?.1 ?? String(page.rv)
            let token = page.next.map { key -> String in
                let value: JSON = ["ns": .string(key.namespace), "name": .string(key.name), "rv": .string(rv)]
                return Data(value.serialized()).base64EncodedString()
            }
            if wantsTable { return try await send(writer, 200, Tables.table(rt, page.items, resourceVersion: rv, continueToken: token)) }
            var meta: JSON = ["resourceVersion": .string(rv)]
            if let token { meta["continue"] = .string(token) }
            try await writeList(writer, view ? route.type : rt, view ? page.items.map(out) : page.items, meta, apiVersion: view ? "events.k8s.io/v1" : nil,
                                encoded: view ? [] : page.encoded)

        case "watch":
            try await watch(route, query, labels, fields, table: wantsTable, view: view, writer, faults)

        case "create":
            if route.name != nil { throw APIError(code: 405, reason: "MethodNotAllowed", message: "POST is not allowed on a named object") }
            let body = view ? EventConversion.toCore(try Self.body(request)) : try Self.body(request)
            let created = try store.state.withLock { s throws(APIError) in try s.create(rt, namespace: route.namespace, body, options: options, historyLimit: window) }
            try await send(writer, 201, out(created))

        case "update":
            guard let name = route.name else { throw APIError(code: 405, reason: "MethodNotAllowed", message: "PUT needs a name") }
            let body = view ? EventConversion.toCore(try Self.body(request)) : try Self.body(request)
            let updated = try store.state.withLock { s throws(APIError) in
                try s.update(rt, namespace: route.namespace, name: name, body, status: route.subresource == "status", options: options, historyLimit: window)
            }
            try await send(writer, 200, out(updated))

        case "patch":
            guard let name = route.name else { throw APIError(code: 405, reason: "MethodNotAllowed", message: "PATCH needs a name") }
            let creating = RequestAttributes(isResourceRequest: true, path: String(request.path), verb: "create", apiGroup: rt.group, apiVersion: rt.version,
                                             resource: rt.resource, subresource: route.subresource ?? "", namespace: route.namespace ?? "", name: name)
            // Checked inside the store's lock: with the RBAC objects as of now, read before it.
            let snapshot = configuration.rbac ? rbac() : nil
            let (result, created) = try patch(rt, route, name, request, query, options, view: view, mayCreate: { [self] () throws(APIError) in
                if let denied = check(user, creating, snapshot: snapshot) { throw denied }
            })
            try await send(writer, created ? 201 : 200, out(result))

        case "deletecollection":
            let deleted = try store.state.withLock { s throws(APIError) -> [JSON] in
                let items = s.list(rt, namespace: route.namespace, labels: labels, fields: fields, limit: nil, after: nil).items
                return try items.map { item throws(APIError) in
                    try s.delete(rt, namespace: item[path: "metadata", "namespace"]?.stringValue, name: item[path: "metadata", "name"]?.stringValue ?? "",
                                 propagation: query["propagationPolicy"], agent: request.header("user-agent") ?? "", preconditions: (nil, nil), historyLimit: window)
                }
            }
            try await writeList(writer, view ? route.type : rt, view ? deleted.map(out) : deleted, ["resourceVersion": .string(resourceVersion)],
                                apiVersion: view ? "events.k8s.io/v1" : nil)

        case "delete":
            guard let name = route.name else { throw APIError(code: 405, reason: "MethodNotAllowed", message: "DELETE needs a name") }
            let options = request.body.isEmpty ? JSON.object([:]) : try Self.body(request)
            let propagation = options["propagationPolicy"]?.stringValue ?? query["propagationPolicy"]
            let agent = request.header("user-agent") ?? ""
            let deleted = try store.state.withLock { s throws(APIError) in
                try s.delete(rt, namespace: route.namespace, name: name, propagation: propagation, agent: agent,
                             preconditions: (options[path: "preconditions", "uid"]?.stringValue, options[path: "preconditions", "resourceVersion"]?.stringValue),
                             historyLimit: window)
            }
            try await send(writer, 200, out(deleted))

        default:
            throw APIError(code: 405, reason: "MethodNotAllowed", message: "\(request.method) is not supported")
        }
    }

    /// Applies a merge, JSON, strategic-merge or apply patch under the lock, as one update
    /// (or a create, for server-side apply of a new object).
    func patch(_ rt: ResourceType, _ route: Route, _ name: String, _ request: LoopbackRequest, _ query: [String: String],
               _ options: WriteOptions, view: Bool = false, mayCreate: () throws(APIError) -> Void = {}) throws(APIError) -> (JSON, Bool) {
        let contentType = (request.header("content-type") ?? "").split(separator: ";").first.map(String.init) ?? ""
        let body = try Self.body(request)
        let window = configuration.historyWindow
        return try store.state.withLock { s throws(APIError) -> (JSON, Bool) in
            let existing = (try? s.get(rt, namespace: route.namespace, name: name)).map { view ? EventConversion.toEvents($0) : $0 }
            let stored = { (o: JSON) -> JSON in view ? EventConversion.toCore(o) : o }
            let status = route.subresource == "status"
            if contentType == "application/apply-patch+yaml" {
                guard options.fieldManager?.isEmpty == false else {
                    throw APIError.badRequest("PATCH /apply requires a non-empty fieldManager query parameter")
                }
                guard body.objectValue != nil else { throw APIError.badRequest("the applied configuration is not an object") }
                let manager = options.fieldManager ?? ""
                let sent = "\(body["apiVersion"]?.stringValue ?? "")/\(body["kind"]?.stringValue ?? "")"
                let expected = "\(view ? "events.k8s.io/v1" : rt.apiVersion)/\(rt.kind)"
                guard sent == expected else {
                    throw APIError.badRequest("the apiVersion and kind of the applied configuration (\(sent)) do not match the request (\(expected))")
                }
                let live = existing ?? ["apiVersion": .string(rt.apiVersion), "kind": .string(rt.kind), "metadata": ["name": .string(name)]]
                if existing == nil && status { throw APIError.notFound(rt, name) }
                let (merged, entries): (JSON, [ManagedFields.Entry])
                do throws(ManagedFields.Conflict) {
                    (merged, entries) = try ManagedFields.apply(live: live, config: body, manager: manager, force: query["force"] == "true", rt: rt,
                                                                subresource: status ? "status" : nil, now: s.now)
                } catch {
                    throw APIError.applyConflict(error.conflicts, apiVersion: rt.apiVersion)
                }
                var applyOptions = options
                applyOptions.managedFields = entries
                guard existing != nil else {
                    // Server-side apply that creates needs `create` as well as `patch`, as on a real server.
                    try mayCreate()
                    var object = stored(merged)
                    object["metadata"]?["name"] = .string(name)
                    return (try s.create(rt, namespace: route.namespace, object, options: applyOptions, historyLimit: window), true)
                }
                var object = stored(merged)
                object["metadata"]?["resourceVersion"] = nil
                return (try s.update(rt, namespace: route.namespace, name: name, object, status: status, options: applyOptions, historyLimit: window), false)
            }
            guard let existing else { throw APIError.notFound(rt, name) }
            if contentType == "application/strategic-merge-patch+json", rt.crdName != nil {
                throw APIError(code: 415, reason: "UnsupportedMediaType",
                               message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
            }
            var patched: JSON
            switch contentType {
            case "application/merge-patch+json": patched = Patches.merge(existing, body)
            case "application/strategic-merge-patch+json": patched = Patches.strategic(existing, body)
            case "application/json-patch+json":
                do throws(PatchError) { patched = try Patches.json(existing, body) } catch {
                    throw APIError(code: 422, reason: "Invalid", message: "the JSON patch could not be applied: \(error.message)")
                }
            default:
                throw APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json")
            }
            // A patch that names a resourceVersion is conditional on it; otherwise it applies to the current one.
            if body[path: "metadata", "resourceVersion"] == nil { patched["metadata"]?["resourceVersion"] = existing[path: "metadata", "resourceVersion"] }
            return (try s.update(rt, namespace: route.namespace, name: name, stored(patched), status: status, options: options, historyLimit: window), false)
        }
    }

    static func body(_ request: LoopbackRequest) throws(APIError) -> JSON {
        guard !request.body.isEmpty else { throw APIError.badRequest("the request has no body") }
        if mediaType(request.header("content-type")) == "application/vnd.kubernetes.protobuf" {
            do throws(ProtobufError) { return try KubeProtobuf.decodeObject(request.body) } catch {
                throw APIError.badRequest("the protobuf body could not be decoded: \(error.message)")
            }
        }
        if let json = try? JSON.parse(request.body) { return json }
        do { return try YAML.parse(String(decoding: request.body, as: UTF8.self)) } catch {
            throw APIError.badRequest("the body is neither JSON nor YAML: \(error)")
        }
    }

    /// `application/json; charset=utf-8` → `application/json`.
    static func mediaType(_ header: String?) -> String {
        (header ?? "").split(separator: ";").first.map { String($0).trimmed.lowercased() } ?? ""
    }

    /// Whether the client takes JSON (the only encoding this server writes): an Accept that
    /// lists JSON, any type, or nothing.
    static func acceptsJSON(_ header: String?) -> Bool {
        guard let header, !header.trimmed.isEmpty else { return true }
        return header.split(separator: ",").contains { part in
            let type = mediaType(String(part))
            return type == "application/json" || type == "*/*" || type == "application/*" || type == "application/yaml"
        }
    }

    // MARK: watch

    func watch(_ route: Route, _ query: [String: String], _ labels: LabelSelector?, _ fields: FieldSelector?, table: Bool, view: Bool,
               _ writer: LoopbackResponseWriter, _ faults: Faults) async throws {
        let rt = route.type
        let since = query["resourceVersion"].flatMap { UInt64($0) }
        let bookmarks = query["allowWatchBookmarks"] == "true"
        let timeout = query["timeoutSeconds"].flatMap { Int($0) }.map { Duration.seconds($0) }
        let continuation = WatchBuffer()
        try await writer.start(status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-cache, private")])

        let id: Int
        do {
            if faults.forceGone, let since, since > 0 { throw APIError.gone("too old resource version: \(since) (forced)") }
            id = try store.state.withLock { s throws(APIError) in
                try s.watch(rt, namespace: route.namespace, labels: labels, fields: fields, since: since, continuation: continuation)
            }
        } catch let error as APIError {
            try await writer.write(Array(#"{"type":"ERROR","object":"#.utf8) + error.status.serialized() + Array("}\n".utf8))
            return try await writer.end()
        }
        defer { store.state.withLock { $0.unwatch(id) } }

        enum Stop: Error { case drop }
        try await withThrowingTaskGroup(of: Void.self) { group in
            if bookmarks {
                group.addTask { [store, configuration] in
                    while true {
                        try await Task.sleep(for: configuration.bookmarkInterval)
                        continuation.yield(.bookmark(store.state.withLock { $0.rv }))
                    }
                }
            }
            if let timeout {
                group.addTask {
                    try await Task.sleep(for: timeout)
                    continuation.yield(.end)
                }
            }
            if let drop = faults.dropWatchesAfter {
                group.addTask {
                    try await Task.sleep(for: drop)
                    throw Stop.drop
                }
            }
            group.addTask {
                while true {
                    let batch = await continuation.takeAll()
                    if batch.isEmpty { return }
                    var out: [UInt8] = []
                    for item in batch {
                        switch item {
                        case .change(let event, let type):
                            if table {
                                let object = Tables.table(rt, [event.object], resourceVersion: String(event.rv))
                                out += Array(#"{"type":""#.utf8) + Array(type.utf8) + Array(#"","object":"#.utf8) + object.serialized() + Array("}\n".utf8)
                            } else if type == event.type && !view {
                                out += event.wireLine
                            } else {
                                let object = view ? EventConversion.toEvents(event.object) : event.object
                                out += Array(#"{"type":""#.utf8) + Array(type.utf8) + Array(#"","object":"#.utf8) + object.serialized() + Array("}\n".utf8)
                            }
                        case .bookmark(let rv):
                            guard !table else { continue }
                            let bookmark: JSON = ["type": "BOOKMARK", "object": ["kind": .string(rt.kind), "apiVersion": .string(view ? "events.k8s.io/v1" : rt.apiVersion),
                                                                                  "metadata": ["resourceVersion": .string(String(rv))]]]
                            out += bookmark.serialized() + [10]
                        case .failure(let status):
                            out += Array(#"{"type":"ERROR","object":"#.utf8) + status.serialized() + Array("}\n".utf8)
                            try await writer.write(out)
                            return
                        case .end:
                            if !out.isEmpty { try await writer.write(out) }
                            return
                        }
                    }
                    if !out.isEmpty { try await writer.write(out) }
                }
            }
            do {
                try await group.next()
            } catch Stop.drop {
                group.cancelAll()
                continuation.finish()
                throw CloseConnection()
            }
            group.cancelAll()
            continuation.finish()
        }
        try await writer.end()
    }

    // MARK: responses

    func send(_ writer: LoopbackResponseWriter, _ status: Int, _ body: JSON) async throws {
        try await writer.respond(status: status, headers: [("Content-Type", "application/json")], body: body.serialized())
    }

    func fail(_ writer: LoopbackResponseWriter, _ error: APIError) async throws {
        try await send(writer, error.code, error.status)
    }

    func writeList(_ writer: LoopbackResponseWriter, _ rt: ResourceType, _ items: [JSON], _ meta: JSON, apiVersion: String? = nil,
                   encoded: [ChangeEvent?] = []) async throws {
        var out: [UInt8] = []
        out.reserveCapacity(items.count * 512 + 128)
        out += Array(#"{"kind":""#.utf8) + Array("\(rt.kind)List".utf8) + Array(#"","apiVersion":""#.utf8) + Array((apiVersion ?? rt.apiVersion).utf8)
        out += Array(#"","metadata":"#.utf8) + meta.serialized() + Array(#","items":["#.utf8)
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            if i < encoded.count, let event = encoded[i] { out += event.objectBytes } else { out += item.serialized() }
        }
        out += Array("]}".utf8)
        try await writer.respond(status: 200, headers: [("Content-Type", "application/json")], body: out)
    }
}
