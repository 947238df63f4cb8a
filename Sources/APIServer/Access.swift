import Foundation
import LoopbackServer
import Synchronization
import YAML

/// One authorization decision, kept for tests: who asked for what, and which rule let it through.
public struct AuthorizationRecord: Sendable {
    public var user: UserInfo
    public var attributes: RequestAttributes
    public var allowed: Bool
    /// The rule RBAC allowed it by (the first, in the order kube-apiserver visits them); nil
    /// when denied, or allowed to `system:masters` without RBAC.
    public var grant: RBACGrant?
    /// Other rules that would have allowed it too (a rule only ever found here is redundant
    /// for this request).
    public var alsoAllowedBy: [RBACGrant]
    /// RBAC's reason: `RBAC: allowed by ...`, or why a denial could not resolve a role.
    public var reason: String
}

/// Tokens the server issued and the decisions it made, behind the `APIServer.access` lock.
struct AccessState: Sendable {
    enum Identity: Sendable {
        case user(UserInfo)
        /// Valid while a ServiceAccount of this namespace, name and uid exists.
        case serviceAccount(namespace: String, name: String, uid: String)
    }

    struct Issued: Sendable {
        var identity: Identity
        /// Unix seconds; nil never expires.
        var expires: Int64?
    }

    var tokens: [String: Issued] = [:]
    var snapshot = RBACSnapshot()
    var snapshotVersion: UInt64?
    var records: [AuthorizationRecord] = []
    var droppedRecords = 0
    var usage: [RBACRuleRef: Int] = [:]

    static let recordLimit = 200_000
}

extension APIServer {
    // MARK: public test hooks

    /// The bearer token of the cluster-admin identity (`kubernetes-admin`, group
    /// `system:masters`), which `kubeconfig()` carries when RBAC is on.
    public var adminToken: String { admin }

    /// Issues a token for a ServiceAccount (as the TokenRequest API does): valid while that
    /// ServiceAccount exists (the same uid), for `expiresIn` (nil: an hour).
    public func token(forServiceAccount name: String, namespace: String, expiresIn: Duration? = nil) throws -> String {
        let account = store.state.withLock { $0.objects["/v1/serviceaccounts"]?[ObjectKey(namespace: namespace, name: name)] }
        guard let account, let uid = account[path: "metadata", "uid"]?.stringValue else {
            throw APIServerError(message: "serviceaccounts \"\(name)\" not found in namespace \(namespace)")
        }
        return issue(.serviceAccount(namespace: namespace, name: name, uid: uid), expiresIn: expiresIn ?? .seconds(3600))
    }

    /// A token for a user and its groups (`system:authenticated` is added), for tests of User
    /// and Group subjects; it never expires.
    public func token(forUser name: String, groups: [String] = []) -> String {
        issue(.user(UserInfo(name: name, groups: groups.contains("system:authenticated") ? groups : groups + ["system:authenticated"])), expiresIn: nil)
    }

    /// Every authorization decision so far, oldest first (at most 200,000 are kept), optionally
    /// only those about one user name.
    public func authorizations(user: String? = nil) -> [AuthorizationRecord] {
        access.withLock { s in user.map { u in s.records.filter { $0.user.name == u } } ?? s.records }
    }

    /// The requests RBAC denied, optionally only those of one user name.
    public func denials(user: String? = nil) -> [AuthorizationRecord] { authorizations(user: user).filter { !$0.allowed } }

    /// How many requests each rule allowed (the first matching rule counts), over the server's life.
    public var ruleUsage: [RBACRuleRef: Int] { access.withLock { $0.usage } }

    /// Forgets the recorded decisions and rule counts.
    public func clearAuthorizations() {
        access.withLock { s in
            s.records.removeAll()
            s.usage.removeAll()
            s.droppedRecords = 0
        }
    }

    /// RBAC's decision for a user and a request, without recording it (what `auth can-i` asks).
    public func authorize(_ user: UserInfo, _ attributes: RequestAttributes) -> (allowed: Bool, reason: String) {
        if !configuration.rbac || user.isMaster { return (true, "") }
        switch rbac().authorize(user, attributes) {
        case .allowed(let grant, _): return (true, "RBAC: allowed by \(grant.source)")
        case .denied(let reason): return (false, reason)
        }
    }

    // MARK: tokens

    func issue(_ identity: AccessState.Identity, expiresIn: Duration?) -> String {
        var token: String
        repeat {
            token = (0..<4).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
        } while access.withLock({ $0.tokens[token] != nil })
        let expires = expiresIn.map { Int64(Date().timeIntervalSince1970) + $0.components.seconds }
        access.withLock { $0.tokens[token] = AccessState.Issued(identity: identity, expires: expires) }
        return token
    }

    /// The user a bearer token stands for, if it is one the server issued and still valid.
    func identity(forToken token: String) -> UserInfo? {
        guard let issued = access.withLock({ $0.tokens[token] }) else { return nil }
        if let expires = issued.expires, Int64(Date().timeIntervalSince1970) >= expires { return nil }
        switch issued.identity {
        case .user(let user):
            return user
        case .serviceAccount(let namespace, let name, let uid):
            let live = store.state.withLock { $0.objects["/v1/serviceaccounts"]?[ObjectKey(namespace: namespace, name: name)] }
            guard let live, live[path: "metadata", "uid"]?.stringValue == uid else { return nil }
            return UserInfo.serviceAccount(namespace: namespace, name: name, uid: uid)
        }
    }

    // MARK: authentication, impersonation, authorization

    /// The RBAC objects as of now (parsed again only after one of them changed).
    func rbac() -> RBACSnapshot {
        let version = store.state.withLock { $0.rbacVersion }
        if let cached = access.withLock({ s in s.snapshotVersion == version ? s.snapshot : nil }) { return cached }
        let (current, snapshot) = store.state.withLock { s in
            (s.rbacVersion, RBACSnapshot(roles: Array((s.objects["rbac.authorization.k8s.io/v1/roles"] ?? [:]).values),
                                         clusterRoles: Array((s.objects["rbac.authorization.k8s.io/v1/clusterroles"] ?? [:]).values),
                                         roleBindings: Array((s.objects["rbac.authorization.k8s.io/v1/rolebindings"] ?? [:]).values),
                                         clusterRoleBindings: Array((s.objects["rbac.authorization.k8s.io/v1/clusterrolebindings"] ?? [:]).values)))
        }
        access.withLock { s in
            if (s.snapshotVersion ?? 0) <= current || s.snapshotVersion == nil {
                s.snapshot = snapshot
                s.snapshotVersion = current
            }
        }
        return snapshot
    }

    /// Authenticates the request (bearer token; none is `system:anonymous`), applies
    /// impersonation headers, and authorizes it. Returns the user, or the refusal to send:
    /// 401 for a token the server does not know (or that expired, or whose ServiceAccount is
    /// gone), 403 for what RBAC does not allow. Without RBAC every request is allowed, as the
    /// token's user when it has one, else as the admin.
    func admit(_ request: LoopbackRequest, _ attributes: @autoclosure () -> RequestAttributes) -> Result<UserInfo, APIError> {
        var user: UserInfo
        if let header = request.header("authorization"), header.lowercased().hasPrefix("bearer ") {
            let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            if let known = identity(forToken: token) {
                user = known
            } else if configuration.rbac {
                return .failure(APIError(code: 401, reason: "Unauthorized", message: "Unauthorized"))
            } else {
                user = .admin
            }
        } else {
            user = configuration.rbac ? .anonymous : .admin
        }
        switch impersonate(request, as: user) {
        case .success(let impersonated): user = impersonated
        case .failure(let error): return .failure(error)
        }
        if configuration.rbac, let denied = check(user, attributes()) { return .failure(denied) }
        return .success(user)
    }

    /// Authorizes and records one request; the 403 to send when RBAC does not allow it.
    /// `snapshot` is for callers holding the store's lock (which `rbac()` takes).
    func check(_ user: UserInfo, _ attributes: RequestAttributes, snapshot: RBACSnapshot? = nil) -> APIError? {
        guard configuration.rbac else { return nil }
        if user.isMaster {
            record(AuthorizationRecord(user: user, attributes: attributes, allowed: true, grant: nil, alsoAllowedBy: [], reason: ""))
            return nil
        }
        switch (snapshot ?? rbac()).authorize(user, attributes) {
        case .allowed(let grant, let others):
            record(AuthorizationRecord(user: user, attributes: attributes, allowed: true, grant: grant, alsoAllowedBy: others,
                                       reason: "RBAC: allowed by \(grant.source)"))
            return nil
        case .denied(let reason):
            record(AuthorizationRecord(user: user, attributes: attributes, allowed: false, grant: nil, alsoAllowedBy: [], reason: reason))
            return APIError.forbidden(user, attributes, reason: reason)
        }
    }

    private func record(_ entry: AuthorizationRecord) {
        access.withLock { s in
            if let grant = entry.grant { s.usage[grant.rule, default: 0] += 1 }
            if s.records.count >= AccessState.recordLimit {
                s.records.removeFirst(AccessState.recordLimit / 10)
                s.droppedRecords += AccessState.recordLimit / 10
            }
            s.records.append(entry)
        }
    }

    /// `Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid` and `Impersonate-Extra-*`,
    /// each authorized as the `impersonate` verb on users, serviceaccounts, groups, uids and
    /// userextras, as kube-apiserver's impersonation filter does.
    func impersonate(_ request: LoopbackRequest, as requester: UserInfo) -> Result<UserInfo, APIError> {
        let headers = request.headers
        func values(_ name: String) -> [String] { headers.filter { $0.name.lowercased() == name }.map { $0.value.trimmingCharacters(in: .whitespaces) } }
        let users = values("impersonate-user")
        let groups = values("impersonate-group")
        let uids = values("impersonate-uid")
        let extras = headers.filter { $0.name.lowercased().hasPrefix("impersonate-extra-") }
        guard !users.isEmpty || !groups.isEmpty || !uids.isEmpty || !extras.isEmpty else { return .success(requester) }
        guard let name = users.first else {
            return .failure(APIError.badRequest("requested impersonation of groups, a uid or extra fields without impersonating a user"))
        }
        var checks: [RequestAttributes] = []
        var impersonated: UserInfo
        if let sa = UserInfo(name: name).serviceAccount {
            checks.append(.resource("impersonate", resource: "serviceaccounts", namespace: sa.namespace, name: sa.name))
            impersonated = groups.isEmpty ? .serviceAccount(namespace: sa.namespace, name: sa.name) : UserInfo(name: name, groups: groups)
        } else {
            checks.append(.resource("impersonate", resource: "users", name: name))
            impersonated = UserInfo(name: name, groups: groups)
        }
        for group in groups { checks.append(.resource("impersonate", resource: "groups", name: group)) }
        for uid in uids {
            checks.append(.resource("impersonate", group: "authentication.k8s.io", resource: "uids", name: uid))
            impersonated.uid = uid
        }
        for extra in extras {
            let key = String(extra.name.dropFirst("impersonate-extra-".count)).lowercased().removingPercentEncoding ?? ""
            checks.append(.resource("impersonate", group: "authentication.k8s.io", resource: "userextras", subresource: key, name: extra.value))
            impersonated.extra[key, default: []].append(extra.value)
        }
        for attributes in checks {
            if let denied = check(requester, attributes) { return .failure(denied) }
        }
        if impersonated.name != UserInfo.anonymous.name, !impersonated.groups.contains("system:authenticated") {
            impersonated.groups.append("system:authenticated")
        }
        if let sa = impersonated.serviceAccount, !groups.isEmpty {
            for g in ["system:serviceaccounts", "system:serviceaccounts:\(sa.namespace)"] where !impersonated.groups.contains(g) { impersonated.groups.append(g) }
        }
        return .success(impersonated)
    }
}

extension APIError {
    /// 403 as the real server words it: `trafficpolicies.mesh.lucid.io "x" is forbidden: User
    /// "..." cannot update resource "trafficpolicies/status" in API group "mesh.lucid.io" in the
    /// namespace "ns"`, or `forbidden: User "..." cannot get path "/healthz"`.
    static func forbidden(_ user: UserInfo, _ a: RequestAttributes, reason: String) -> APIError {
        var detail: String
        if !a.isResourceRequest {
            detail = "User \"\(user.name)\" cannot \(a.verb) path \"\(a.path)\""
        } else if !a.namespace.isEmpty {
            detail = "User \"\(user.name)\" cannot \(a.verb) resource \"\(a.combinedResource)\" in API group \"\(a.apiGroup)\" in the namespace \"\(a.namespace)\""
        } else {
            detail = "User \"\(user.name)\" cannot \(a.verb) resource \"\(a.combinedResource)\" in API group \"\(a.apiGroup)\" at the cluster scope"
        }
        if !reason.isEmpty { detail += ": \(reason)" }
        let qualified = a.apiGroup.isEmpty ? a.resource : "\(a.resource).\(a.apiGroup)"
        let message: String
        if !a.isResourceRequest || qualified.isEmpty {
            message = "forbidden: \(detail)"
        } else if a.name.isEmpty {
            message = "\(qualified) is forbidden: \(detail)"
        } else {
            message = "\(qualified) \"\(a.name)\" is forbidden: \(detail)"
        }
        var details = JSONObject()
        if !a.name.isEmpty { details["name"] = .string(a.name) }
        if !a.apiGroup.isEmpty { details["group"] = .string(a.apiGroup) }
        if !a.resource.isEmpty { details["kind"] = .string(a.resource) }
        return APIError(code: 403, reason: "Forbidden", message: message, details: .object(details))
    }
}
