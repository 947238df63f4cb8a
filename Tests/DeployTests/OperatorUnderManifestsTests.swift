import APIServer
import EtcdServer
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import LucidAPI
import Testing
import YAML

@Suite struct OperatorUnderManifestsTests {
    /// Every controller converges the samples with the manifests' RBAC and nothing more —
    /// sidecars, API keys, Certificates, NetworkPolicies, registry entries in etcd, payouts
    /// Completed — no request of the operator is refused, every one is allowed by a rule of its
    /// roles, and none touches a Secret outside the mesh namespace (signing keys live in
    /// lucid-treasury) but the one TronGrid API key.
    @Test(.timeLimit(.minutes(3))) func theOperatorConvergesWithTheManifestsRBAC() async throws {
        let scratch = try Scratch()
        let etcdServer = try await EtcdServer.start()
        defer { etcdServer.stop() }
        try await OperatorUnderManifests.run(rbac: try await OperatorUnderManifests.rbacObjects(scratch), etcdServer: etcdServer, scratch) { op in
            let server = op.server
            try await waitUntil(.seconds(90), "the samples to converge", interval: .milliseconds(200)) {
                try await op.aspects() == Set(Aspect.allCases)
            }
            let lease = try await op.client.get(.leases, namespace: "lucid-system", name: "lucid-operator-leader")
            #expect(lease[path: "spec", "holderIdentity"] == "deploy-test")

            // Renewing the Lease (every retry period, 2 s) is an update under the Role's resourceNames rule.
            try await waitUntil(.seconds(30), "a Lease renewal") {
                server.authorizations(user: OperatorUnderManifests.account).contains { $0.attributes.resource == "leases" && $0.attributes.verb == "update" }
            }
            let records = server.authorizations(user: OperatorUnderManifests.account)
            let denied = records.filter { !$0.allowed }
            #expect(denied.isEmpty, "refused: \(denied.map { "\($0.attributes) \($0.reason)" })")
            let roles = Set(records.compactMap { $0.grant.map { "\($0.rule.roleKind) \($0.rule.roleName)" } })
            #expect(roles.isSubset(of: ["ClusterRole lucid-operator", "ClusterRole lucid-operator-api-keys", "Role lucid-operator-leader-election",
                                        "Role lucid-operator-trongrid-api-key"]), "\(roles)")
            let secrets = records.filter { $0.attributes.resource == "secrets" }
            #expect(secrets.allSatisfy { $0.attributes.namespace == OperatorUnderManifests.mesh
                        || ($0.attributes.namespace == "lucid-system" && $0.attributes.name == "trongrid-api-key" && $0.attributes.verb == "get") },
                    "\(secrets.map(\.attributes))")
            #expect(!secrets.contains { $0.attributes.namespace == OperatorUnderManifests.treasury }, "never a Secret where signing keys live")
            #expect(!op.output.contains("Forbidden"), "\(op.output)")
            let used = server.ruleUsage.filter { $0.key.roleName.hasPrefix("lucid-operator") }.keys.sorted()
            print("rules the operator used: \(used.map(\.description).joined(separator: ", "))")
        }
    }

    /// For each rule of the operator's roles: without it the server refuses something the
    /// operator must do, what needs it never converges, and everything else still does. A rule
    /// missing from `needs` fails this test (so a new rule comes with its proof, or goes).
    @Test(.timeLimit(.minutes(6))) func everyRuleOfTheOperatorsRolesIsNeeded() async throws {
        let all = Set(Aspect.allCases)
        let sidecar: Set<Aspect> = [.policies, .sidecars, .apiKeys, .certificates, .networkPolicies]
        // What never converges without the rule (the resources of the rule, then the verbs).
        let needs: [String: Set<Aspect>] = [
            "lucid-operator trafficpolicies,securitypolicies,circuitbreakerconfigs list,watch": sidecar,
            "lucid-operator trafficpolicies/status,securitypolicies/status,circuitbreakerconfigs/status update": [.policies, .apiKeys],
            "lucid-operator tronpayouts list,watch,patch": [.payouts],
            "lucid-operator tronpayouts/status update": [.payouts],
            "lucid-operator tronpayoutapprovals list,watch": [.payouts],
            "lucid-operator services list,watch": sidecar.union([.registry]),
            "lucid-operator endpointslices list,watch": [.registry],
            "lucid-operator configmaps get,list,watch,create,update,delete": sidecar.union([.payouts]),
            "lucid-operator jobs get,list,watch,create": [.payouts],
            "lucid-operator pods list,watch": [.payouts],
            "lucid-operator certificates list,watch,create,update,delete": sidecar,
            "lucid-operator networkpolicies list,watch,create,update,delete": sidecar,
            "lucid-operator events create": [.events],
            "lucid-operator-api-keys secrets get,list,watch": sidecar,
            // The admin interface's reconcile stops at its key Secret, before its Certificate,
            // NetworkPolicy and policy statuses (the other Services' converge).
            "lucid-operator-api-keys secrets create,update,delete": [.apiKeys, .policies, .certificates, .networkPolicies],
            "lucid-operator-trongrid-api-key secrets get": all,
            "lucid-operator-leader-election leases create": all,
            "lucid-operator-leader-election leases get,update": all,
        ]
        let scratch = try Scratch()
        let rbac = try await OperatorUnderManifests.rbacObjects(scratch)
        var variants: [(name: String, rule: JSON, rbac: [JSON], broken: Set<Aspect>)] = []
        for (index, object) in rbac.enumerated() where ["ClusterRole", "Role"].contains(object.kind) && object.name.hasPrefix("lucid-operator") {
            let rules = object["rules"]?.arrayValue ?? []
            for (r, rule) in rules.enumerated() {
                let name = "\(object.name) \(rule["resources"].strings.joined(separator: ",")) \(rule["verbs"].strings.joined(separator: ","))"
                guard let broken = needs[name] else {
                    Issue.record("no proof for rule \(name): say what it is needed for, or remove it")
                    continue
                }
                var without = rbac
                var role = object
                role["rules"] = .array(rules.enumerated().filter { $0.offset != r }.map(\.element))
                without[index] = role
                variants.append((name, rule, without, broken))
            }
        }
        #expect(variants.count == needs.count, "every proven rule is in the manifests")

        let etcdServer = try await EtcdServer.start()
        defer { etcdServer.stop() }
        let started = ContinuousClock.now
        // At most 5 operators at once: 2 cores, and each brings its API server, chain and Job runner.
        try await withThrowingTaskGroup(of: Void.self) { group in
            var running = 0
            for (i, variant) in variants.enumerated() {
                if running == 5 {
                    try await group.next()
                    running -= 1
                }
                running += 1
                group.addTask {
                    let scratch = try Scratch()
                    try await OperatorUnderManifests.run(rbac: variant.rbac, etcdServer: etcdServer, prefix: "/lucid/rule-\(i)/", scratch) { op in
                        try await Self.proveNeeded(variant.name, variant.rule, broken: variant.broken, op)
                    }
                }
            }
            try await group.waitForAll()
        }
        print("every rule needed: \(variants.count) variants in \(ContinuousClock.now - started)")
    }

    /// A mesh namespace where the operator has no Secrets (no RoleBinding, not in
    /// --secret-namespaces): the API-key policy says which permission is missing, nothing is
    /// refused, and everything that needs no Secret converges.
    @Test(.timeLimit(.minutes(4))) func withoutSecretsInTheMeshNamespaceTheAPIKeyPolicySaysWhatIsMissing() async throws {
        let scratch = try Scratch()
        let etcdServer = try await EtcdServer.start()
        defer { etcdServer.stop() }
        let rbac = try await OperatorUnderManifests.rbacObjects(scratch).filter { !($0.kind == "RoleBinding" && $0.name == "lucid-operator-api-keys") }
        try await OperatorUnderManifests.run(rbac: rbac, etcdServer: etcdServer, secretNamespaces: "", scratch) { op in
            try await waitUntil(.seconds(90), "what needs no Secret to converge", interval: .milliseconds(200)) {
                try await op.aspects().isSuperset(of: [.sidecars, .certificates, .networkPolicies, .registry, .payouts, .events])
            }
            let policy = try await waitFor("the API-key policy's report") {
                let p = try await op.client.get(OperatorUnderManifests.securityPolicies, namespace: OperatorUnderManifests.mesh, name: "admin-interface-callers")
                return p[path: "status", "conditions"]?.arrayValue?.first { $0["type"] == "Ready" && $0["reason"] == "SecretsNotPermitted" }
            }
            #expect(policy["status"] == "False")
            let message = policy["message"]?.stringValue ?? ""
            #expect(message.contains("lucid-operator-api-keys") && message.contains("namespace lucid-payment") && message.contains("--secret-namespaces"), "\(message)")
            #expect(op.server.authorizations(user: OperatorUnderManifests.account).allSatisfy { $0.attributes.resource != "secrets" || $0.attributes.namespace == "lucid-system" })
            #expect(op.server.denials(user: OperatorUnderManifests.account).isEmpty)
            #expect((try? await op.client.get(.secrets, namespace: OperatorUnderManifests.mesh, name: "admin-interface-sidecar-keys")) == nil)
        }
    }

    /// Without `rule`: a request it would allow is refused, the aspects it is needed for never
    /// converge, and (unless it is needed for everything) the others do.
    static func proveNeeded(_ name: String, _ rule: JSON, broken: Set<Aspect>, _ op: OperatorUnderManifests) async throws {
        let groups = Set(rule["apiGroups"].strings), resources = Set(rule["resources"].strings), verbs = Set(rule["verbs"].strings)
        @Sendable func refused() -> Bool {
            op.server.denials(user: OperatorUnderManifests.account).contains { d in
                let resource = d.attributes.subresource.isEmpty ? d.attributes.resource : "\(d.attributes.resource)/\(d.attributes.subresource)"
                return groups.contains(d.attributes.apiGroup) && resources.contains(resource) && verbs.contains(d.attributes.verb)
            }
        }
        do {
            try await waitUntil(.seconds(90), "a refusal", interval: .milliseconds(200)) { refused() }
        } catch {
            Issue.record("without \(name) nothing was refused: the rule is not needed")
            return
        }
        let rest = Set(Aspect.allCases).subtracting(broken)
        if !rest.isEmpty {
            do {
                try await waitUntil(.seconds(90), "the rest to converge", interval: .milliseconds(200)) { try await op.aspects().isSuperset(of: rest) }
            } catch {
                let now = (try? await op.aspects()) ?? []
                Issue.record("without \(name): \(rest.subtracting(now).sorted { $0.rawValue < $1.rawValue }) did not converge either")
                return
            }
        }
        let now = try await op.aspects()
        #expect(now.isDisjoint(with: broken), "without \(name), \(now.intersection(broken)) converged anyway")
    }

    /// Every metric an alert or a dashboard panel uses is in a real scrape of the operator —
    /// or, for controllers still being built, listed below as coming; a coming metric already in
    /// the code must be in the scrape too (so the test must then exercise it).
    @Test(.timeLimit(.minutes(3))) func everyMetricTheAlertsAndTheDashboardUseIsExported() async throws {
        let coming: Set<String> = []
        let scratch = try Scratch()
        let monitoring = try await kustomize("manifests/monitoring", scratch)
        var used: [String: Set<String>] = [:]
        let rules = monitoring.first("PrometheusRule")?[path: "spec", "groups"]?.arrayValue ?? []
        for rule in rules.flatMap({ $0["rules"]?.arrayValue ?? [] }) {
            for name in metricNames(in: rule["expr"]?.stringValue ?? "") { used[name, default: []].insert("alert \(rule["alert"]?.stringValue ?? "")") }
        }
        let dashboard = try JSON.parse(Array((monitoring.first("ConfigMap")?[path: "data", "lucid-operator.json"]?.stringValue ?? "").utf8))
        for panel in dashboard["panels"]?.arrayValue ?? [] {
            for target in panel["targets"]?.arrayValue ?? [] {
                for name in metricNames(in: target["expr"]?.stringValue ?? "") { used[name, default: []].insert("panel \(panel["title"]?.stringValue ?? "")") }
            }
        }
        used["up"] = nil  // Prometheus's own
        #expect(used.count >= 15)
        let referenced = used

        let sources = try Self.swiftSources()
        let etcdServer = try await EtcdServer.start()
        defer { etcdServer.stop() }
        try await OperatorUnderManifests.run(rbac: try await OperatorUnderManifests.rbacObjects(scratch), etcdServer: etcdServer, scratch) { op in
            try await waitUntil(.seconds(90), "the samples to converge", interval: .milliseconds(200)) {
                try await op.aspects() == Set(Aspect.allCases)
            }
            let port = try #require(op.metricsPort, "\(op.output)")
            let http = try HTTPClient()
            defer { http.shutdown() }
            let response = try await http.execute(HTTPRequest(url: "http://127.0.0.1:\(port)/metrics"))
            let text = String(decoding: response.body, as: UTF8.self)
            let scrape = Scrape(text)
            // The payout gauges from the cache: both sample payouts Completed, none waiting anywhere.
            let lines = text.split(separator: "\n").filter { $0.hasPrefix("lucid_payout") && $0.contains("_phase") }
            #expect(lines.contains { $0.hasPrefix(#"lucid_payouts_in_phase{phase="Completed"} 2"#) }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix(#"lucid_payouts_in_phase{phase="Broadcasting"} 0"#) }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix(#"lucid_payout_oldest_in_phase_seconds{phase="AwaitingApproval"} 0"#) }, "\(lines)")
            #expect(!lines.contains { $0.hasPrefix(#"lucid_payout_oldest_in_phase_seconds{phase="Completed"}"#) }, "terminal phases have no age")
            var later: [String] = []
            for (name, users) in referenced.sorted(by: { $0.key < $1.key }) where !scrape.exports(name) {
                let base = ["_bucket", "_sum", "_count"].first { name.hasSuffix($0) }.map { String(name.dropLast($0.count)) } ?? name
                let inCode = sources.contains("\"\(base)\"")
                if inCode || !coming.contains(name) {
                    Issue.record("\(name) (\(users.sorted().joined(separator: ", "))) is not in the operator's /metrics\(inCode ? " though the code defines it" : " and is not a known coming metric")")
                } else {
                    later.append(name)
                }
            }
            print("metrics the alerts and dashboard use that the coming controllers will export: \(later.joined(separator: ", "))")
        }
    }

    static func swiftSources() throws -> String {
        let root = "\(repositoryRoot)/Sources"
        var text = ""
        let files = FileManager.default.enumerator(atPath: root)
        while let file = files?.nextObject() as? String {
            if file.hasSuffix(".swift") { text += try String(contentsOfFile: "\(root)/\(file)", encoding: .utf8) }
        }
        return text
    }
}
