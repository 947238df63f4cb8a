@testable import APIServer
import Testing
import YAML

/// The pure parts of authorization: reading a request as kube-apiserver does, matching rules,
/// resolving bindings, aggregating ClusterRoles.
@Suite struct RequestAttributesTests {
    struct Case: Sendable, CustomStringConvertible {
        var method: String
        var path: String
        var query: [String: String] = [:]
        var expected: RequestAttributes
        var description: String { "\(method) \(path)" }
    }

    static func r(_ verb: String, _ resource: String, group: String = "", sub: String = "", ns: String = "", name: String = "") -> RequestAttributes {
        RequestAttributes(isResourceRequest: true, path: "", verb: verb, apiGroup: group, resource: resource, subresource: sub, namespace: ns, name: name)
    }

    static let cases: [Case] = [
        Case(method: "GET", path: "/api/v1/namespaces/shop/pods", expected: r("list", "pods", ns: "shop")),
        Case(method: "GET", path: "/api/v1/namespaces/shop/pods", query: ["watch": "true"], expected: r("watch", "pods", ns: "shop")),
        Case(method: "GET", path: "/api/v1/namespaces/shop/pods", query: ["watch": "false"], expected: r("list", "pods", ns: "shop")),
        Case(method: "GET", path: "/api/v1/pods", expected: r("list", "pods")),
        Case(method: "GET", path: "/api/v1/namespaces/shop/pods/p1", expected: r("get", "pods", ns: "shop", name: "p1")),
        Case(method: "HEAD", path: "/api/v1/namespaces/shop/pods/p1", expected: r("get", "pods", ns: "shop", name: "p1")),
        Case(method: "PUT", path: "/apis/mesh.lucid.io/v1alpha1/namespaces/shop/trafficpolicies/tp/status",
             expected: r("update", "trafficpolicies", group: "mesh.lucid.io", sub: "status", ns: "shop", name: "tp")),
        Case(method: "PATCH", path: "/apis/payments.lucid.io/v1alpha1/namespaces/pay/tronpayouts/p",
             expected: r("patch", "tronpayouts", group: "payments.lucid.io", ns: "pay", name: "p")),
        Case(method: "POST", path: "/apis/batch/v1/namespaces/pay/jobs", expected: r("create", "jobs", group: "batch", ns: "pay")),
        Case(method: "DELETE", path: "/api/v1/namespaces/shop/configmaps", expected: r("deletecollection", "configmaps", ns: "shop")),
        Case(method: "DELETE", path: "/api/v1/namespaces/shop/configmaps/c", expected: r("delete", "configmaps", ns: "shop", name: "c")),
        // A Namespace's own path is "in" that namespace, as on a real server.
        Case(method: "GET", path: "/api/v1/namespaces/shop", expected: r("get", "namespaces", ns: "shop", name: "shop")),
        Case(method: "PUT", path: "/api/v1/namespaces/shop/status", expected: r("update", "namespaces", sub: "status", ns: "shop", name: "shop")),
        Case(method: "PUT", path: "/api/v1/namespaces/shop/finalize", expected: r("update", "namespaces", sub: "finalize", ns: "shop", name: "shop")),
        Case(method: "GET", path: "/api/v1/namespaces", expected: r("list", "namespaces")),
        Case(method: "POST", path: "/api/v1/namespaces/lucid-system/serviceaccounts/lucid-operator/token",
             expected: r("create", "serviceaccounts", sub: "token", ns: "lucid-system", name: "lucid-operator")),
        // A list or watch for one name (field selector) is authorized as for that name.
        Case(method: "GET", path: "/apis/coordination.k8s.io/v1/namespaces/lucid-system/leases", query: ["fieldSelector": "metadata.name=leader"],
             expected: r("list", "leases", group: "coordination.k8s.io", ns: "lucid-system", name: "leader")),
        Case(method: "GET", path: "/api/v1/namespaces/shop/configmaps", query: ["fieldSelector": "metadata.name!=x"],
             expected: r("list", "configmaps", ns: "shop")),
        Case(method: "GET", path: "/apis/apps/v1/watch/namespaces/shop/deployments", expected: r("watch", "deployments", group: "apps", ns: "shop")),
        Case(method: "GET", path: "/version", expected: RequestAttributes(isResourceRequest: false, path: "/version", verb: "get")),
        Case(method: "GET", path: "/apis/apps/v1", expected: RequestAttributes(isResourceRequest: false, path: "/apis/apps/v1", verb: "get")),
        Case(method: "GET", path: "/api", expected: RequestAttributes(isResourceRequest: false, path: "/api", verb: "get")),
        Case(method: "POST", path: "/healthz", expected: RequestAttributes(isResourceRequest: false, path: "/healthz", verb: "post")),
    ]

    @Test(arguments: cases) func parsesAsKubeAPIServerDoes(_ c: Case) {
        var parsed = RequestAttributes.parse(method: c.method, path: c.path, query: c.query)
        parsed.apiVersion = ""
        var expected = c.expected
        expected.path = c.path
        #expect(parsed == expected)
    }
}

@Suite struct PolicyRuleTests {
    let status = RequestAttributes.resource("update", group: "mesh.lucid.io", resource: "trafficpolicies", subresource: "status", namespace: "shop", name: "tp")

    @Test func aResourceMatchesItselfButNotItsSubresources() {
        let rule = PolicyRule(verbs: ["update"], apiGroups: ["mesh.lucid.io"], resources: ["trafficpolicies"])
        #expect(rule.allows(.resource("update", group: "mesh.lucid.io", resource: "trafficpolicies", namespace: "shop", name: "tp")))
        #expect(!rule.allows(status))
        #expect(PolicyRule(verbs: ["update"], apiGroups: ["mesh.lucid.io"], resources: ["trafficpolicies/status"]).allows(status))
        #expect(PolicyRule(verbs: ["update"], apiGroups: ["mesh.lucid.io"], resources: ["*/status"]).allows(status))
        #expect(!PolicyRule(verbs: ["update"], apiGroups: ["mesh.lucid.io"], resources: ["*/scale"]).allows(status))
        #expect(PolicyRule(verbs: ["update"], apiGroups: ["mesh.lucid.io"], resources: ["*"]).allows(status))
    }

    @Test func verbsAndGroupsMustMatch() {
        #expect(!PolicyRule(verbs: ["get", "patch"], apiGroups: ["mesh.lucid.io"], resources: ["trafficpolicies/status"]).allows(status))
        #expect(PolicyRule(verbs: ["*"], apiGroups: ["mesh.lucid.io"], resources: ["trafficpolicies/status"]).allows(status))
        #expect(!PolicyRule(verbs: ["update"], apiGroups: [""], resources: ["trafficpolicies/status"]).allows(status))
        #expect(PolicyRule(verbs: ["update"], apiGroups: ["*"], resources: ["trafficpolicies/status"]).allows(status))
        // watch is its own verb: list does not grant it.
        #expect(!PolicyRule(verbs: ["list"], apiGroups: [""], resources: ["pods"]).allows(.resource("watch", resource: "pods")))
    }

    @Test func resourceNamesLimitToNamedObjects() {
        let rule = PolicyRule(verbs: ["get", "update", "list", "create"], apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["leader"])
        #expect(rule.allows(.resource("get", group: "coordination.k8s.io", resource: "leases", namespace: "x", name: "leader")))
        #expect(!rule.allows(.resource("get", group: "coordination.k8s.io", resource: "leases", namespace: "x", name: "other")))
        // A create or an unfiltered list has no name: resourceNames never match them.
        #expect(!rule.allows(.resource("create", group: "coordination.k8s.io", resource: "leases", namespace: "x")))
        #expect(!rule.allows(.resource("list", group: "coordination.k8s.io", resource: "leases", namespace: "x")))
    }

    @Test func nonResourceURLsMatchExactlyOrByPrefix() {
        let rule = PolicyRule(verbs: ["get"], nonResourceURLs: ["/healthz", "/apis/*"])
        func path(_ p: String, _ verb: String = "get") -> RequestAttributes { RequestAttributes(isResourceRequest: false, path: p, verb: verb) }
        #expect(rule.allows(path("/healthz")))
        #expect(!rule.allows(path("/healthz/etcd")))
        #expect(rule.allows(path("/apis/apps/v1")))
        #expect(!rule.allows(path("/api/v1")))
        #expect(!rule.allows(path("/healthz", "post")))
        // A resource rule never allows a path, nor a path rule a resource.
        #expect(!PolicyRule(verbs: ["get"], apiGroups: ["*"], resources: ["*"]).allows(path("/healthz")))
        #expect(!rule.allows(.resource("get", resource: "healthz")))
    }
}

@Suite struct RBACSnapshotTests {
    static func role(_ kind: String, _ name: String, ns: String? = nil, _ rules: [JSON], labels: JSON? = nil) -> JSON {
        var meta: JSON = ["name": .string(name)]
        if let ns { meta["namespace"] = .string(ns) }
        if let labels { meta["labels"] = labels }
        return ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": .string(kind), "metadata": meta, "rules": .array(rules)]
    }

    static func binding(_ kind: String, _ name: String, ns: String? = nil, role: (String, String), _ subjects: [JSON]) -> JSON {
        var meta: JSON = ["name": .string(name)]
        if let ns { meta["namespace"] = .string(ns) }
        return ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": .string(kind), "metadata": meta,
                "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": .string(role.0), "name": .string(role.1)], "subjects": .array(subjects)]
    }

    let reader: JSON = ["apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]]
    let operatorSA = UserInfo.serviceAccount(namespace: "lucid-system", name: "lucid-operator")

    @Test func aClusterRoleBindingGrantsEverywhereARoleBindingOnlyInItsNamespace() {
        let snapshot = RBACSnapshot(
            roles: [], clusterRoles: [Self.role("ClusterRole", "cm-reader", [reader])],
            roleBindings: [Self.binding("RoleBinding", "read-here", ns: "shop", role: ("ClusterRole", "cm-reader"),
                                        [["kind": "ServiceAccount", "name": "lucid-operator", "namespace": "lucid-system"]])],
            clusterRoleBindings: [])
        let inShop = RequestAttributes.resource("list", resource: "configmaps", namespace: "shop")
        guard case .allowed(let grant, _) = snapshot.authorize(operatorSA, inShop) else { Issue.record("not allowed in its namespace"); return }
        #expect(grant.rule == RBACRuleRef(roleKind: "ClusterRole", roleName: "cm-reader", index: 0))
        #expect(grant.source == #"RoleBinding "read-here/shop" of ClusterRole "cm-reader" to ServiceAccount "lucid-operator/lucid-system""#)
        guard case .denied(let reason) = snapshot.authorize(operatorSA, .resource("list", resource: "configmaps", namespace: "other")) else {
            Issue.record("allowed outside the binding's namespace"); return
        }
        #expect(reason == "")
        // Nor cluster-wide (a list across namespaces has no namespace).
        if case .allowed = snapshot.authorize(operatorSA, .resource("list", resource: "configmaps")) { Issue.record("allowed cluster-wide") }

        let cluster = RBACSnapshot(roles: [], clusterRoles: [Self.role("ClusterRole", "cm-reader", [reader])], roleBindings: [],
                                   clusterRoleBindings: [Self.binding("ClusterRoleBinding", "read-all", role: ("ClusterRole", "cm-reader"),
                                                                      [["kind": "ServiceAccount", "name": "lucid-operator", "namespace": "lucid-system"]])])
        if case .denied = cluster.authorize(operatorSA, .resource("list", resource: "configmaps")) { Issue.record("denied cluster-wide") }
        if case .denied = cluster.authorize(operatorSA, inShop) { Issue.record("denied in a namespace") }
    }

    @Test func subjectsMatchUsersGroupsAndServiceAccounts() {
        let snapshot = RBACSnapshot(
            roles: [Self.role("Role", "r", ns: "shop", [reader])], clusterRoles: [],
            roleBindings: [
                Self.binding("RoleBinding", "a-user", ns: "shop", role: ("Role", "r"), [["kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"]]),
                Self.binding("RoleBinding", "b-group", ns: "shop", role: ("Role", "r"), [["kind": "Group", "name": "auditors"]]),
                // No namespace on the subject: the binding's own.
                Self.binding("RoleBinding", "c-local-sa", ns: "shop", role: ("Role", "r"), [["kind": "ServiceAccount", "name": "app"]]),
                Self.binding("RoleBinding", "d-all-sas", ns: "shop", role: ("Role", "r"), [["kind": "Group", "name": "system:serviceaccounts:ci"]]),
            ],
            clusterRoleBindings: [])
        let get = RequestAttributes.resource("get", resource: "configmaps", namespace: "shop", name: "c")
        func allowed(_ user: UserInfo) -> String? {
            if case .allowed(let grant, _) = snapshot.authorize(user, get) { return grant.source }
            return nil
        }
        #expect(allowed(UserInfo(name: "alice")) == #"RoleBinding "a-user/shop" of Role "r" to User "alice""#)
        #expect(allowed(UserInfo(name: "bob")) == nil)
        #expect(allowed(UserInfo(name: "bob", groups: ["auditors"])) == #"RoleBinding "b-group/shop" of Role "r" to Group "auditors""#)
        #expect(allowed(.serviceAccount(namespace: "shop", name: "app")) == #"RoleBinding "c-local-sa/shop" of Role "r" to ServiceAccount "app/shop""#)
        #expect(allowed(.serviceAccount(namespace: "other", name: "app")) == nil)
        #expect(allowed(.serviceAccount(namespace: "ci", name: "runner")) == #"RoleBinding "d-all-sas/shop" of Role "r" to Group "system:serviceaccounts:ci""#)
        // A user named like a service account is not one unless the name is exactly that.
        #expect(allowed(UserInfo(name: "system:serviceaccount:shop:app")) == #"RoleBinding "c-local-sa/shop" of Role "r" to ServiceAccount "app/shop""#)
        #expect(allowed(UserInfo(name: "system:serviceaccount:shop:app2")) == nil)
    }

    @Test func everyGrantIsListedAndTheFirstIsTheOneNamed() {
        let snapshot = RBACSnapshot(
            roles: [], clusterRoles: [Self.role("ClusterRole", "both", [reader, ["apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]]])],
            roleBindings: [], clusterRoleBindings: [Self.binding("ClusterRoleBinding", "b", role: ("ClusterRole", "both"), [["kind": "User", "name": "u"]])])
        guard case .allowed(let first, let others) = snapshot.authorize(UserInfo(name: "u"), .resource("get", resource: "configmaps", namespace: "x", name: "c")) else {
            Issue.record("denied"); return
        }
        #expect(first.rule.index == 0)
        #expect(others.map(\.rule.index) == [1])
    }

    @Test func aMissingRoleIsTheReasonOfADenial() {
        let snapshot = RBACSnapshot(
            roles: [], clusterRoles: [],
            roleBindings: [Self.binding("RoleBinding", "gone", ns: "shop", role: ("Role", "deleted"), [["kind": "User", "name": "u"]])],
            clusterRoleBindings: [Self.binding("ClusterRoleBinding", "gone", role: ("ClusterRole", "deleted"), [["kind": "User", "name": "u"]])])
        guard case .denied(let reason) = snapshot.authorize(UserInfo(name: "u"), .resource("get", resource: "pods", namespace: "shop", name: "p")) else {
            Issue.record("allowed"); return
        }
        #expect(reason == #"RBAC: [clusterrole.rbac.authorization.k8s.io "deleted" not found, role.rbac.authorization.k8s.io "deleted" not found]"#)
        #expect(RBACSnapshot.reason(["a"]) == "RBAC: a")
        #expect(RBACSnapshot.reason([]) == "")
    }

    @Test func forbiddenIsWordedLikeTheRealServer() {
        let namespaced = APIError.forbidden(operatorSA, .resource("update", group: "mesh.lucid.io", resource: "trafficpolicies", subresource: "status",
                                                                  namespace: "shop", name: "tp"), reason: "")
        #expect(namespaced.code == 403)
        #expect(namespaced.message == #"trafficpolicies.mesh.lucid.io "tp" is forbidden: User "system:serviceaccount:lucid-system:lucid-operator" cannot update resource "trafficpolicies/status" in API group "mesh.lucid.io" in the namespace "shop""#)
        #expect(namespaced.status["details"] == ["name": "tp", "group": "mesh.lucid.io", "kind": "trafficpolicies"])
        let cluster = APIError.forbidden(UserInfo(name: "bob"), .resource("list", resource: "namespaces"), reason: "")
        #expect(cluster.message == #"namespaces is forbidden: User "bob" cannot list resource "namespaces" in API group "" at the cluster scope"#)
        let path = APIError.forbidden(.anonymous, RequestAttributes(isResourceRequest: false, path: "/metrics", verb: "get"), reason: "")
        #expect(path.message == #"forbidden: User "system:anonymous" cannot get path "/metrics""#)
        let withReason = APIError.forbidden(UserInfo(name: "u"), .resource("get", resource: "pods", namespace: "a", name: "p"),
                                            reason: #"RBAC: role.rbac.authorization.k8s.io "x" not found"#)
        #expect(withReason.message.hasSuffix(#"in the namespace "a": RBAC: role.rbac.authorization.k8s.io "x" not found"#))
    }
}

@Suite struct ClusterRoleAggregationTests {
    @Test func anAggregatedRoleGetsTheRulesOfTheRolesItsSelectorsMatch() {
        let view: JSON = ["metadata": ["name": "view"], "aggregationRule": ["clusterRoleSelectors": [["matchLabels": ["aggregate-to-view": "true"]]]]]
        let a: JSON = ["metadata": ["name": "a", "labels": ["aggregate-to-view": "true"]], "rules": [["verbs": ["get"], "apiGroups": [""], "resources": ["pods"]]]]
        let b: JSON = ["metadata": ["name": "b", "labels": ["aggregate-to-view": "true"]],
                       "rules": [["verbs": ["get"], "apiGroups": [""], "resources": ["pods"]], ["verbs": ["list"], "apiGroups": [""], "resources": ["pods"]]]]
        let c: JSON = ["metadata": ["name": "c", "labels": ["other": "true"]], "rules": [["verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]]]]
        let rules = ClusterRoleAggregation.rules([c, b, view, a])
        // Sorted by name, duplicates once.
        #expect(rules["view"] == [["verbs": ["get"], "apiGroups": [""], "resources": ["pods"]], ["verbs": ["list"], "apiGroups": [""], "resources": ["pods"]]])
        #expect(rules["a"] == nil)
    }

    @Test func labelSelectorsMatchLabelsAndExpressions() {
        let labels: JSONObject = ["tier": "web", "env": "prod"]
        #expect(ClusterRoleAggregation.matches(["matchLabels": ["tier": "web"]], labels))
        #expect(!ClusterRoleAggregation.matches(["matchLabels": ["tier": "db"]], labels))
        #expect(ClusterRoleAggregation.matches(["matchExpressions": [["key": "env", "operator": "In", "values": ["prod", "stage"]]]], labels))
        #expect(!ClusterRoleAggregation.matches(["matchExpressions": [["key": "env", "operator": "NotIn", "values": ["prod"]]]], labels))
        #expect(ClusterRoleAggregation.matches(["matchExpressions": [["key": "env", "operator": "Exists"]]], labels))
        #expect(ClusterRoleAggregation.matches(["matchExpressions": [["key": "team", "operator": "DoesNotExist"]]], labels))
        #expect(!ClusterRoleAggregation.matches([:], labels))
    }
}

@Suite struct EscalationTests {
    @Test func aRuleIsCoveredOnlyByRulesGrantingAllOfIt() {
        let owner = [PolicyRule(verbs: ["get", "list"], apiGroups: [""], resources: ["configmaps", "pods/*"]),
                     PolicyRule(verbs: ["update"], apiGroups: ["mesh.lucid.io"], resources: ["*/status"]),
                     PolicyRule(verbs: ["get"], apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["leader"]),
                     PolicyRule(verbs: ["get"], nonResourceURLs: ["/healthz", "/apis/*"])]
        func missing(_ rule: PolicyRule) -> [String] { Escalation.uncovered([rule], by: owner).map(Escalation.compactString) }
        #expect(missing(PolicyRule(verbs: ["get"], apiGroups: [""], resources: ["configmaps"])).isEmpty)
        #expect(missing(PolicyRule(verbs: ["get", "watch"], apiGroups: [""], resources: ["configmaps"])) == [#"{APIGroups:[""], Resources:["configmaps"], Verbs:["watch"]}"#])
        #expect(missing(PolicyRule(verbs: ["update"], apiGroups: ["mesh.lucid.io"], resources: ["trafficpolicies/status"])).isEmpty)
        #expect(missing(PolicyRule(verbs: ["update"], apiGroups: ["mesh.lucid.io"], resources: ["trafficpolicies"])).count == 1)
        #expect(missing(PolicyRule(verbs: ["get"], apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["leader"])).isEmpty)
        // A rule for any name is more than one for a named object.
        #expect(missing(PolicyRule(verbs: ["get"], apiGroups: ["coordination.k8s.io"], resources: ["leases"])).count == 1)
        #expect(missing(PolicyRule(verbs: ["get"], nonResourceURLs: ["/apis/apps"])).isEmpty)
        #expect(missing(PolicyRule(verbs: ["get"], nonResourceURLs: ["/metrics"])) == [#"{NonResourceURLs:["/metrics"], Verbs:["get"]}"#])
        #expect(missing(PolicyRule(verbs: ["*"], apiGroups: ["*"], resources: ["*"])) == [#"{APIGroups:["*"], Resources:["*"], Verbs:["*"]}"#])
    }

    @Test func missingRightsAreListedCompactly() {
        let missing = Escalation.uncovered([PolicyRule(verbs: ["get", "list", "watch"], apiGroups: [""], resources: ["secrets", "pods"])], by: [])
        #expect(Escalation.compact(missing).map(Escalation.compactString)
                == [#"{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list" "watch"]}"#, #"{APIGroups:[""], Resources:["pods"], Verbs:["get" "list" "watch"]}"#])
    }
}
