import LucidAPI
import YAML

/// A caller as a destination's sidecar tells callers apart.
public enum CallerIdentity: Hashable, Sendable {
    /// A mesh Service of the destination's namespace, known by its certificate.
    case service(name: String, plane: String)
    /// A certificate from the mesh CA that names no Service of this namespace.
    case otherMeshIdentity
    /// No client certificate: the plaintext filter chain. Only `*` rules apply to it.
    case anonymous
}

/// One way of satisfying a rule's authentication.
public enum Credential: Hashable, Sendable {
    /// The caller presented a mesh certificate (it came over the mTLS filter chain).
    case mtls
    /// A JWT verified by `provider`, with these audiences, roles (any) and permissions (all).
    case jwt(JWTCheck)
    /// A key from this Secret, presented in this header.
    case apiKey(header: String, secret: String)
}

/// What a verified JWT must carry.
public struct JWTCheck: Hashable, Sendable {
    public var provider: JWTProviderKey
    public var audiences: [String]
    public var roles: [String]
    public var permissions: [String]
    /// Claim paths (dotted names split).
    public var rolesClaim: [String]
    public var permissionsClaim: [String]
}

/// A token issuer and where its keys are: one jwt_authn provider.
public struct JWTProviderKey: Hashable, Sendable {
    public var issuer: String
    public var jwksUri: String
}

/// One evaluated step: a rule of an applied policy, in policy and rule order.
struct SecurityEntry: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// Allows when the caller has one of the credentials (always, when nil).
        case allow(anyOf: [Credential]?)
        case deny
        /// Denies unless the caller has one of the credentials; evaluation goes on otherwise.
        case require(anyOf: [Credential])
    }

    var policy: String
    /// nil for the single deny that stands for a policy the operator could not read (fail closed).
    var rule: Int?
    /// nil: any caller.
    var source: String?
    var match: SecurityMatch
    var kind: Kind
    var action: String

    /// How the audit log and who-can-call name the step.
    var label: String { rule.map { "\(policy)/rules[\($0)]" } ?? policy }

    /// Whether it settles every call it applies to (nothing after it can matter for them).
    var isUnconditional: Bool {
        switch kind {
        case .deny, .allow(anyOf: nil): true
        default: false
        }
    }
}

/// A concrete request as the inbound RBAC filter sees it, after authentication.
public struct SecurityRequest: Sendable, Equatable {
    public var caller: CallerIdentity
    public var path: String
    public var method: String
    /// The client the API-key filter set (`<secret>/<entry>`), if a valid key came.
    public var apiKeyClient: String?
    /// Verified JWT payloads by provider name.
    public var jwt: [String: JSON]

    public init(caller: CallerIdentity, path: String = "/", method: String = "GET", apiKeyClient: String? = nil, jwt: [String: JSON] = [:]) {
        self.caller = caller
        self.path = path
        self.method = method
        self.apiKeyClient = apiKeyClient
        self.jwt = jwt
    }
}

/// The outcome of evaluating a request.
public struct SecurityDecision: Sendable, Equatable {
    public var allowed: Bool
    /// The step that decided: `policy/rules[i]`, `policy/requirements`, `default/same-plane`,
    /// `default/plane-isolation-off` or `default/plane-isolation`.
    public var decidedBy: String
}

/// The security program of one destination: its applied policies as ordered steps, and the
/// plane default. Evaluation (the definition the Envoy config is compiled from, and that
/// who-can-call explains):
///
/// 1. Steps in order (policy priority, creation time, name; then rule order), only those whose
///    source is the caller or `*` and whose match fits the request.
/// 2. `deny` denies. `allow` allows (if it names credentials, only a caller that has one; others
///    go on). `require-mtls` / `require-auth` deny a caller without the credentials and go on.
/// 3. Nothing decided: if a policy naming the caller (not `*`) had requirements and they held,
///    that policy allows; otherwise the plane default: a caller of the destination's own plane
///    is allowed; any other (other plane, other namespace, anonymous) is denied under strict
///    isolation and allowed when it is off.
struct SecurityProgram: Sendable {
    var destination: MeshService
    var entries: [SecurityEntry]
    var isolation: PlaneIsolation
    var providerNames: [JWTProviderKey: String]

    static let sameplane = "default/same-plane"
    static let isolationOff = "default/plane-isolation-off"
    static let isolationDeny = "default/plane-isolation"

    func applies(_ entry: SecurityEntry, to caller: CallerIdentity) -> Bool {
        guard let source = entry.source else { return true }
        if case .service(let name, _) = caller { return name == source }
        return false
    }

    static func matches(_ match: SecurityMatch, path: String, method: String) -> Bool {
        if let m = match.method, m != method { return false }
        if let p = match.path { return Self.pathMatches(prefix: p, path) }
        return true
    }

    /// Whole-segment prefix: "/api" matches "/api" and "/api/x", not "/apix".
    static func pathMatches(prefix: String, _ path: String) -> Bool {
        if prefix == "/" || path == prefix { return true }
        return path.hasPrefix(prefix.hasSuffix("/") ? prefix : prefix + "/")
    }

    func satisfied(_ credential: Credential, _ request: SecurityRequest) -> Bool {
        switch credential {
        case .mtls:
            return request.caller != .anonymous
        case .apiKey(_, let secret):
            return request.apiKeyClient?.hasPrefix(secret + "/") ?? false
        case .jwt(let check):
            guard let name = providerNames[check.provider], let payload = request.jwt[name] else { return false }
            func claim(_ path: [String]) -> [String] {
                var value: JSON? = payload
                for key in path { value = value?[key] }
                if let s = value?.stringValue { return [s] }
                return value?.arrayValue?.compactMap(\.stringValue) ?? []
            }
            if !check.audiences.isEmpty && Set(claim(["aud"])).isDisjoint(with: check.audiences) { return false }
            if !check.roles.isEmpty && Set(claim(check.rolesClaim)).isDisjoint(with: check.roles) { return false }
            return Set(check.permissions).isSubset(of: claim(check.permissionsClaim))
        }
    }

    func decide(_ request: SecurityRequest) -> SecurityDecision {
        var requirementsOf: String?
        for entry in entries where applies(entry, to: request.caller) && Self.matches(entry.match, path: request.path, method: request.method) {
            switch entry.kind {
            case .deny:
                return SecurityDecision(allowed: false, decidedBy: entry.label)
            case .allow(let credentials):
                if credentials?.contains(where: { satisfied($0, request) }) ?? true {
                    return SecurityDecision(allowed: true, decidedBy: entry.label)
                }
            case .require(let credentials):
                guard credentials.contains(where: { satisfied($0, request) }) else {
                    return SecurityDecision(allowed: false, decidedBy: entry.label)
                }
                if entry.source != nil && requirementsOf == nil { requirementsOf = entry.policy }
            }
        }
        if let policy = requirementsOf { return SecurityDecision(allowed: true, decidedBy: "\(policy)/requirements") }
        return planeDefault(request.caller)
    }

    func planeDefault(_ caller: CallerIdentity) -> SecurityDecision {
        if case .service(_, let plane) = caller, plane == destination.plane {
            return SecurityDecision(allowed: true, decidedBy: Self.sameplane)
        }
        return isolation == .off ? SecurityDecision(allowed: true, decidedBy: Self.isolationOff)
            : SecurityDecision(allowed: false, decidedBy: Self.isolationDeny)
    }

    /// Whether `earlier` settles every call `later` applies to.
    static func covers(_ earlier: SecurityEntry, _ later: SecurityEntry) -> Bool {
        guard earlier.isUnconditional, earlier.source == nil || earlier.source == later.source else { return false }
        if let m = earlier.match.method, m != later.match.method { return false }
        if let p = earlier.match.path {
            guard let q = later.match.path, pathMatches(prefix: p, q) else { return false }
        }
        return true
    }

    /// Whether some call could reach both steps.
    static func overlap(_ a: SecurityEntry, _ b: SecurityEntry) -> Bool {
        if let s = a.source, let t = b.source, s != t { return false }
        if let m = a.match.method, let n = b.match.method, m != n { return false }
        if let p = a.match.path, let q = b.match.path, !pathMatches(prefix: p, q) && !pathMatches(prefix: q, p) { return false }
        return true
    }

    /// Steps that can never decide because an earlier unconditional one settles every call they
    /// apply to: (shadowed, by).
    func shadowed() -> [(SecurityEntry, SecurityEntry)] {
        var result: [(SecurityEntry, SecurityEntry)] = []
        for (j, later) in entries.enumerated() {
            if let earlier = entries[..<j].first(where: { Self.covers($0, later) }) { result.append((later, earlier)) }
        }
        return result
    }
}
