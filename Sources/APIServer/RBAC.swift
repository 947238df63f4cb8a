import YAML

/// Who sent a request, as authentication found it (or impersonation made it).
public struct UserInfo: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var uid: String
    public var groups: [String]
    public var extra: [String: [String]]

    public init(name: String, uid: String = "", groups: [String] = [], extra: [String: [String]] = [:]) {
        self.name = name
        self.uid = uid
        self.groups = groups
        self.extra = extra
    }

    /// A request without credentials, when RBAC is on.
    public static let anonymous = UserInfo(name: "system:anonymous", groups: ["system:unauthenticated"])

    /// The server's cluster-admin identity (what `kubeconfig()` and the tests' own clients use).
    public static let admin = UserInfo(name: "kubernetes-admin", groups: ["system:masters", "system:authenticated"])

    /// `system:serviceaccount:<namespace>:<name>`, in the groups every service account is in.
    public static func serviceAccount(namespace: String, name: String, uid: String = "") -> UserInfo {
        UserInfo(name: serviceAccountPrefix + "\(namespace):\(name)", uid: uid,
                 groups: ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"])
    }

    static let serviceAccountPrefix = "system:serviceaccount:"

    /// The namespace and name of a service account's user name.
    var serviceAccount: (namespace: String, name: String)? {
        guard name.hasPrefix(Self.serviceAccountPrefix) else { return nil }
        let parts = name.dropFirst(Self.serviceAccountPrefix.count).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (String(parts[0]), String(parts[1]))
    }

    /// Members of `system:masters` pass authorization without RBAC, as on a real server.
    public var isMaster: Bool { groups.contains("system:masters") }

    public var description: String { name }

    var json: JSON {
        var o: JSON = ["username": .string(name)]
        if !uid.isEmpty { o["uid"] = .string(uid) }
        if !groups.isEmpty { o["groups"] = .array(groups.map { .string($0) }) }
        if !extra.isEmpty {
            var e = JSONObject()
            for (k, v) in extra.sorted(by: { $0.key < $1.key }) { e[k] = .array(v.map { .string($0) }) }
            o["extra"] = .object(e)
        }
        return o
    }
}

/// One rule of a Role or ClusterRole (rbac.authorization.k8s.io/v1 PolicyRule).
public struct PolicyRule: Sendable, Hashable, CustomStringConvertible {
    public var verbs: [String]
    public var apiGroups: [String]
    public var resources: [String]
    public var resourceNames: [String]
    public var nonResourceURLs: [String]

    public init(verbs: [String], apiGroups: [String] = [], resources: [String] = [], resourceNames: [String] = [], nonResourceURLs: [String] = []) {
        self.verbs = verbs
        self.apiGroups = apiGroups
        self.resources = resources
        self.resourceNames = resourceNames
        self.nonResourceURLs = nonResourceURLs
    }

    init(json: JSON) {
        func strings(_ key: String) -> [String] { json[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        self.init(verbs: strings("verbs"), apiGroups: strings("apiGroups"), resources: strings("resources"),
                  resourceNames: strings("resourceNames"), nonResourceURLs: strings("nonResourceURLs"))
    }

    var json: JSON {
        var o = JSONObject()
        func put(_ key: String, _ values: [String]) { if !values.isEmpty { o[key] = .array(values.map { .string($0) }) } }
        put("verbs", verbs)
        if !resources.isEmpty || !apiGroups.isEmpty { o["apiGroups"] = .array(apiGroups.map { .string($0) }) }
        put("resources", resources)
        put("resourceNames", resourceNames)
        put("nonResourceURLs", nonResourceURLs)
        return .object(o)
    }

    /// Whether this rule allows the request: RBAC's RuleAllows, field by field.
    public func allows(_ a: RequestAttributes) -> Bool {
        guard verbs.contains("*") || verbs.contains(a.verb) else { return false }
        guard a.isResourceRequest else {
            return nonResourceURLs.contains { url in
                url == "*" || url == a.path || (url.hasSuffix("*") && a.path.hasPrefix(url.dropLast()))
            }
        }
        guard apiGroups.contains("*") || apiGroups.contains(a.apiGroup) else { return false }
        let combined = a.combinedResource
        let resourceMatches = resources.contains { r in
            if r == "*" || r == combined { return true }
            // "*/status" matches the status subresource of every resource.
            return !a.subresource.isEmpty && r == "*/\(a.subresource)"
        }
        guard resourceMatches else { return false }
        return resourceNames.isEmpty || resourceNames.contains(a.name)
    }

    public var description: String {
        var parts: [String] = []
        if !apiGroups.isEmpty { parts.append("APIGroups:\(apiGroups)") }
        if !resources.isEmpty { parts.append("Resources:\(resources)") }
        if !resourceNames.isEmpty { parts.append("ResourceNames:\(resourceNames)") }
        if !nonResourceURLs.isEmpty { parts.append("NonResourceURLs:\(nonResourceURLs)") }
        parts.append("Verbs:\(verbs)")
        return "{" + parts.joined(separator: ", ") + "}"
    }
}

/// Which rule of which role: what a test removes to prove the rule is needed.
public struct RBACRuleRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// `Role` or `ClusterRole`.
    public var roleKind: String
    /// The Role's namespace; empty for a ClusterRole.
    public var roleNamespace: String
    public var roleName: String
    /// The rule's index in the role's `rules`.
    public var index: Int

    public init(roleKind: String, roleNamespace: String = "", roleName: String, index: Int) {
        self.roleKind = roleKind
        self.roleNamespace = roleNamespace
        self.roleName = roleName
        self.index = index
    }

    public var description: String {
        "\(roleKind) \(roleNamespace.isEmpty ? "" : roleNamespace + "/")\(roleName) rules[\(index)]"
    }

    public static func < (a: RBACRuleRef, b: RBACRuleRef) -> Bool {
        (a.roleKind, a.roleNamespace, a.roleName, a.index) < (b.roleKind, b.roleNamespace, b.roleName, b.index)
    }
}

/// A rule reached through a binding: the source RBAC names in its "allowed by" reason.
public struct RBACGrant: Sendable, Hashable, CustomStringConvertible {
    public var rule: RBACRuleRef
    /// `ClusterRoleBinding "x" of ClusterRole "y" to ServiceAccount "sa/ns"`.
    public var source: String
    public var description: String { "\(rule) via \(source)" }
}

/// The RBAC objects of the server, parsed once per change, and kube-apiserver's RBAC
/// authorizer over them: ClusterRoleBindings first, then the RoleBindings of the request's
/// namespace, each binding's subjects matched against the user, its role's rules in order.
struct RBACSnapshot: Sendable {
    struct Subject: Sendable {
        var kind: String
        var name: String
        var namespace: String
    }

    struct Binding: Sendable {
        var kind: String
        var name: String
        var namespace: String
        var roleKind: String
        var roleName: String
        var subjects: [Subject]
    }

    var roles: [String: [PolicyRule]] = [:]
    var clusterRoles: [String: [PolicyRule]] = [:]
    var roleBindings: [String: [Binding]] = [:]
    var clusterRoleBindings: [Binding] = []

    init() {}

    /// From the stored objects (any order; bindings are visited by name, as a lister gives them).
    init(roles: [JSON], clusterRoles: [JSON], roleBindings: [JSON], clusterRoleBindings: [JSON]) {
        func rules(_ o: JSON) -> [PolicyRule] { (o["rules"]?.arrayValue ?? []).map(PolicyRule.init(json:)) }
        for r in roles { self.roles["\(r[path: "metadata", "namespace"]?.stringValue ?? "")/\(r[path: "metadata", "name"]?.stringValue ?? "")"] = rules(r) }
        for r in clusterRoles { self.clusterRoles[r[path: "metadata", "name"]?.stringValue ?? ""] = rules(r) }
        func binding(_ o: JSON, _ kind: String) -> Binding {
            Binding(kind: kind, name: o[path: "metadata", "name"]?.stringValue ?? "", namespace: o[path: "metadata", "namespace"]?.stringValue ?? "",
                    roleKind: o[path: "roleRef", "kind"]?.stringValue ?? "", roleName: o[path: "roleRef", "name"]?.stringValue ?? "",
                    subjects: (o["subjects"]?.arrayValue ?? []).map {
                        Subject(kind: $0["kind"]?.stringValue ?? "", name: $0["name"]?.stringValue ?? "", namespace: $0["namespace"]?.stringValue ?? "")
                    })
        }
        for b in roleBindings.map({ binding($0, "RoleBinding") }) { self.roleBindings[b.namespace, default: []].append(b) }
        for key in self.roleBindings.keys { self.roleBindings[key]?.sort { $0.name < $1.name } }
        self.clusterRoleBindings = clusterRoleBindings.map { binding($0, "ClusterRoleBinding") }.sorted { $0.name < $1.name }
    }

    enum Decision: Sendable {
        /// The first grant that allows it (the one RBAC names), and every other that would.
        case allowed(RBACGrant, others: [RBACGrant])
        /// No rule allows it; the reason is RBAC's ("" or the roles it could not resolve).
        case denied(reason: String)
    }

    /// RBAC's decision for a user and a request.
    func authorize(_ user: UserInfo, _ attributes: RequestAttributes) -> Decision {
        var grants: [RBACGrant] = []
        var errors: [String] = []
        visit(user, namespace: attributes.namespace) { grant, rule in
            if rule.allows(attributes) { grants.append(grant) }
        } failed: { errors.append($0) }
        if let first = grants.first { return .allowed(first, others: Array(grants.dropFirst())) }
        return .denied(reason: Self.reason(errors))
    }

    /// Every rule that applies to the user in the namespace (cluster-wide rules included), and
    /// the role references that could not be resolved.
    func rules(for user: UserInfo, namespace: String) -> (rules: [PolicyRule], errors: [String]) {
        var rules: [PolicyRule] = []
        var errors: [String] = []
        visit(user, namespace: namespace) { _, rule in rules.append(rule) } failed: { errors.append($0) }
        return (rules, errors)
    }

    /// `RBAC: <errors>` as kube's aggregate error prints them, or "".
    static func reason(_ errors: [String]) -> String {
        var seen = Set<String>()
        let unique = errors.filter { seen.insert($0).inserted }
        if unique.isEmpty { return "" }
        return "RBAC: " + (unique.count == 1 ? unique[0] : "[" + unique.joined(separator: ", ") + "]")
    }

    private func visit(_ user: UserInfo, namespace: String, _ rule: (RBACGrant, PolicyRule) -> Void, failed: (String) -> Void) {
        var bindings = clusterRoleBindings
        if !namespace.isEmpty { bindings += roleBindings[namespace] ?? [] }
        for binding in bindings {
            guard let subject = binding.subjects.first(where: { applies($0, to: user, bindingNamespace: binding.namespace) }) else { continue }
            let resolved: [PolicyRule]?
            let roleNamespace = binding.roleKind == "Role" ? binding.namespace : ""
            switch binding.roleKind {
            case "Role":
                resolved = roles["\(binding.namespace)/\(binding.roleName)"]
                if resolved == nil { failed("role.rbac.authorization.k8s.io \"\(binding.roleName)\" not found") }
            case "ClusterRole":
                resolved = clusterRoles[binding.roleName]
                if resolved == nil { failed("clusterrole.rbac.authorization.k8s.io \"\(binding.roleName)\" not found") }
            default:
                resolved = nil
                failed("unsupported role reference kind: \"\(binding.roleKind)\"")
            }
            let source = Self.describe(binding, subject)
            for (i, r) in (resolved ?? []).enumerated() {
                rule(RBACGrant(rule: RBACRuleRef(roleKind: binding.roleKind, roleNamespace: roleNamespace, roleName: binding.roleName, index: i),
                               source: source), r)
            }
        }
    }

    private func applies(_ subject: Subject, to user: UserInfo, bindingNamespace: String) -> Bool {
        switch subject.kind {
        case "User": return user.name == subject.name
        case "Group": return user.groups.contains(subject.name)
        case "ServiceAccount":
            // A RoleBinding's ServiceAccount subject defaults to the binding's namespace.
            let namespace = subject.namespace.isEmpty ? bindingNamespace : subject.namespace
            return !namespace.isEmpty && user.name == UserInfo.serviceAccountPrefix + "\(namespace):\(subject.name)"
        default: return false
        }
    }

    /// `ClusterRoleBinding "x" of ClusterRole "y" to Group "z"`, `RoleBinding "x/ns" of Role "y" to ServiceAccount "sa/ns"`.
    static func describe(_ binding: Binding, _ subject: Subject) -> String {
        let who: String
        if subject.kind == "ServiceAccount" {
            who = "ServiceAccount \"\(subject.name)/\(subject.namespace.isEmpty ? binding.namespace : subject.namespace)\""
        } else {
            who = "\(subject.kind) \"\(subject.name)\""
        }
        let name = binding.kind == "RoleBinding" ? "\(binding.name)/\(binding.namespace)" : binding.name
        return "\(binding.kind) \"\(name)\" of \(binding.roleKind) \"\(binding.roleName)\" to \(who)"
    }
}

/// ClusterRole aggregation, as kube-controller-manager's aggregation controller does it: a
/// ClusterRole with `aggregationRule.clusterRoleSelectors` gets the rules of every other
/// ClusterRole whose labels match one of the selectors (in selector order, then by name,
/// without duplicates).
enum ClusterRoleAggregation {
    /// The rules each aggregated ClusterRole should have, by name.
    static func rules(_ clusterRoles: [JSON]) -> [String: [JSON]] {
        var result: [String: [JSON]] = [:]
        let byName = clusterRoles.sorted { ($0[path: "metadata", "name"]?.stringValue ?? "") < ($1[path: "metadata", "name"]?.stringValue ?? "") }
        for role in byName {
            guard let selectors = role[path: "aggregationRule", "clusterRoleSelectors"]?.arrayValue,
                  let name = role[path: "metadata", "name"]?.stringValue else { continue }
            var rules: [JSON] = []
            for selector in selectors {
                for other in byName where other[path: "metadata", "name"]?.stringValue != name {
                    guard matches(selector, other[path: "metadata", "labels"]?.objectValue) else { continue }
                    for rule in other["rules"]?.arrayValue ?? [] where !rules.contains(rule) { rules.append(rule) }
                }
            }
            result[name] = rules
        }
        return result
    }

    /// A metav1.LabelSelector (`matchLabels`, `matchExpressions` with In, NotIn, Exists,
    /// DoesNotExist) against labels. An empty selector matches nothing here, as in the controller.
    static func matches(_ selector: JSON, _ labels: JSONObject?) -> Bool {
        let matchLabels = selector["matchLabels"]?.objectValue ?? JSONObject()
        let expressions = selector["matchExpressions"]?.arrayValue ?? []
        if matchLabels.isEmpty && expressions.isEmpty { return false }
        for (k, v) in matchLabels where labels?[k] != v { return false }
        for e in expressions {
            let key = e["key"]?.stringValue ?? ""
            let values = e["values"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let value = labels?[key]?.stringValue
            switch e["operator"]?.stringValue {
            case "In": if value.map({ !values.contains($0) }) ?? true { return false }
            case "NotIn": if let value, values.contains(value) { return false }
            case "Exists": if value == nil { return false }
            case "DoesNotExist": if value != nil { return false }
            default: return false
            }
        }
        return true
    }
}
