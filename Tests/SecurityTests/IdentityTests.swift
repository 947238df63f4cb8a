import LucidAPI
@testable import Mesh
import StructuralSchema
import Testing
import YAML

@Suite struct IdentityTests {
    @Test func identitiesCarryNamespacePlaneAndService() {
        #expect(MeshIdentity.of(payments, trustDomain: "cluster.local") == "spiffe://cluster.local/ns/lucid-payment/plane/wallet/svc/tron-payment")
        #expect(MeshIdentity.planePrefix(namespace: "lucid-payment", plane: "ops", trustDomain: "lucid.example")
                == "spiffe://lucid.example/ns/lucid-payment/plane/ops/")
        #expect(MeshIdentity.of(gateway, trustDomain: "t").hasPrefix(MeshIdentity.planePrefix(namespace: namespace, plane: "ops", trustDomain: "t")))
        #expect(!MeshIdentity.of(chain, trustDomain: "t").hasPrefix(MeshIdentity.planePrefix(namespace: namespace, plane: "ops", trustDomain: "t")))
    }

    @Test func aCertificateIsReadyWithItsKeyAndCA() {
        #expect(MeshIdentity.isReady(certificateSecret()))
        #expect(!MeshIdentity.isReady(nil))
        #expect(!MeshIdentity.isReady(SecretData(entries: ["tls.crt": [1], "tls.key": [1]])), "no ca.crt")
        #expect(!MeshIdentity.isReady(SecretData(entries: ["tls.crt": [], "tls.key": [1], "ca.crt": [1]])))
    }

    @Test func aCallerPresentsItsCertificateAndChecksTheDestinationsIdentity() async throws {
        let socket = try #require(MeshTLS.upstreamTransportSocket(from: gateway, to: payments, secrets: certificates(allServices), trustDomain: "cluster.local"))
        let context = try #require(socket["typed_config"])
        #expect(context["@type"] == "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext")
        #expect(context["sni"] == "tron-payment.lucid-payment.svc.cluster.local")
        #expect(context[path: "common_tls_context", "combined_validation_context", "default_validation_context", "match_typed_subject_alt_names"]
                == [["san_type": "URI", "matcher": ["exact": "spiffe://cluster.local/ns/lucid-payment/plane/wallet/svc/tron-payment"]]])
        #expect(context[path: "common_tls_context", "tls_certificate_sds_secret_configs"]?[0]?[path: "sds_config", "path_config_source", "path"]
                == "/etc/lucid/sidecar/mesh-tls-sds.json")
        var cluster: JSON = ["@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "outbound|80||tron-payment.lucid-payment.svc.cluster.local",
                             "type": "STRICT_DNS", "connect_timeout": "1s", "transport_socket": socket]
        cluster["load_assignment"] = ["cluster_name": cluster["name"] ?? "", "endpoints": [["lb_endpoints": [["endpoint": ["address": [
            "socket_address": ["address": "tron-payment.lucid-payment.svc.cluster.local", "port_value": 80]]]]]]]]
        let cds: JSON = ["resources": [cluster]]
        try await checkEnvoy(MeshTLS.configMapFiles.merging(["cds.json": cds.jsonText]) { a, _ in a }, "upstream-tls")
        #expect(MeshTLS.upstreamTransportSocket(from: gateway, to: payments, secrets: certificates([gateway]), trustDomain: "cluster.local") == nil)
        #expect(MeshTLS.upstreamTransportSocket(from: gateway, to: payments, secrets: certificates([payments]), trustDomain: "cluster.local") == nil)
    }

    @Test func sdsFilesPointAtTheMountedCertificate() async throws {
        let files = MeshTLS.configMapFiles
        #expect(files.keys.sorted() == ["mesh-ca-sds.json", "mesh-tls-sds.json"])
        let tls = try JSON.parse(files["mesh-tls-sds.json"] ?? "")
        #expect(tls["resources"]?[0]?[path: "tls_certificate", "private_key", "filename"] == "/etc/lucid/mesh-tls/tls.key")
        #expect(tls["resources"]?[0]?[path: "tls_certificate", "watched_directory", "path"] == "/etc/lucid/mesh-tls")
        try await checkEnvoy(files, "sds")
    }
}

@Suite struct CertificateTests {
    static func crdSchema() throws -> Schema {
        let crd = try #require(try readYAML("crds/third-party/cert-manager-certificates.yaml").first)
        #expect(crd[path: "metadata", "name"] == "certificates.cert-manager.io")
        return Schema(json: try #require(crd[path: "spec", "versions"]?[0]?[path: "schema", "openAPIV3Schema"]))
    }

    @Test func eachMeshServiceGetsACertificateForItsIdentity() throws {
        let cert = CertificateBuilder.certificate(for: payments, settings: .init(issuer: IssuerRef(name: "lucid-mesh-ca")))
        #expect(cert["apiVersion"] == "cert-manager.io/v1" && cert["kind"] == "Certificate")
        #expect(cert[path: "metadata", "name"] == "tron-payment-mesh-tls")
        #expect(cert[path: "metadata", "ownerReferences"]?[0] == ["apiVersion": "v1", "kind": "Service", "name": "tron-payment", "uid": "uid-tron-payment",
                                                                 "controller": true, "blockOwnerDeletion": true])
        #expect(cert[path: "metadata", "labels", "app.kubernetes.io/managed-by"] == "lucid-operator")
        #expect(cert[path: "spec", "secretName"] == "tron-payment-mesh-tls")
        #expect(cert[path: "spec", "uris"] == ["spiffe://cluster.local/ns/lucid-payment/plane/wallet/svc/tron-payment"])
        #expect(cert[path: "spec", "issuerRef"] == ["name": "lucid-mesh-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"])
        #expect(cert[path: "spec", "usages"] == ["digital signature", "server auth", "client auth"])
    }

    @Test func theCertificateFitsTheCRDWeShip() throws {
        let schema = try Self.crdSchema()
        for s in allServices {
            let cert = CertificateBuilder.certificate(for: s, settings: .init(issuer: IssuerRef(name: "ca", kind: "Issuer"), trustDomain: "lucid.example"))
            var body = cert
            body["metadata"] = [:]  // the API server checks metadata itself, not the CRD schema
            let errors = SchemaValidator(rejectUnknown: true).validate(body, schema, at: "")
            #expect(errors.isEmpty, "\(errors.map(\.description))")
        }
        var bad = CertificateBuilder.certificate(for: payments, settings: .init(issuer: IssuerRef(name: "ca")))
        bad["spec"]?["privateKey"]?["algorithm"] = "DSA"
        bad["metadata"] = [:]
        #expect(!SchemaValidator(rejectUnknown: true).validate(bad, schema, at: "").isEmpty, "the schema has teeth")
    }

    @Test func issuerFlag() {
        #expect(IssuerRef.parse("ClusterIssuer/lucid-mesh-ca") == IssuerRef(name: "lucid-mesh-ca"))
        #expect(IssuerRef.parse("Issuer/ca") == IssuerRef(name: "ca", kind: "Issuer"))
        #expect(IssuerRef.parse("mesh-ca") == IssuerRef(name: "mesh-ca"))
        #expect(IssuerRef.parse("Secret/x") == nil)
        #expect(IssuerRef.parse("Issuer/") == nil)
        #expect(IssuerRef.parse("a/b/c") == nil)
    }
}

@Suite struct NetworkPolicyTests {
    static func inputs(_ destination: MeshService, _ policies: [SecurityPolicyInput], isolation: PlaneIsolation = .strict,
                       services: [MeshService] = allServices) -> InboundInputs {
        InboundInputs(destination: destination, services: services, policies: policies, secrets: certificates(services),
                      settings: SecuritySettings(planeIsolation: isolation))
    }

    static func peers(_ np: JSON?) -> [JSON] {
        np?[path: "spec", "ingress"]?[0]?["from"]?.arrayValue?.compactMap { $0[path: "podSelector", "matchLabels"] } ?? []
    }

    static func plane(_ name: String) -> JSON { ["mesh.lucid.io/plane": .string(name)] }

    @Test func aPlaneAcceptsItsOwnPodsAndTheAllowedSources() throws {
        let np = try #require(NetworkPolicyBuilder.networkPolicy(Self.inputs(chain, [
            policy("p", source: "session-management", destination: "blockchain-core", [SecurityRule(action: .allow, match: SecurityMatch(path: "/api"))]),
        ])))
        #expect(np["apiVersion"] == "networking.k8s.io/v1" && np["kind"] == "NetworkPolicy")
        #expect(np[path: "metadata", "name"] == "blockchain-core-mesh-ingress")
        #expect(np[path: "metadata", "ownerReferences"]?[0]?["uid"] == "uid-blockchain-core")
        #expect(np[path: "spec", "podSelector"] == ["matchLabels": ["app": "blockchain-core"]])
        #expect(np[path: "spec", "policyTypes"] == ["Ingress"])
        #expect(Self.peers(np) == [Self.plane("chain"), ["app": "session-management"]])
    }

    @Test func crossPlaneWithoutAPolicyIsNotLetThrough() throws {
        let np = try #require(NetworkPolicyBuilder.networkPolicy(Self.inputs(payments, [])))
        #expect(Self.peers(np) == [Self.plane("wallet")])
        let ops = try #require(NetworkPolicyBuilder.networkPolicy(Self.inputs(gateway, [])))
        #expect(Self.peers(ops) == [Self.plane("ops")])
    }

    /// The plane is one selector: a Service joining it changes no other Service's NetworkPolicy.
    @Test func aServiceJoiningThePlaneChangesNoOtherNetworkPolicy() throws {
        let before = NetworkPolicyBuilder.networkPolicy(Self.inputs(gateway, []))
        let after = NetworkPolicyBuilder.networkPolicy(Self.inputs(gateway, [], services: allServices + [service("reporting", "ops")]))
        #expect(before != nil && before == after)
    }

    @Test func aCrossPlaneSourceDeniedEverythingIsLeftOut() throws {
        let np = try #require(NetworkPolicyBuilder.networkPolicy(Self.inputs(payments, [
            policy("p", source: "api-gateway", destination: "tron-payment", [SecurityRule(action: .deny)]),
        ])))
        #expect(Self.peers(np) == [Self.plane("wallet")])
    }

    /// A same-plane caller denied everything is not listed, but the plane's selector still lets
    /// its pods through at L3 (RBAC denies it): the price of not listing the plane's Services.
    @Test func aSamePlaneSourceDeniedEverythingIsStoppedOnlyByRBAC() throws {
        let np = try #require(NetworkPolicyBuilder.networkPolicy(Self.inputs(gateway, [
            policy("p", source: "session-management", destination: "api-gateway", [SecurityRule(action: .deny)]),
        ])))
        #expect(Self.peers(np) == [Self.plane("ops")])
    }

    @Test func anythingOpenToAnonymousCallersOpensTheNetwork() throws {
        let np = try #require(NetworkPolicyBuilder.networkPolicy(Self.inputs(payments, [
            policy("p", source: "*", destination: "tron-payment", [SecurityRule(action: .allow, match: SecurityMatch(path: "/healthz"))]),
        ])))
        #expect(np[path: "spec", "ingress"] == [[:]])
    }

    @Test func nobodyAtAllMeansNoIngressRule() throws {
        let lonely = service("vault", "wallet")
        let np = try #require(NetworkPolicyBuilder.networkPolicy(Self.inputs(lonely, [
            policy("p", source: "*", destination: "vault", [SecurityRule(action: .deny)]),
        ], services: allServices + [lonely])))
        #expect(np[path: "spec", "ingress"] == [])
    }

    @Test func offOrNoSelectorMeansNoNetworkPolicy() throws {
        #expect(NetworkPolicyBuilder.networkPolicy(Self.inputs(payments, [], isolation: .off)) == nil)
        let headless = service("external", "ops", selector: [:])
        #expect(NetworkPolicyBuilder.networkPolicy(Self.inputs(headless, [], services: allServices + [headless])) == nil)
        // An allowed source without a selector has no pods to name: never podSelector {} (every pod).
        let np = try #require(NetworkPolicyBuilder.networkPolicy(Self.inputs(payments, [
            policy("p", source: "external", destination: "tron-payment", [SecurityRule(action: .allow)]),
        ], services: allServices + [headless])))
        #expect(Self.peers(np) == [Self.plane("wallet")])
    }
}
