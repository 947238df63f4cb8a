import Foundation
import YAML

/// RBAC's escalation prevention, as kube-apiserver's RBAC storage enforces it: a user may create
/// or change a Role or ClusterRole only with rules it already holds (or the `escalate` verb on
/// it), and bind a role only when it holds the role's rules (or the `bind` verb on it); only
/// `system:masters` may set an `aggregationRule`.
enum Escalation {
    /// The refusal for a write of an RBAC object by `user`, or nil when it may go ahead.
    static func check(_ rt: ResourceType, _ object: JSON, user: UserInfo, snapshot: RBACSnapshot) -> APIError? {
        guard rt.group == "rbac.authorization.k8s.io", !user.isMaster else { return nil }
        let namespace = object[path: "metadata", "namespace"]?.stringValue ?? ""
        let name = object[path: "metadata", "name"]?.stringValue ?? ""
        func allowed(_ verb: String, _ resource: String, _ target: String) -> Bool {
            if case .allowed = snapshot.authorize(user, .resource(verb, group: rt.group, resource: resource, namespace: namespace, name: target)) { return true }
            return false
        }
        let requested: [PolicyRule]
        switch rt.resource {
        case "roles", "clusterroles":
            if allowed("escalate", rt.resource, name) { return nil }
            if rt.resource == "clusterroles", object["aggregationRule"] != nil, object["aggregationRule"] != .null {
                return forbidden(rt, name, "must have cluster-admin privileges to use the aggregationRule")
            }
            requested = (object["rules"]?.arrayValue ?? []).map(PolicyRule.init(json:))
        case "rolebindings", "clusterrolebindings":
            let kind = object[path: "roleRef", "kind"]?.stringValue ?? ""
            let roleName = object[path: "roleRef", "name"]?.stringValue ?? ""
            if allowed("bind", kind == "Role" ? "roles" : "clusterroles", roleName) { return nil }
            let rules = kind == "Role" ? snapshot.roles["\(namespace)/\(roleName)"] : snapshot.clusterRoles[roleName]
            guard let rules else {
                let missing = kind == "Role" ? "role.rbac.authorization.k8s.io \"\(roleName)\" not found" : "clusterrole.rbac.authorization.k8s.io \"\(roleName)\" not found"
                return forbidden(rt, name, missing)
            }
            requested = rules
        default:
            return nil
        }
        let owned = snapshot.rules(for: user, namespace: namespace).rules
        let missing = uncovered(requested, by: owned)
        guard !missing.isEmpty else { return nil }
        let lines = Set(compact(missing).map(compactString)).sorted()
        return forbidden(rt, name, "user \(quoted(user.name)) (groups=\(quoted(user.groups))) is attempting to grant RBAC permissions not currently held:\n"
                         + lines.joined(separator: "\n"))
    }

    static func forbidden(_ rt: ResourceType, _ name: String, _ detail: String) -> APIError {
        APIError(code: 403, reason: "Forbidden", message: "\(rt.resource).\(rt.group) \(quoted(name)) is forbidden: \(detail)",
                 details: ["name": .string(name), "group": .string(rt.group), "kind": .string(rt.resource)])
    }

    /// The atomic rules of `requested` (one verb, group, resource and name each) that no owned rule covers.
    static func uncovered(_ requested: [PolicyRule], by owned: [PolicyRule]) -> [PolicyRule] {
        requested.flatMap(breakdown).filter { sub in !owned.contains { covers($0, sub) } }
    }

    static func breakdown(_ rule: PolicyRule) -> [PolicyRule] {
        var out: [PolicyRule] = []
        for group in rule.apiGroups {
            for resource in rule.resources {
                for verb in rule.verbs {
                    if rule.resourceNames.isEmpty {
                        out.append(PolicyRule(verbs: [verb], apiGroups: [group], resources: [resource]))
                    } else {
                        for name in rule.resourceNames {
                            out.append(PolicyRule(verbs: [verb], apiGroups: [group], resources: [resource], resourceNames: [name]))
                        }
                    }
                }
            }
        }
        for url in rule.nonResourceURLs {
            for verb in rule.verbs { out.append(PolicyRule(verbs: [verb], nonResourceURLs: [url])) }
        }
        return out
    }

    /// Whether `owner` grants everything `sub` does.
    static func covers(_ owner: PolicyRule, _ sub: PolicyRule) -> Bool {
        func hasAll(_ set: [String], _ wanted: [String]) -> Bool { wanted.allSatisfy(set.contains) }
        let verbs = owner.verbs.contains("*") || hasAll(owner.verbs, sub.verbs)
        let groups = owner.apiGroups.contains("*") || hasAll(owner.apiGroups, sub.apiGroups)
        let resources = owner.resources.contains("*") || sub.resources.allSatisfy { r in
            if owner.resources.contains(r) { return true }
            guard let slash = r.firstIndex(of: "/") else { return false }
            return owner.resources.contains("*/" + r[r.index(after: slash)...])
        }
        let urls = sub.nonResourceURLs.allSatisfy { url in
            owner.nonResourceURLs.contains { o in o == url || (o.hasSuffix("*") && url.hasPrefix(o.dropLast())) }
        }
        let names = sub.resourceNames.isEmpty ? owner.resourceNames.isEmpty : (owner.resourceNames.isEmpty || hasAll(owner.resourceNames, sub.resourceNames))
        return verbs && groups && resources && urls && names
    }

    /// Rules with one group and resource and no names that differ only by verb, merged.
    static func compact(_ rules: [PolicyRule]) -> [PolicyRule] {
        var out: [PolicyRule] = []
        for rule in rules {
            let simple = rule.apiGroups.count == 1 && rule.resources.count == 1 && rule.resourceNames.isEmpty && rule.nonResourceURLs.isEmpty
            if simple, let i = out.firstIndex(where: { $0.apiGroups == rule.apiGroups && $0.resources == rule.resources && $0.resourceNames.isEmpty && $0.nonResourceURLs.isEmpty }) {
                for verb in rule.verbs where !out[i].verbs.contains(verb) { out[i].verbs.append(verb) }
            } else {
                out.append(rule)
            }
        }
        return out
    }

    /// `{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}`, as kube prints a rule.
    static func compactString(_ rule: PolicyRule) -> String {
        var parts: [String] = []
        if !rule.apiGroups.isEmpty { parts.append("APIGroups:\(quoted(rule.apiGroups))") }
        if !rule.resources.isEmpty { parts.append("Resources:\(quoted(rule.resources))") }
        if !rule.nonResourceURLs.isEmpty { parts.append("NonResourceURLs:\(quoted(rule.nonResourceURLs))") }
        if !rule.resourceNames.isEmpty { parts.append("ResourceNames:\(quoted(rule.resourceNames))") }
        if !rule.verbs.isEmpty { parts.append("Verbs:\(quoted(rule.verbs))") }
        return "{" + parts.joined(separator: ", ") + "}"
    }

    /// Go's `%q` of a string and of a string slice.
    static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func quoted(_ list: [String]) -> String { "[" + list.map(quoted).joined(separator: " ") + "]" }
}
