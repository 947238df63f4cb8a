import EnvoyCheck
import LucidAPI
import Mesh
import Testing
import YAML

/// A mesh Service in namespace `shop`.
func service(_ name: String, cluster: String? = nil, plane: String = "wallet", port: Int = 80) -> MeshService {
    MeshService(name: name, namespace: "shop", uid: "uid-\(name)", cluster: cluster ?? name, plane: plane, port: port)
}

/// A TrafficPolicy from `gateway` written as its manifest's spec would be (`rules` as JSON).
func policy(_ name: String, to destination: String = "payments", from source: String = "gateway", priority: Int64 = 0,
            created: String = "2026-01-01T00:00:00Z", enabled: Bool = true, _ rules: JSON) throws -> SidecarRenderer.Policy {
    let spec: JSON = ["source": .string(source), "destination": .string(destination), "priority": .int(priority),
                      "enabled": .bool(enabled), "rules": rules]
    return SidecarRenderer.Policy(name: name, creationTimestamp: created, spec: try spec.decode(TrafficPolicySpec.self))
}

/// A CircuitBreakerConfig written as its manifest's spec would be.
func breaker(_ name: String, created: String = "2026-01-01T00:00:00Z", _ spec: JSON) throws -> SidecarRenderer.Breaker {
    SidecarRenderer.Breaker(name: name, creationTimestamp: created, spec: try spec.decode(CircuitBreakerConfigSpec.self))
}

/// Renders `gateway`'s sidecar among `services` and checks the result against Envoy's v3 API:
/// every config a test renders must be one Envoy accepts.
func render(_ policies: [SidecarRenderer.Policy], breakers: [SidecarRenderer.Breaker] = [],
            services: [MeshService] = [service("gateway", plane: "ops"), service("payments"), service("ledger", plane: "chain")],
            transportSockets: [String: JSON] = [:], source: String = "gateway") async throws -> SidecarRender {
    let me = try #require(services.first { $0.name == source })
    let inputs = SidecarInputs(service: me, policies: policies, breakers: breakers, upstreamTransportSockets: transportSockets,
                               resolving: services)
    let result = SidecarRenderer.render(inputs)
    try await EnvoyCheck.validate(result.files)
    return result
}

extension SidecarRender {
    func json(_ file: String) throws -> JSON { try JSON.parse(try #require(files[file])) }

    /// The outbound HTTP connection manager.
    func connectionManager() throws -> JSON {
        try #require(try json("lds.json")["resources"]?[0]?[path: "filter_chains"]?[0]?["filters"]?[0]?["typed_config"])
    }

    /// Routes by virtual host name.
    func routes() throws -> [String: [JSON]] {
        let hosts = try connectionManager()[path: "route_config", "virtual_hosts"]?.arrayValue ?? []
        return Dictionary(hosts.map { ($0["name"]?.stringValue ?? "", $0["routes"]?.arrayValue ?? []) }, uniquingKeysWith: { a, _ in a })
    }

    /// Clusters by name.
    func clusters() throws -> [String: JSON] {
        let list = try json("cds.json")["resources"]?.arrayValue ?? []
        return Dictionary(list.map { ($0["name"]?.stringValue ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }

    func outcome(_ policy: String) -> PolicyOutcome? { policies[policy]?.outcome }
}

extension PolicyOutcome {
    var reason: String? {
        if case .notApplied(let reason, _) = self { return reason }
        return nil
    }

    var message: String {
        switch self {
        case .applied: ""
        case .notApplied(_, let message): message
        case .conflicted(let note): note
        }
    }
}
