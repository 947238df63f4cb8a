import APIServer
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import LucidAPI
import Testing
import YAML

/// A server with RBAC on: the admin's kubectl and client, and kubectl for any token.
struct RBACCluster: Sendable {
    let server: APIServer
    let admin: Kubectl
    let client: KubeClient
    let scratch: Scratch

    /// kubectl with a kubeconfig holding `token`.
    func kubectl(token: String, name: String) throws -> Kubectl {
        let config = server.kubeconfig(token: token)
        return Kubectl(kubeconfig: try scratch.write("kubeconfig-\(name)", config), cacheDir: scratch.file("cache-\(name)"), scratch: scratch)
    }

    /// A KubeClient sending `token`, over HTTPS.
    func client(token: String) throws -> KubeClient {
        try KubeClient(config: server.clientConfig(token: token), retry: RetryPolicy(maxAttempts: 1))
    }

    /// The HTTPS settings a raw request needs.
    var tls: TLSConfiguration { TLSConfiguration(certificateAuthority: .pem(Array((server.certificateAuthority ?? "").utf8))) }

    func apply(_ yaml: String) async throws {
        let result = try await admin("apply", "-f", try scratch.write("apply-\(UUID().uuidString).yaml", yaml))
        #expect(result.status == 0, "\(result.output)")
    }
}

extension APIServer {
    /// The KubeClient configuration for this server with a token (and its CA, over HTTPS).
    func clientConfig(token: String) -> KubeConfig {
        KubeConfig(server: url, tls: TLSConfiguration(certificateAuthority: certificateAuthority.map { .pem(Array($0.utf8)) }), credentials: .token(token))
    }
}

func withRBAC(_ body: @Sendable (RBACCluster) async throws -> Void) async throws {
    let scratch = try Scratch()
    try await APIServer.run(APIServer.Configuration(rbac: true)) { server in
        try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
        let kubeconfig = try scratch.write("kubeconfig", server.kubeconfig())
        let admin = Kubectl(kubeconfig: kubeconfig, cacheDir: scratch.file("cache"), scratch: scratch)
        let client = try KubeClient(config: server.clientConfig(token: server.adminToken), retry: RetryPolicy(maxAttempts: 1))
        try await body(RBACCluster(server: server, admin: admin, client: client, scratch: scratch))
    }
}

/// RBAC in the embedded server, judged by the real kubectl with ServiceAccount tokens.
@Suite struct RBACKubectlTests {
    static let shop = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: other}
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: app, namespace: shop}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: cm-reader, namespace: shop}
        rules:
        - apiGroups: [""]
          resources: [configmaps]
          verbs: [get, list, watch]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: app-reads-configmaps, namespace: shop}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: cm-reader}
        subjects:
        - kind: ServiceAccount
          name: app
        """

    @Test func aServiceAccountMayDoWhatItsRoleAllowsAndNothingElse() async throws {
        try await withRBAC { cluster in
            try await cluster.apply(Self.shop)
            try await cluster.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {a: b}\n")
            // The TokenRequest API, as `kubectl create token` calls it.
            let created = try await cluster.admin("create", "token", "app", "-n", "shop", "--duration=1h")
            #expect(created.status == 0, "\(created.output)")
            let token = created.output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!token.isEmpty && !token.contains(" "))
            let app = try cluster.kubectl(token: token, name: "app")

            let list = try await app("get", "configmaps", "-n", "shop", "-o", "name")
            #expect(list.status == 0, "\(list.output)")
            #expect(list.output.contains("configmap/settings"))
            let get = try await app("get", "configmap", "settings", "-n", "shop", "-o", "jsonpath={.data.a}")
            #expect(get.output == "b")

            let create = try await app("create", "configmap", "new", "-n", "shop", "--from-literal=k=v")
            #expect(create.status != 0)
            #expect(create.output.contains(#"configmaps is forbidden: User "system:serviceaccount:shop:app" cannot create resource "configmaps" in API group "" in the namespace "shop""#), "\(create.output)")
            let delete = try await app("delete", "configmap", "settings", "-n", "shop")
            #expect(delete.output.contains(#"configmaps "settings" is forbidden: User "system:serviceaccount:shop:app" cannot delete resource "configmaps" in API group "" in the namespace "shop""#), "\(delete.output)")
            let elsewhere = try await app("get", "configmaps", "-n", "other")
            #expect(elsewhere.output.contains(#"cannot list resource "configmaps" in API group "" in the namespace "other""#), "\(elsewhere.output)")
            let everywhere = try await app("get", "configmaps", "-A")
            #expect(everywhere.output.contains(#"cannot list resource "configmaps" in API group "" at the cluster scope"#), "\(everywhere.output)")
            let secrets = try await app("get", "secrets", "-n", "shop")
            #expect(secrets.output.contains(#"cannot list resource "secrets""#), "\(secrets.output)")
            #expect(try await cluster.admin("get", "configmap", "settings", "-n", "shop").status == 0)

            // Every decision is recorded with the rule that allowed it.
            let records = cluster.server.authorizations(user: "system:serviceaccount:shop:app")
            let allowedGet = try #require(records.first { $0.allowed && $0.attributes.verb == "get" && $0.attributes.resource == "configmaps" })
            #expect(allowedGet.grant?.rule == RBACRuleRef(roleKind: "Role", roleNamespace: "shop", roleName: "cm-reader", index: 0))
            #expect(allowedGet.reason == #"RBAC: allowed by RoleBinding "app-reads-configmaps/shop" of Role "cm-reader" to ServiceAccount "app/shop""#)
            #expect(records.contains { !$0.allowed && $0.attributes.verb == "create" && $0.attributes.resource == "configmaps" })
            #expect(cluster.server.denials(user: "system:serviceaccount:shop:app").count >= 4)
            #expect((cluster.server.ruleUsage[RBACRuleRef(roleKind: "Role", roleNamespace: "shop", roleName: "cm-reader", index: 0)] ?? 0) >= 2)
        }
    }

    @Test func aSubresourceNeedsARuleOfItsOwn() async throws {
        try await withRBAC { cluster in
            try await cluster.apply(Self.shop + """

                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: Role
                metadata: {name: policy-editor, namespace: shop}
                rules:
                - apiGroups: [mesh.lucid.io]
                  resources: [trafficpolicies]
                  verbs: [get, list, update, patch]
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: RoleBinding
                metadata: {name: app-edits-policies, namespace: shop}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: policy-editor}
                subjects:
                - {kind: ServiceAccount, name: app, namespace: shop}
                """)
            try await cluster.apply("""
                apiVersion: mesh.lucid.io/v1alpha1
                kind: TrafficPolicy
                metadata: {name: tp, namespace: shop}
                spec: {source: a, destination: b, rules: [{action: allow}]}
                """)
            let token = try cluster.server.token(forServiceAccount: "app", namespace: "shop")
            let app = try cluster.kubectl(token: token, name: "app")
            let spec = try await app("patch", "tp", "tp", "-n", "shop", "--type=merge", "-p", #"{"spec":{"priority":7}}"#)
            #expect(spec.status == 0, "\(spec.output)")
            // kubectl reads the status subresource before patching it.
            let status = try await app("patch", "tp", "tp", "-n", "shop", "--subresource=status", "--type=merge", "-p", #"{"status":{"observedGeneration":1}}"#)
            #expect(status.output.contains(#"trafficpolicies.mesh.lucid.io "tp" is forbidden: User "system:serviceaccount:shop:app" cannot get resource "trafficpolicies/status" in API group "mesh.lucid.io" in the namespace "shop""#), "\(status.output)")

            // Through the operator's own client: the Status is kept whole.
            let client = try cluster.client(token: token)
            let current = try await client.get(trafficPolicies, namespace: "shop", name: "tp")
            var body = current
            body["status"] = ["observedGeneration": 2]
            do throws(KubeError) {
                _ = try await client.updateStatus(trafficPolicies, namespace: "shop", body)
                Issue.record("a status update without a rule for trafficpolicies/status was allowed")
            } catch {
                #expect(error.status?.code == 403)
                #expect(error.status?.reason == "Forbidden")
                #expect(error.status?.message == #"trafficpolicies.mesh.lucid.io "tp" is forbidden: User "system:serviceaccount:shop:app" cannot update resource "trafficpolicies/status" in API group "mesh.lucid.io" in the namespace "shop""#)
                #expect(error.status?.details?.name == "tp" && error.status?.details?.kind == "trafficpolicies" && error.status?.details?.group == "mesh.lucid.io")
            }

            try await cluster.apply("""
                apiVersion: rbac.authorization.k8s.io/v1
                kind: Role
                metadata: {name: policy-status, namespace: shop}
                rules:
                - apiGroups: [mesh.lucid.io]
                  resources: [trafficpolicies/status]
                  verbs: [get, update]
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: RoleBinding
                metadata: {name: app-writes-status, namespace: shop}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: policy-status}
                subjects:
                - {kind: ServiceAccount, name: app, namespace: shop}
                """)
            let fresh = try await client.get(trafficPolicies, namespace: "shop", name: "tp")
            body = fresh
            body["status"] = ["observedGeneration": 2]
            let written = try await client.updateStatus(trafficPolicies, namespace: "shop", body)
            #expect(written[path: "status", "observedGeneration"] == 2)
            // update on the status is not patch on it.
            let patchAgain = try await app("patch", "tp", "tp", "-n", "shop", "--subresource=status", "--type=merge", "-p", #"{"status":{"observedGeneration":1}}"#)
            #expect(patchAgain.output.contains(#"cannot patch resource "trafficpolicies/status""#))
        }
    }

    @Test func resourceNamesLimitARoleToNamedObjects() async throws {
        try await withRBAC { cluster in
            try await cluster.apply(Self.shop.replacingOccurrences(of: "verbs: [get, list, watch]", with: "verbs: [get, list, watch, update]\n  resourceNames: [settings]"))
            try await cluster.apply("""
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: settings, namespace: shop}
                ---
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: private, namespace: shop}
                """)
            let token = try cluster.server.token(forServiceAccount: "app", namespace: "shop")
            let app = try cluster.kubectl(token: token, name: "app")
            #expect(try await app("get", "configmap", "settings", "-n", "shop").status == 0)
            let other = try await app("get", "configmap", "private", "-n", "shop")
            #expect(other.output.contains(#"configmaps "private" is forbidden: User "system:serviceaccount:shop:app" cannot get resource "configmaps" in API group "" in the namespace "shop""#), "\(other.output)")
            let all = try await app("get", "configmaps", "-n", "shop")
            #expect(all.output.contains(#"cannot list resource "configmaps""#), "\(all.output)")
            let label = try await app("label", "configmap", "settings", "-n", "shop", "x=y")
            #expect(label.output.contains(#"cannot patch resource "configmaps""#), "\(label.output)")

            // A list or watch for exactly that name is allowed (what `get NAME -w` and informers for one object send).
            let client = try cluster.client(token: token)
            let one = try await client.list(.configMaps, namespace: "shop", options: ListOptions(fieldSelector: "metadata.name=settings"))
            #expect(one.items.count == 1)
            await #expect(throws: KubeError.self) { try await client.list(.configMaps, namespace: "shop", options: ListOptions(fieldSelector: "metadata.name=private")) }
        }
    }

    @Test func aClusterRoleBoundByARoleBindingGrantsOnlyInThatNamespace() async throws {
        try await withRBAC { cluster in
            try await cluster.apply("""
                apiVersion: v1
                kind: Namespace
                metadata: {name: pay}
                ---
                apiVersion: v1
                kind: Namespace
                metadata: {name: other}
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRole
                metadata: {name: payout-reader}
                rules:
                - apiGroups: [payments.lucid.io]
                  resources: [tronpayouts]
                  verbs: [get, list]
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: RoleBinding
                metadata: {name: auditors-read-payouts, namespace: pay}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: payout-reader}
                subjects:
                - {kind: Group, name: auditors, apiGroup: rbac.authorization.k8s.io}
                """)
            let alice = try cluster.kubectl(token: cluster.server.token(forUser: "alice", groups: ["auditors"]), name: "alice")
            let bob = try cluster.kubectl(token: cluster.server.token(forUser: "bob"), name: "bob")
            #expect(try await alice("get", "tronpayouts", "-n", "pay").status == 0)
            let otherNamespace = try await alice("get", "tronpayouts", "-n", "other")
            #expect(otherNamespace.output.contains(#"tronpayouts.payments.lucid.io is forbidden: User "alice" cannot list resource "tronpayouts" in API group "payments.lucid.io" in the namespace "other""#), "\(otherNamespace.output)")
            let allNamespaces = try await alice("get", "tronpayouts", "-A")
            #expect(allNamespaces.output.contains(#"cannot list resource "tronpayouts" in API group "payments.lucid.io" at the cluster scope"#), "\(allNamespaces.output)")
            #expect(try await bob("get", "tronpayouts", "-n", "pay").output.contains(#"User "bob" cannot list resource "tronpayouts""#))

            try await cluster.apply("""
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRoleBinding
                metadata: {name: auditors-read-payouts}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: payout-reader}
                subjects:
                - {kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}
                """)
            #expect(try await bob("get", "tronpayouts", "-A").status == 0)
            #expect(try await bob("get", "tronpayouts", "-n", "other").status == 0)
            #expect(try await alice("get", "tronpayouts", "-A").status != 0)
        }
    }

    @Test func authCanIWhoAmIAndImpersonation() async throws {
        try await withRBAC { cluster in
            try await cluster.apply(Self.shop)
            let app = try cluster.kubectl(token: try cluster.server.token(forServiceAccount: "app", namespace: "shop"), name: "app")
            #expect(try await app("auth", "can-i", "list", "configmaps", "-n", "shop").output.trimmingCharacters(in: .whitespacesAndNewlines) == "yes")
            let no = try await app("auth", "can-i", "create", "configmaps", "-n", "shop")
            #expect(no.status == 1 && no.output.trimmingCharacters(in: .whitespacesAndNewlines) == "no")
            #expect(try await app("auth", "can-i", "get", "/healthz").output.contains("yes"))
            #expect(try await app("auth", "can-i", "get", "/metrics").output.contains("no"))
            let list = try await app("auth", "can-i", "--list", "-n", "shop")
            #expect(list.status == 0, "\(list.output)")
            #expect(list.output.split(separator: "\n").contains { $0.hasPrefix("configmaps ") && $0.contains("[get list watch]") }, "\(list.output)")
            #expect(list.output.contains("selfsubjectaccessreviews.authorization.k8s.io"))
            let whoami = try await app("auth", "whoami", "-o", "json")
            let review = try JSON.parse(Array(whoami.output.utf8))
            #expect(review[path: "status", "userInfo", "username"] == "system:serviceaccount:shop:app")
            #expect(review[path: "status", "userInfo", "groups"] == ["system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"])

            // The admin may impersonate anyone (kubectl --as); a service account may not.
            let asApp = try await cluster.admin("auth", "can-i", "create", "configmaps", "-n", "shop", "--as=system:serviceaccount:shop:app")
            #expect(asApp.output.trimmingCharacters(in: .whitespacesAndNewlines) == "no")
            #expect(try await cluster.admin("get", "configmaps", "-n", "shop", "--as=system:serviceaccount:shop:app").status == 0)
            let denied = try await cluster.admin("get", "configmaps", "-n", "other", "--as=system:serviceaccount:shop:app")
            #expect(denied.output.contains(#"User "system:serviceaccount:shop:app" cannot list resource "configmaps" in API group "" in the namespace "other""#), "\(denied.output)")
            let escalate = try await app("get", "secrets", "-n", "shop", "--as=kubernetes-admin")
            #expect(escalate.output.contains(#"users "kubernetes-admin" is forbidden: User "system:serviceaccount:shop:app" cannot impersonate resource "users" in API group "" at the cluster scope"#), "\(escalate.output)")
        }
    }

    @Test func badTokensGet401AndAnonymousOnlyThePublicPaths() async throws {
        try await withRBAC { cluster in
            try await cluster.apply(Self.shop)
            let stranger = try cluster.kubectl(token: "not-a-token", name: "stranger")
            let refused = try await stranger("get", "namespaces")
            #expect(refused.status != 0)
            #expect(refused.output.contains("You must be logged in to the server (the server has asked for the client to provide credentials)"), "\(refused.output)")

            // A token outlives nothing: deleting its ServiceAccount revokes it.
            let token = try cluster.server.token(forServiceAccount: "app", namespace: "shop")
            let app = try cluster.kubectl(token: token, name: "app")
            #expect(try await app("get", "configmaps", "-n", "shop").status == 0)
            #expect(try await cluster.admin("delete", "serviceaccount", "app", "-n", "shop").status == 0)
            #expect(try await app("get", "configmaps", "-n", "shop").output.contains("You must be logged in to the server"))
            // Nor does an expired one work.
            try await cluster.apply("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: shop}\n")
            let expired = try cluster.server.token(forServiceAccount: "app", namespace: "shop", expiresIn: .zero)
            #expect(try await cluster.kubectl(token: expired, name: "expired")("get", "configmaps", "-n", "shop").output.contains("You must be logged in to the server"))

            // Without credentials (kubectl would prompt for a password): the public paths only.
            let http = try HTTPClient()
            defer { http.shutdown() }
            let version = try await http.execute(HTTPRequest(url: "\(cluster.server.url)/version", tls: cluster.tls))
            #expect(version.status == 200 && String(decoding: version.body, as: UTF8.self).contains("gitVersion"))
            let namespaces = try await http.execute(HTTPRequest(url: "\(cluster.server.url)/api/v1/namespaces", tls: cluster.tls))
            #expect(namespaces.status == 403)
            let status = try JSON.parse(namespaces.body)
            #expect(status["message"] == #"namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" at the cluster scope"#)
            let discovery = try await http.execute(HTTPRequest(url: "\(cluster.server.url)/apis", tls: cluster.tls))
            #expect(discovery.status == 403)
            #expect(try JSON.parse(discovery.body)["message"] == #"forbidden: User "system:anonymous" cannot get path "/apis""#)
        }
    }

    @Test func serverSideApplyThatCreatesNeedsCreateTooAndDeleteCollectionItsOwnVerb() async throws {
        try await withRBAC { cluster in
            try await cluster.apply(Self.shop.replacingOccurrences(of: "verbs: [get, list, watch]", with: "verbs: [get, list, watch, patch, delete]"))
            try await cluster.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {a: b}\n")
            let token = try cluster.server.token(forServiceAccount: "app", namespace: "shop")
            let app = try cluster.kubectl(token: token, name: "app")
            let existing = try cluster.scratch.write("existing.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\ndata: {a: c}\n")
            let update = try await app("apply", "--server-side", "--force-conflicts", "-f", existing)
            #expect(update.status == 0, "\(update.output)")
            let new = try cluster.scratch.write("new.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fresh, namespace: shop}\ndata: {a: b}\n")
            let create = try await app("apply", "--server-side", "-f", new)
            #expect(create.output.contains(#"configmaps "fresh" is forbidden: User "system:serviceaccount:shop:app" cannot create resource "configmaps" in API group "" in the namespace "shop""#), "\(create.output)")

            // DELETE on the collection is `deletecollection`, which `delete` does not grant.
            let http = try HTTPClient()
            defer { http.shutdown() }
            let url = "\(cluster.server.url)/api/v1/namespaces/shop/configmaps"
            let refused = try await http.execute(HTTPRequest(method: .delete, url: url, headers: ["Authorization": "Bearer \(token)"], tls: cluster.tls))
            #expect(refused.status == 403)
            #expect(String(decoding: refused.body, as: UTF8.self).contains(#"cannot deletecollection resource \"configmaps\""#))
            let done = try await http.execute(HTTPRequest(method: .delete, url: url, headers: ["Authorization": "Bearer \(cluster.server.adminToken)"], tls: cluster.tls))
            #expect(done.status == 200)
            #expect(try await cluster.client.listAll(.configMaps, namespace: "shop").items.isEmpty)
        }
    }

    /// Escalation prevention: roles only with rights one holds, bindings only to such roles or with `bind`.
    @Test func nobodyGrantsWhatTheyDoNotHold() async throws {
        try await withRBAC { cluster in
            try await cluster.apply("""
                apiVersion: v1
                kind: Namespace
                metadata: {name: shop}
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: RoleBinding
                metadata: {name: lead-administers-shop, namespace: shop}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
                subjects:
                - {kind: User, name: lead, apiGroup: rbac.authorization.k8s.io}
                """)
            let lead = try cluster.kubectl(token: cluster.server.token(forUser: "lead"), name: "lead")
            func role(_ name: String, _ rules: String) throws -> String {
                try cluster.scratch.write("\(name).yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: \(name), namespace: shop}\nrules:\n\(rules)")
            }
            let held = try await lead("apply", "-f", try role("cm-reader", "- {apiGroups: [\"\"], resources: [configmaps], verbs: [get, list]}\n"))
            #expect(held.status == 0, "\(held.output)")
            let more = try await lead("apply", "-f", try role("status-writer",
                "- {apiGroups: [mesh.lucid.io], resources: [trafficpolicies/status], verbs: [update]}\n- {apiGroups: [\"\"], resources: [configmaps], verbs: [get]}\n"))
            #expect(more.status != 0)
            #expect(more.output.contains(#"roles.rbac.authorization.k8s.io "status-writer" is forbidden: user "lead" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:"#), "\(more.output)")
            #expect(more.output.contains(#"{APIGroups:["mesh.lucid.io"], Resources:["trafficpolicies/status"], Verbs:["update"]}"#), "\(more.output)")
            #expect(!more.output.contains("configmaps"))

            let binding = """
                apiVersion: rbac.authorization.k8s.io/v1
                kind: RoleBinding
                metadata: {name: lead-makes-an-admin, namespace: shop}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
                subjects:
                - {kind: User, name: friend, apiGroup: rbac.authorization.k8s.io}
                """
            let escalate = try await lead("apply", "-f", try cluster.scratch.write("binding.yaml", binding))
            #expect(escalate.output.contains(#"rolebindings.rbac.authorization.k8s.io "lead-makes-an-admin" is forbidden: user "lead" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\#n{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\#n{NonResourceURLs:["*"], Verbs:["*"]}"#), "\(escalate.output)")
            // Binding a role one holds is fine; so is any role with the bind verb on it.
            let own = try await lead("create", "rolebinding", "friend-reads", "-n", "shop", "--role=cm-reader", "--user=friend")
            #expect(own.status == 0, "\(own.output)")
            try await cluster.apply("""
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRole
                metadata: {name: binds-approvers}
                rules:
                - {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind], resourceNames: [payout-approver]}
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRole
                metadata: {name: payout-approver}
                rules:
                - {apiGroups: [payments.lucid.io], resources: [tronpayoutapprovals], verbs: [create]}
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRoleBinding
                metadata: {name: lead-binds-approvers}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: binds-approvers}
                subjects:
                - {kind: User, name: lead, apiGroup: rbac.authorization.k8s.io}
                """)
            let approver = try await lead("create", "rolebinding", "friend-approves", "-n", "shop", "--clusterrole=payout-approver", "--user=friend")
            #expect(approver.status == 0, "\(approver.output)")
            let other = try await lead("create", "rolebinding", "friend-edits", "-n", "shop", "--clusterrole=cluster-admin", "--user=friend")
            #expect(other.output.contains("is attempting to grant RBAC permissions not currently held"), "\(other.output)")
        }
    }

    @Test func aggregatedClusterRolesFollowTheRolesTheySelect() async throws {
        try await withRBAC { cluster in
            let bob = try cluster.kubectl(token: cluster.server.token(forUser: "bob"), name: "bob")
            try await cluster.apply("""
                apiVersion: v1
                kind: Namespace
                metadata: {name: shop}
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: RoleBinding
                metadata: {name: bob-views, namespace: shop}
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
                subjects:
                - {kind: User, name: bob, apiGroup: rbac.authorization.k8s.io}
                """)
            #expect(try await bob("get", "configmaps", "-n", "shop").status == 0)
            #expect(try await bob("get", "trafficpolicies", "-n", "shop").output.contains(#"cannot list resource "trafficpolicies""#))
            try await cluster.apply("""
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRole
                metadata:
                  name: mesh-view
                  labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
                rules:
                - apiGroups: [mesh.lucid.io]
                  resources: [trafficpolicies]
                  verbs: [get, list, watch]
                """)
            let view = try await cluster.admin("get", "clusterrole", "view", "-o", "json")
            let rules = try JSON.parse(Array(view.output.utf8))["rules"]?.arrayValue ?? []
            #expect(rules.contains { $0["resources"] == ["trafficpolicies"] })
            // edit and admin aggregate view's parts too (system:aggregate-to-view is labelled for all three).
            let edit = try JSON.parse(Array(try await cluster.admin("get", "clusterrole", "edit", "-o", "json").output.utf8))
            #expect(edit["rules"]?.arrayValue?.contains { $0["resources"]?.arrayValue?.contains("configmaps") == true } == true)
            #expect(try await bob("get", "trafficpolicies", "-n", "shop").status == 0)
            #expect(try await cluster.admin("delete", "clusterrole", "mesh-view").status == 0)
            #expect(try await bob("get", "trafficpolicies", "-n", "shop").output.contains("forbidden"))
        }
    }
}
