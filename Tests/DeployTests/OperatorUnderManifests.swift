import APIServer
import DevJobRunner
import EtcdClient
import EtcdServer
import FakeTronGrid
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import LucidAPI
import Testing
import YAML

/// What "the samples converged" is made of, one part per controller's output, so that a test can
/// say which part a missing permission breaks and that the others still converge.
enum Aspect: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Every TrafficPolicy, SecurityPolicy and CircuitBreakerConfig Ready for its generation.
    case policies
    /// A sidecar ConfigMap per mesh Service.
    case sidecars
    /// The admin interface's API keys in its own `-sidecar-keys` Secret.
    case apiKeys
    /// A cert-manager Certificate per mesh Service.
    case certificates
    /// A NetworkPolicy per mesh Service.
    case networkPolicies
    /// A registry entry per mesh Service in etcd.
    case registry
    /// Every sample payout Completed (its Jobs run by the dev Job runner).
    case payouts
    /// The operator's Events (in either sample namespace).
    case events

    var description: String { rawValue }
}

/// A `lucid-operator run` as the Deployment runs it — leader election in lucid-system, as
/// ServiceAccount lucid-system/lucid-operator with only the RBAC objects of manifests/default
/// (plus the API-key RoleBinding in the samples' mesh namespace), `--certificate-issuer`, a real
/// etcd, a simulated chain (`--tron-url`), the TronGrid API-key Secret — against the embedded API
/// server with RBAC on, over the samples. The dev Job runner (admin credentials, in this process)
/// plays the kubelet for payout Jobs; the test plays cert-manager (it issues `<svc>-mesh-tls`).
struct OperatorUnderManifests {
    static let account = "system:serviceaccount:lucid-system:lucid-operator"
    static let mesh = "lucid-payment"
    static let treasury = "lucid-treasury"
    static let rbacKinds: Set<String> = ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]

    let server: APIServer
    let client: KubeClient
    let etcd: EtcdClient
    let prefix: String
    let process: ChildProcess
    let log: String

    /// The RBAC objects of manifests/default, and the RoleBinding of the API-key role in the mesh namespace.
    static func rbacObjects(_ scratch: Scratch) async throws -> [JSON] {
        try await kustomize("manifests/default", scratch).filter { rbacKinds.contains($0.kind) } + [[
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": ["name": "lucid-operator-api-keys", "namespace": .string(mesh)],
            "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "lucid-operator-api-keys"],
            "subjects": [["kind": "ServiceAccount", "name": "lucid-operator", "namespace": "lucid-system"]],
        ]]
    }

    /// Runs the operator over the samples with `rbac` (the namespaces of the samples are made
    /// first) for the duration of `body`; registry entries go under `prefix` of `etcdServer`.
    static func run(rbac: [JSON], etcdServer: EtcdServer, prefix: String = "/lucid/registry/", secretNamespaces: String = mesh, _ scratch: Scratch,
                    _ body: @Sendable (OperatorUnderManifests) async throws -> Void) async throws {
        let binary = try #require(operatorBinary, "lucid-operator is not built")
        let payoutBinary = try #require(builtBinary("lucid-payout"), "lucid-payout is not built")
        try await APIServer.run(APIServer.Configuration(rbac: true)) { server in
            try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
            try server.install(try YAML.parseAll(try String(contentsOfFile: "\(repositoryRoot)/crds/third-party/cert-manager-certificates.yaml",
                                                            encoding: .utf8)).filter { $0 != .null })
            let samples = "\(repositoryRoot)/manifests/samples"
            let files = try FileManager.default.contentsOfDirectory(atPath: samples).filter { $0.hasSuffix(".yaml") }.sorted()
            let objects = try files.flatMap { try YAML.parseAll(try String(contentsOfFile: "\(samples)/\($0)", encoding: .utf8)).filter { $0 != .null } }
            try server.install(objects.filter { $0.kind == "Namespace" })
            try server.install(rbac)
            try server.install([["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "trongrid-api-key", "namespace": "lucid-system"],
                                 "stringData": ["api-key": "deploy-test-trongrid-key"]]])
            try server.install(objects.filter { $0.kind != "Namespace" })
            // cert-manager's part: every mesh Service's certificate is issued.
            let services = objects.filter { $0.kind == "Service" }.map(\.name)
            try server.install(services.map { certificateSecret($0, namespace: mesh) })

            let admin = try KubeClient(config: server.clientConfig(token: server.adminToken), retry: RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(50)))
            let etcd = try EtcdClient(EtcdConfiguration(endpoints: [etcdServer.clientURL]))
            defer { etcd.shutdown() }
            try await FakeTronGrid.run(blockInterval: .milliseconds(100), solidLag: 5) { fake in
                let runner = DevJobRunner(client: admin, configuration: DevJobRunner.Configuration(payoutBinary: payoutBinary, workDirectory: scratch.file("jobs")))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await runner.run() }
                    defer { group.cancelAll() }
                    let token = try server.token(forServiceAccount: "lucid-operator", namespace: "lucid-system")
                    let kubeconfig = try scratch.write("operator.kubeconfig", server.kubeconfig(token: token, namespace: "lucid-system"))
                    let log = scratch.file("operator.log")
                    let process = try ChildProcess(binary, [
                        "run", "--kubeconfig", kubeconfig, "--leader-elect", "--leader-election-namespace", "lucid-system",
                        "--identity", "deploy-test", "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0",
                        "--certificate-issuer", "ClusterIssuer/lucid-mesh-ca", "--secret-namespaces", secretNamespaces,
                        "--payout-image", "ghcr.io/lucid-mesh/lucid-operator:0.1.0", "--tron-url", "nile=\(fake.baseURL)",
                        "--tron-api-key-secret", "lucid-system/trongrid-api-key", "--payout-chain-poll-interval", "0.2",
                        "--etcd-endpoints", etcdServer.clientURL, "--registry-prefix", prefix,
                    ], outputPath: log, lifetime: .seconds(300))
                    defer { process.stop() }
                    try await body(OperatorUnderManifests(server: server, client: admin, etcd: etcd, prefix: prefix, process: process, log: log))
                }
            }
        }
    }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    var metricsPort: Int? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("metrics on ") }) else { return nil }
        return line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.first { $0 > 1000 }
    }

    static let trafficPolicies = GroupVersionResource(group: "mesh.lucid.io", version: "v1alpha1", resource: "trafficpolicies")
    static let securityPolicies = GroupVersionResource(group: "mesh.lucid.io", version: "v1alpha1", resource: "securitypolicies")
    static let circuitBreakers = GroupVersionResource(group: "mesh.lucid.io", version: "v1alpha1", resource: "circuitbreakerconfigs")
    static let certificates = GroupVersionResource(group: "cert-manager.io", version: "v1", resource: "certificates")
    static let networkPolicies = GroupVersionResource(group: "networking.k8s.io", version: "v1", resource: "networkpolicies")
    static let payouts = GroupVersionResource(group: "payments.lucid.io", version: "v1alpha1", resource: "tronpayouts")

    /// Which aspects have converged now.
    func aspects() async throws -> Set<Aspect> {
        var done: Set<Aspect> = []
        let services = try await client.listAll(.services, namespace: Self.mesh, options: ListOptions(labelSelector: "mesh.lucid.io/plane")).items.count
        func ready(_ object: JSON) -> Bool {
            let condition = object[path: "status", "conditions"]?.arrayValue?.first { $0["type"] == "Ready" }
            return condition?["status"] == "True" && object[path: "status", "observedGeneration"] == object[path: "metadata", "generation"]
        }
        var policies: [JSON] = []
        for resource in [Self.trafficPolicies, Self.securityPolicies, Self.circuitBreakers] {
            policies += try await client.listAll(resource, namespace: Self.mesh).items
        }
        if !policies.isEmpty, policies.allSatisfy(ready) { done.insert(.policies) }
        let owned = ListOptions(labelSelector: "app.kubernetes.io/managed-by=lucid-operator")
        if try await client.listAll(.configMaps, namespace: Self.mesh, options: owned).items.count == services { done.insert(.sidecars) }
        let keys = try? await client.get(.secrets, namespace: Self.mesh, name: "admin-interface-sidecar-keys")
        let keysPolicy = try await client.get(Self.securityPolicies, namespace: Self.mesh, name: "admin-interface-callers")
        if keys != nil, ready(keysPolicy) { done.insert(.apiKeys) }
        if try await client.listAll(Self.certificates, namespace: Self.mesh).items.count == services { done.insert(.certificates) }
        if try await client.listAll(Self.networkPolicies, namespace: Self.mesh).items.count == services { done.insert(.networkPolicies) }
        if let entries = try? await etcd.range(prefix: "\(prefix)\(Self.mesh)/"), entries.count == services { done.insert(.registry) }
        let payouts = try await client.listAll(Self.payouts, namespace: Self.treasury).items
        if !payouts.isEmpty, payouts.allSatisfy({ $0[path: "status", "phase"] == "Completed" }) { done.insert(.payouts) }
        let events = try await client.listAll(.events, namespace: Self.mesh).items + client.listAll(.events, namespace: Self.treasury).items
        if events.contains(where: { $0["reportingController"] == "lucid-operator" }) { done.insert(.events) }
        return done
    }
}

/// A `<service>-mesh-tls` Secret as cert-manager writes it once the Certificate is issued.
func certificateSecret(_ service: String, namespace: String) -> JSON {
    func b64(_ s: String) -> JSON { .string(Data(s.utf8).base64EncodedString()) }
    return ["apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": ["name": .string("\(service)-mesh-tls"), "namespace": .string(namespace)],
            "data": ["tls.crt": b64("-----BEGIN CERTIFICATE-----"), "tls.key": b64("-----BEGIN PRIVATE KEY-----"),
                     "ca.crt": b64("-----BEGIN CERTIFICATE-----")]]
}

/// A binary built beside the test bundle.
func builtBinary(_ name: String) -> String? {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return [dir, dir.deletingLastPathComponent()].map { $0.appendingPathComponent(name).path }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}
