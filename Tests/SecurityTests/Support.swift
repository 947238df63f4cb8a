import Foundation
import LucidAPI
@testable import Mesh
import YAML

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func readYAML(_ relativePath: String) throws -> [JSON] {
    try YAML.parseAll(try String(contentsOf: repositoryRoot.appendingPathComponent(relativePath), encoding: .utf8)).filter { $0 != .null }
}

let namespace = "lucid-payment"

func service(_ name: String, _ plane: String, port: Int = 80, targetPort: Int? = 8080, selector: [String: String]? = nil) -> MeshService {
    var s = MeshService(name: name, namespace: namespace, uid: "uid-\(name)", cluster: name, plane: plane, port: port,
                        selector: selector ?? ["app": name])
    s.targetPort = targetPort
    return s
}

/// Gateway and sessions on ops, chain on chain, payments on wallet.
let gateway = service("api-gateway", "ops")
let sessions = service("session-management", "ops")
let chain = service("blockchain-core", "chain", targetPort: 8545)
let payments = service("tron-payment", "wallet")
let allServices = [gateway, sessions, chain, payments]

/// A `<service>-mesh-tls` Secret as cert-manager writes it (contents are placeholders: only
/// their presence matters to the renderer).
func certificateSecret() -> SecretData {
    SecretData(entries: ["tls.crt": Array("-----BEGIN CERTIFICATE-----".utf8), "tls.key": Array("-----BEGIN PRIVATE KEY-----".utf8),
                         "ca.crt": Array("-----BEGIN CERTIFICATE-----".utf8)])
}

func certificates(_ services: [MeshService]) -> [String: SecretData] {
    Dictionary(uniqueKeysWithValues: services.map { (MeshIdentity.certificateSecretName($0.name), certificateSecret()) })
}

func policy(_ name: String, source: String, destination: String, priority: Int? = nil, created: String = "2025-01-10T00:00:00Z",
            enabled: Bool? = nil, _ rules: [SecurityRule]) -> SecurityPolicyInput {
    SecurityPolicyInput(name: name, creationTimestamp: created,
                        spec: SecurityPolicySpec(source: source, destination: destination, rules: rules, priority: priority, enabled: enabled))
}

let issuer = "https://auth.lucid.internal"
let jwksUri = "https://auth.lucid.internal/.well-known/jwks.json"

func jwtRule(_ action: SecurityAction = .requireAuth, match: SecurityMatch? = nil, audiences: [String]? = nil, roles: [String]? = nil,
             permissions: [String]? = nil, issuer: String = issuer, jwksUri: String = jwksUri, rolesClaim: String? = nil) -> SecurityRule {
    SecurityRule(action: action, match: match,
                 authentication: Authentication(methods: [.jwt], jwt: JWTProvider(issuer: issuer, jwksUri: jwksUri, audiences: audiences, rolesClaim: rolesClaim)),
                 authorization: roles == nil && permissions == nil ? nil : Authorization(roles: roles, permissions: permissions))
}

func apiKeyRule(_ action: SecurityAction = .requireAuth, match: SecurityMatch? = nil, header: String = "x-lucid-key", secret: String) -> SecurityRule {
    SecurityRule(action: action, match: match,
                 authentication: Authentication(methods: [.apiKey], apiKey: APIKeySource(header: header, secretRef: LocalSecretReference(name: secret))))
}

func keys(_ entries: [String: String]) -> SecretData {
    SecretData(entries: entries.mapValues { Array($0.utf8) })
}

/// Samples as the renderer reads them: mesh Services, SecurityPolicies and Secrets.
struct Samples {
    var services: [MeshService] = []
    var policies: [SecurityPolicyInput] = []
    var secrets: [String: SecretData] = [:]

    static func load() throws -> Samples {
        var samples = Samples()
        let files = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("manifests/samples").path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        for file in files {
            for object in try readYAML("manifests/samples/\(file)") {
                switch object["kind"]?.stringValue {
                case "Service": if let s = MeshService(object) { samples.services.append(s) }
                case "SecurityPolicy":
                    var p = SecurityPolicyInput(try SecurityPolicy.decode(object))
                    p.creationTimestamp = "2025-01-10T00:00:0\(samples.policies.count)Z"
                    samples.policies.append(p)
                case "Secret":
                    if let name = object[path: "metadata", "name"]?.stringValue { samples.secrets[name] = SecretData(secret: object) }
                default: break
                }
            }
        }
        return samples
    }

    func inputs(for name: String, certified: Bool = true, settings: SecuritySettings = SecuritySettings()) -> InboundInputs? {
        guard let destination = services.first(where: { $0.name == name }) else { return nil }
        let all = certified ? secrets.merging(certificates(services)) { a, _ in a } : secrets
        return InboundInputs(destination: destination, services: services, policies: policies, secrets: all, settings: settings)
    }
}

extension JSON {
    /// Every string anywhere in the value.
    var allStrings: [String] {
        switch self {
        case .string(let s): [s]
        case .array(let a): a.flatMap(\.allStrings)
        case .object(let o): o.flatMap { [$0.key] + $0.value.allStrings }
        default: []
        }
    }
}
