import APIServer
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import LucidAPI
import Testing
import YAML

/// A `lucid-operator run` as the Deployment runs it — with leader election in lucid-system, as
/// ServiceAccount lucid-system/lucid-operator, with only the RBAC objects of manifests/default —
/// against the embedded API server with RBAC on, over the samples.
struct OperatorUnderManifests {
    static let account = "system:serviceaccount:lucid-system:lucid-operator"

    let server: APIServer
    let client: KubeClient
    let process: ChildProcess
    let log: String

    static func start(_ server: APIServer, _ scratch: Scratch) async throws -> OperatorUnderManifests {
        let binary = try #require(operatorBinary, "lucid-operator is not built")
        try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
        let rbacKinds: Set<String> = ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
        try server.install(try await kustomize("manifests/default", scratch).filter { rbacKinds.contains($0.kind) })
        let samples = "\(repositoryRoot)/manifests/samples"
        for file in try FileManager.default.contentsOfDirectory(atPath: samples).filter({ $0.hasSuffix(".yaml") }).sorted() {
            try server.install(try YAML.parseAll(try String(contentsOfFile: "\(samples)/\(file)", encoding: .utf8)).filter { $0 != .null })
        }
        let token = try server.token(forServiceAccount: "lucid-operator", namespace: "lucid-system")
        let kubeconfig = try scratch.write("operator.kubeconfig", server.kubeconfig(token: token, namespace: "lucid-system"))
        let log = scratch.file("operator.log")
        let process = try ChildProcess(binary, ["run", "--kubeconfig", kubeconfig, "--leader-elect", "--leader-election-namespace", "lucid-system",
                                                "--identity", "deploy-test", "--metrics-bind-address", "127.0.0.1:0",
                                                "--health-probe-bind-address", "127.0.0.1:0"],
                                       outputPath: log, lifetime: .seconds(300))
        let client = try KubeClient(config: server.clientConfig(token: server.adminToken), retry: RetryPolicy(maxAttempts: 1))
        return OperatorUnderManifests(server: server, client: client, process: process, log: log)
    }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    var metricsPort: Int? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("metrics on ") }) else { return nil }
        return line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.first { $0 > 1000 }
    }

    /// Every sample TrafficPolicy Ready for its generation, and a sidecar ConfigMap per mesh Service.
    func converged() async throws -> Bool {
        let policies = try await client.listAll(GroupVersionResource(group: "mesh.lucid.io", version: "v1alpha1", resource: "trafficpolicies"),
                                                namespace: "lucid-payment").items
        guard !policies.isEmpty else { return false }
        let ready = policies.allSatisfy { p in
            let condition = p[path: "status", "conditions"]?.arrayValue?.first { $0["type"] == "Ready" }
            return condition?["status"] == "True" && p[path: "status", "observedGeneration"] == p[path: "metadata", "generation"]
        }
        let services = try await client.listAll(.services, namespace: "lucid-payment", options: ListOptions(labelSelector: "mesh.lucid.io/plane")).items
        let sidecars = try await client.listAll(.configMaps, namespace: "lucid-payment",
                                                options: ListOptions(labelSelector: "app.kubernetes.io/managed-by=lucid-operator")).items
        return ready && sidecars.count == services.count
    }

    func stop() { process.stop() }
}

@Suite struct OperatorUnderManifestsTests {
    /// Today's controllers converge the samples with the manifests' RBAC and nothing more: no
    /// request of the operator is refused, and every one is allowed by a rule of its roles.
    @Test(.timeLimit(.minutes(3))) func theOperatorConvergesWithTheManifestsRBAC() async throws {
        let scratch = try Scratch()
        try await APIServer.run(APIServer.Configuration(rbac: true)) { server in
            let op = try await OperatorUnderManifests.start(server, scratch)
            defer { op.stop() }
            try await waitUntil(.seconds(60), "the samples to converge") { try await op.converged() }
            let lease = try await op.client.get(.leases, namespace: "lucid-system", name: "lucid-operator-leader")
            #expect(lease[path: "spec", "holderIdentity"] == "deploy-test")

            // Renewing the Lease (every retry period, 2 s) is an update under the Role's resourceNames rule.
            try await waitUntil(.seconds(20), "a Lease renewal") {
                server.authorizations(user: OperatorUnderManifests.account).contains { $0.attributes.resource == "leases" && $0.attributes.verb == "update" }
            }
            let records = server.authorizations(user: OperatorUnderManifests.account)
            let denied = records.filter { !$0.allowed }
            #expect(denied.isEmpty, "refused: \(denied.map { "\($0.attributes) \($0.reason)" })")
            let roles = Set(records.compactMap { $0.grant.map { "\($0.rule.roleKind) \($0.rule.roleName)" } })
            #expect(roles.isSubset(of: ["ClusterRole lucid-operator", "Role lucid-operator-leader-election"]), "\(roles)")
            #expect(records.contains { $0.attributes.resource == "leases" && $0.attributes.verb == "update" && $0.allowed })
            #expect(records.contains { $0.attributes.resource == "trafficpolicies" && $0.attributes.subresource == "status" && $0.allowed })
            #expect(!op.output.contains("Forbidden"), "\(op.output)")
            let used = server.ruleUsage.filter { $0.key.roleName.hasPrefix("lucid-operator") }.keys.sorted()
            print("rules the operator used: \(used.map(\.description).joined(separator: ", "))")
        }
    }

    /// Every metric an alert or a dashboard panel uses is in a real scrape of the operator —
    /// or, for controllers still being built, listed below as coming; a coming metric already in
    /// the code must be in the scrape too (so the test must then exercise it).
    @Test(.timeLimit(.minutes(3))) func everyMetricTheAlertsAndTheDashboardUseIsExported() async throws {
        let coming: Set<String> = [
            "lucid_registry_entries", "lucid_registry_sync_errors_total", "lucid_registry_sync_seconds_bucket",
            "lucid_payouts_total", "lucid_payout_attempts_total", "lucid_payout_confirmation_seconds_bucket",
            "lucid_payouts_in_phase", "lucid_payout_oldest_in_phase_seconds",
        ]
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
        try await APIServer.run(APIServer.Configuration(rbac: true)) { server in
            let op = try await OperatorUnderManifests.start(server, scratch)
            defer { op.stop() }
            try await waitUntil(.seconds(60), "the samples to converge") { try await op.converged() }
            let port = try #require(op.metricsPort, "\(op.output)")
            let http = try HTTPClient()
            defer { http.shutdown() }
            let response = try await http.execute(HTTPRequest(url: "http://127.0.0.1:\(port)/metrics"))
            let scrape = Scrape(String(decoding: response.body, as: UTF8.self))
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
