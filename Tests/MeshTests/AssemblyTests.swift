import EnvoyCheck
import Foundation
import LucidAPI
@testable import Mesh
import Synchronization
import Testing
import YAML

/// Manifest objects for the assembly tests, in namespace `shop`.
enum Objects {
    static func service(_ name: String, plane: String, cluster: String? = nil) -> JSON {
        ["apiVersion": "v1", "kind": "Service",
         "metadata": ["name": .string(name), "namespace": "shop", "uid": .string("uid-\(name)"),
                      "labels": ["mesh.lucid.io/cluster": .string(cluster ?? name), "mesh.lucid.io/plane": .string(plane)]],
         "spec": ["selector": ["app": .string(name)], "ports": [["port": 80, "targetPort": 8080]]]]
    }

    static func traffic(_ name: String, _ source: String, _ destination: String, rules: JSON = [["action": "allow"]]) -> JSON {
        ["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "TrafficPolicy", "metadata": ["name": .string(name), "namespace": "shop"],
         "spec": ["source": .string(source), "destination": .string(destination), "rules": rules]]
    }

    static func security(_ name: String, _ source: String, _ destination: String, rules: JSON) -> JSON {
        ["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "SecurityPolicy", "metadata": ["name": .string(name), "namespace": "shop"],
         "spec": ["source": .string(source), "destination": .string(destination), "rules": rules]]
    }

    static func breaker(_ name: String, _ service: String, created: String? = nil) -> JSON {
        var metadata: JSON = ["name": .string(name), "namespace": "shop"]
        if let created { metadata["creationTimestamp"] = .string(created) }
        return ["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "CircuitBreakerConfig", "metadata": metadata,
                "spec": ["service": .string(service), "failureThreshold": 5, "recoveryTimeout": 30000]]
    }

    static func certificate(_ service: String) -> JSON {
        ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string("\(service)-mesh-tls"), "namespace": "shop"],
         "stringData": ["tls.crt": "crt", "tls.key": "key", "ca.crt": "ca"]]
    }

    static func keys(_ name: String, _ entries: [String: String]) -> JSON {
        var data = JSONObject()
        for (k, v) in entries { data[k] = .string(v) }
        return ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string(name), "namespace": "shop"], "stringData": .object(data)]
    }

    static let key = "reporting-key-0123456789abcdef"
    static let apiKeyRule: JSON = ["action": "require-auth", "authentication": [
        "methods": ["api-key"], "apiKey": ["header": "x-key", "secretRef": ["name": "gateway-keys"]]]]
}

/// `SidecarSources` that counts which Secrets' contents were asked for.
struct CountingSources: SidecarSources {
    let inner: ManifestSources
    let asked = Asked()

    final class Asked: Sendable {
        let names = Mutex<[String]>([])
    }

    func service(namespace: String, name: String) -> MeshService? { inner.service(namespace: namespace, name: name) }
    func trafficPolicies(namespace: String, source: String) -> [SidecarRenderer.Policy] { inner.trafficPolicies(namespace: namespace, source: source) }
    func circuitBreakers(namespace: String, service: String) -> [SidecarRenderer.Breaker] { inner.circuitBreakers(namespace: namespace, service: service) }
    func securityPolicies(namespace: String, destination: String) -> [SecurityPolicyInput] { inner.securityPolicies(namespace: namespace, destination: destination) }
    func certificateIssued(namespace: String, secret: String) -> Bool { inner.certificateIssued(namespace: namespace, secret: secret) }
    func secretEntries(namespace: String, name: String) async throws -> SecretData? {
        asked.names.withLock { $0.append(name) }
        return try await inner.secretEntries(namespace: namespace, name: name)
    }
}

@Suite struct AssemblyTests {
    static let objects: [JSON] = [
        Objects.service("gateway", plane: "ops"), Objects.service("payments", plane: "wallet"), Objects.service("ledger", plane: "chain"),
        Objects.service("reports", plane: "ops"),
        Objects.traffic("gw-pay", "gateway", "payments", rules: [["action": "allow"], ["action": "mirror", "match": ["path": "/audit"], "mirror": ["service": "ledger"]]]),
        Objects.traffic("reports-ledger", "reports", "ledger"),
        Objects.breaker("payments-breaker", "payments"), Objects.breaker("reports-breaker", "reports"),
        Objects.security("gateway-callers", "ledger", "gateway", rules: [["action": "allow"], Objects.apiKeyRule]),
        Objects.security("ledger-callers", "reports", "ledger", rules: [["action": "allow"]]),
        Objects.certificate("gateway"), Objects.certificate("payments"), Objects.certificate("reports"),
        Objects.keys("gateway-keys", ["reporting": Objects.key]),
    ]

    @Test func theInputsHoldExactlyWhatTheSidecarDependsOn() async throws {
        let sources = CountingSources(inner: ManifestSources(objects: Self.objects))
        let gateway = try #require(sources.service(namespace: "shop", name: "gateway"))
        let inputs = try await SidecarAssembly.inputs(for: gateway, from: sources, settings: SecuritySettings())
        #expect(Set(inputs.outbound.services.keys) == ["payments", "ledger"])
        #expect(inputs.outbound.policies.map(\.name) == ["gw-pay"])
        #expect(inputs.outbound.breakers.map(\.name) == ["payments-breaker"])
        #expect(inputs.inbound.policies.map(\.name) == ["gateway-callers"])
        #expect(inputs.inbound.services.map(\.name) == ["gateway", "ledger"])
        #expect(Set(inputs.inbound.secrets.keys) == ["gateway-mesh-tls", "gateway-keys"])
        // Only the API-key Secret's contents are read, and only by the render that needs them.
        #expect(sources.asked.names.withLock { $0 } == ["gateway-keys"])
        let reports = try #require(sources.service(namespace: "shop", name: "reports"))
        _ = try await SidecarAssembly.inputs(for: reports, from: sources, settings: SecuritySettings())
        #expect(sources.asked.names.withLock { $0 } == ["gateway-keys"])
    }

    /// A caller presents its certificate to a destination only when both are issued.
    @Test func upstreamTLSNeedsBothCertificates() throws {
        let sources = ManifestSources(objects: Self.objects)
        let gateway = try #require(sources.service(namespace: "shop", name: "gateway"))
        let inputs = SidecarAssembly.outboundInputs(for: gateway, from: sources, trustDomain: "cluster.local")
        #expect(Set(inputs.upstreamTransportSockets.keys) == ["payments"])  // ledger has no certificate
        let reports = try #require(sources.service(namespace: "shop", name: "reports"))
        #expect(SidecarAssembly.outboundInputs(for: reports, from: sources, trustDomain: "cluster.local").upstreamTransportSockets.isEmpty)
        let all = ManifestSources(objects: Self.objects, assumeCertificatesIssued: true)
        #expect(Set(SidecarAssembly.outboundInputs(for: gateway, from: all, trustDomain: "cluster.local").upstreamTransportSockets.keys) == ["payments", "ledger"])
    }

    /// Both sides in one config Envoy accepts: the outbound listener first, the inbound one
    /// after it, the SDS files in the ConfigMap, the keys only in the Secret files.
    @Test func bothSidesRenderIntoOneValidConfig() async throws {
        let sources = ManifestSources(objects: Self.objects, assumeCertificatesIssued: true)
        var configs: [[String: String]] = []
        for service in sources.meshServices {
            let render = SidecarAssembly.render(try await SidecarAssembly.inputs(for: service, from: sources, settings: SecuritySettings()))
            let lds = try render.json("lds.json")
            #expect(lds["resources"]?.arrayValue?.map { $0["name"]?.stringValue ?? "" } == ["outbound", "inbound"])
            #expect(render.files["mesh-tls-sds.json"] != nil && render.files["mesh-ca-sds.json"] != nil)
            #expect(!render.files.values.contains { $0.contains(Objects.key) }, "\(service.name): a key in the ConfigMap")
            #expect(render.secretFiles.isEmpty == (service.name != "gateway"))
            configs.append(render.files.merging(render.secretFiles) { a, _ in a })
        }
        for (service, problems) in zip(sources.meshServices, try await EnvoyCheck.problems(configs)) {
            #expect(problems.isEmpty, "\(service.name): \(problems)")
        }
    }

    /// Manifests have no creation times: they count in the order given.
    @Test func manifestOrderStandsForCreationTime() throws {
        let sources = ManifestSources(objects: [Objects.service("payments", plane: "wallet"),
                                                Objects.breaker("b-second", "payments"), Objects.breaker("a-first", "payments", created: "2026-01-01T00:00:00Z"),
                                                Objects.breaker("c-third", "payments")])
        let order = sources.circuitBreakers(namespace: "shop", service: "payments").sorted { ($0.creationTimestamp, $0.name) < ($1.creationTimestamp, $1.name) }
        #expect(order.map(\.name) == ["a-first", "b-second", "c-third"])
    }

    @Test func invalidManifestsAreKeptWithWhy() throws {
        var broken = Objects.traffic("broken", "gateway", "payments")
        broken["spec"]?["rules"] = "not a list"
        let sources = ManifestSources(objects: [broken])
        #expect(sources.trafficPolicies.first?.invalid?.contains("TrafficPolicy") == true)
        #expect(sources.trafficPolicies(namespace: "shop", source: "gateway").isEmpty)
    }
}

@Suite struct StatusReportTests {
    static func breaker(_ name: String, created: String = "2026-01-01T00:00:00Z", _ spec: JSON = ["service": "payments", "failureThreshold": 5, "recoveryTimeout": 1000]) throws -> SidecarRenderer.Breaker {
        SidecarRenderer.Breaker(name: name, creationTimestamp: created, spec: try spec.decode(CircuitBreakerConfigSpec.self))
    }

    @Test func aBreakerIsReadyWithTheCallersItIsAppliedTo() throws {
        let reports = [PolicyReport(outcome: .applied, appliedTo: ["shop/b-sidecar"]), PolicyReport(outcome: .applied, appliedTo: ["shop/a-sidecar"])]
        let r = StatusReport.circuitBreaker("cb", breakers: [try Self.breaker("cb")], service: service("payments"), namespace: "shop", callerReports: reports)
        #expect(r.ready && r.reason == "Applied" && r.appliedTo == ["shop/a-sidecar", "shop/b-sidecar"])
        #expect(r.message.contains("its 2 callers"))
    }

    @Test func aBreakerWithoutCallersSaysSoAndStillReportsItsProblems() throws {
        let alone = StatusReport.circuitBreaker("cb", breakers: [try Self.breaker("cb")], service: service("payments"), namespace: "shop", callerReports: [])
        #expect(alone.ready && alone.reason == "NoCallers" && alone.appliedTo.isEmpty)
        let nowhere = StatusReport.circuitBreaker("cb", breakers: [try Self.breaker("cb")], service: nil, namespace: "shop", callerReports: [])
        #expect(!nowhere.ready && nowhere.reason == "ServiceNotFound" && nowhere.message.contains("\"payments\" is not a mesh Service in namespace shop"))
        let younger = StatusReport.circuitBreaker("new", breakers: [try Self.breaker("old"), try Self.breaker("new", created: "2026-02-01T00:00:00Z")],
                                                  service: service("payments"), namespace: "shop", callerReports: [])
        #expect(!younger.ready && younger.reason == "Conflict" && younger.message.contains("old is older"))
        let invalid = StatusReport.circuitBreaker("cb", breakers: [try Self.breaker("cb", ["service": "payments", "failureThreshold": 0, "recoveryTimeout": 1000])],
                                                  service: nil, namespace: "shop", callerReports: [])
        #expect(!invalid.ready && invalid.reason == "Invalid" && invalid.message.contains("failureThreshold"))
    }

    @Test func aTrafficPolicysStatusCarriesItsUnhonouredFieldsAndConflicts() {
        let field = UnhonouredField(field: "spec.rules[0].weight", reason: "why")
        let applied = StatusReport.trafficPolicy(PolicyReport(outcome: .applied, appliedTo: ["shop/gateway-sidecar"], unhonoured: [field]))
        #expect(applied.ready && applied.unhonoured == [field] && applied.message.contains("spec.rules[0].weight"))
        let conflicted = StatusReport.trafficPolicy(PolicyReport(outcome: .conflicted("x"), appliedTo: ["shop/gateway-sidecar"], conflicts: ["x"]))
        #expect(!conflicted.ready && conflicted.reason == "Conflict" && conflicted.conflicts == ["x"] && conflicted.appliedTo == ["shop/gateway-sidecar"])
    }

    @Test func aSecurityPolicyEnforcedButNotReadyIsStillAppliedTo() {
        let outcome = SecurityOutcome(ready: false, reason: "SecretNotFound", message: "m", enforced: true, conflicts: [], unhonoured: [])
        let r = StatusReport.securityPolicy(outcome, sidecar: "shop/ledger-sidecar")
        #expect(!r.ready && r.reason == "SecretNotFound" && r.appliedTo == ["shop/ledger-sidecar"])
        let notEnforced = SecurityOutcome(ready: false, reason: "SourceNotFound", message: "m", enforced: false, conflicts: [], unhonoured: [])
        #expect(StatusReport.securityPolicy(notEnforced, sidecar: "shop/ledger-sidecar").appliedTo.isEmpty)
    }
}

@Suite struct ContainmentTests {
    @Test func whatTheOperatorSetIsComparedAndDefaultsAreNot() {
        let desired: JSON = ["podSelector": ["matchLabels": ["app": "a"]], "ingress": [["from": [["podSelector": ["matchLabels": ["app": "b"]]]]]]]
        var actual = desired
        actual["policyTypes"] = ["Ingress"]
        #expect(desired.isContained(in: actual))
        actual["podSelector"] = ["matchLabels": ["app": "a", "tier": "x"]]
        #expect(!desired.isContained(in: actual), "a selector with one label more selects other pods")
        #expect(!desired.isContained(in: ["podSelector": ["matchLabels": ["app": "a"]], "ingress": []]))
        #expect(!desired.isContained(in: nil))
    }
}
