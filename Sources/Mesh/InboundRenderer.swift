import LucidAPI
import YAML

/// The inbound side of a mesh Service's sidecar, rendered.
public struct InboundRender: Sendable, Equatable {
    /// The `inbound` Listener, for the sidecar's `lds.json`; nil when the Service names its
    /// targetPort (the application's port number is then unknown).
    public var listener: JSON?
    /// Clusters the listener needs, for `cds.json`: the application (`inbound|<port>||`) and
    /// one per JWKS host.
    public var clusters: [JSON]
    /// Files for the sidecar's ConfigMap: the SDS files of the mesh certificate. No key material.
    public var configMapFiles: [String: String]
    /// Files for the sidecar's own Secret (`secretName`, mounted at `InboundRenderer.keysDirectory`):
    /// the API-key filters, which hold keys. Empty when no policy uses API keys.
    public var secretFiles: [String: String]
    /// The Secret the reconciler writes `secretFiles` into, owned by the Service.
    public var secretName: String
    /// Per SecurityPolicy (by name) with this Service as destination.
    public var outcomes: [String: SecurityOutcome]
    /// Every Secret the render looked at, present or not (for the reconciler's watches).
    public var secretsRead: [String]
}

/// The objects an inbound render reads, so that a change to one of them re-renders exactly the
/// destinations that depend on it.
public struct InboundDependencies: Sendable, Equatable {
    public var services: Set<String>
    public var secrets: Set<String>
}

/// Renders the inbound side of a mesh Service's sidecar from the SecurityPolicies with it as
/// destination. Pure: inputs in, Envoy config, Secret files and per-policy outcomes out.
///
/// The `inbound` listener (on `settings.inboundPort`, forwarding to 127.0.0.1:<targetPort>)
/// has two filter chains told apart by `tls_inspector`: mTLS, requiring a client certificate
/// from the mesh CA (present once the Service's own certificate is issued), and plaintext for
/// anonymous callers. Each runs, in order: a header_mutation that drops any client-sent
/// `x-lucid-api-key-client`, `jwt_authn` (verifies tokens when present, never rejects: RBAC
/// decides), one `api_key_auth` per key header (loaded by ECDS from the sidecar's Secret; it
/// runs only on requests carrying that header and sets `x-lucid-api-key-client: <secret>/<entry>`),
/// `rbac` (see `InboundRBAC`), the router, and a JSON access log of each call.
public enum InboundRenderer {
    public static let listenerName = "inbound"
    /// Where the pod mounts the sidecar's own Secret.
    public static let keysDirectory = "/etc/lucid/sidecar-keys"

    /// The sidecar's own Secret, next to its ConfigMap.
    public static func keysSecretName(_ service: String) -> String { "\(service)-sidecar-keys" }

    /// Policy order: priority (higher first), then creation time, then name.
    public static func ordered(_ policies: [SecurityPolicyInput]) -> [SecurityPolicyInput] {
        policies.sorted {
            let (p0, p1) = ($0.spec.priority ?? 0, $1.spec.priority ?? 0)
            if p0 != p1 { return p0 > p1 }
            if $0.creationTimestamp != $1.creationTimestamp { return $0.creationTimestamp < $1.creationTimestamp }
            return $0.name < $1.name
        }
    }

    /// What one policy makes a render of its destination read.
    public static func dependencies(of policy: SecurityPolicyInput) -> InboundDependencies {
        var services: Set<String> = [policy.spec.destination]
        var secrets: Set<String> = [MeshIdentity.certificateSecretName(policy.spec.destination)]
        if policy.spec.source != "*" {
            services.insert(policy.spec.source)
            secrets.insert(MeshIdentity.certificateSecretName(policy.spec.source))
        }
        for rule in policy.spec.rules {
            if let name = rule.authentication?.apiKey?.secretRef?.name { secrets.insert(name) }
        }
        return InboundDependencies(services: services, secrets: secrets)
    }

    /// What a render of `destination` reads: itself, its certificate, and for each of its
    /// policies the source, the source's certificate and the API-key Secrets.
    public static func dependencies(destination: String, policies: [SecurityPolicyInput]) -> InboundDependencies {
        var result = InboundDependencies(services: [destination], secrets: [MeshIdentity.certificateSecretName(destination)])
        for policy in policies where policy.spec.destination == destination {
            let d = dependencies(of: policy)
            result.services.formUnion(d.services)
            result.secrets.formUnion(d.secrets)
        }
        return result
    }

    public static func render(_ inputs: InboundInputs) -> InboundRender {
        let analysis = SecurityAnalysis(inputs)
        let destination = inputs.destination
        var render = InboundRender(listener: nil, clusters: [], configMapFiles: MeshTLS.configMapFiles, secretFiles: [:],
                                   secretName: keysSecretName(destination.name), outcomes: analysis.outcomes,
                                   secretsRead: analysis.secretsRead.sorted())
        guard let targetPort = destination.targetPort else { return render }
        let filters = InboundFilters(analysis: analysis, settings: inputs.settings)
        var chains: [JSON] = []
        if analysis.destinationCertificateReady { chains.append(filters.filterChain(.mtls, targetPort: targetPort)) }
        chains.append(filters.filterChain(.plaintext, targetPort: targetPort))
        render.listener = [
            "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
            "name": .string(listenerName),
            "address": ["socket_address": ["address": "0.0.0.0", "port_value": .int(Int64(inputs.settings.inboundPort))]],
            "traffic_direction": "INBOUND",
            "listener_filters": [["name": "envoy.filters.listener.tls_inspector",
                                  "typed_config": ["@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"]]],
            "filter_chains": .array(chains),
        ]
        render.clusters = [filters.applicationCluster(targetPort: targetPort)] + filters.jwksClusters
        render.secretFiles = filters.secretFiles
        return render
    }
}
