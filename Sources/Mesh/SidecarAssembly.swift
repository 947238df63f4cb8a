import LucidAPI
import YAML

/// The objects a mesh Service's sidecar may depend on, looked up by name or by the index a
/// sidecar needs. The reconciler implements it over its informers (`CachedSidecarSources`),
/// the offline commands over parsed manifests (`ManifestSources`); `SidecarAssembly` reads
/// either the same way, so the controller and `lucid-operator render` cannot disagree.
public protocol SidecarSources: Sendable {
    /// The mesh Service `namespace/name`; nil when there is none (or it is not in the mesh).
    func service(namespace: String, name: String) -> MeshService?
    /// The TrafficPolicies of the namespace whose `spec.source` is `source`.
    func trafficPolicies(namespace: String, source: String) -> [SidecarRenderer.Policy]
    /// The CircuitBreakerConfigs of the namespace whose `spec.service` is `service`.
    func circuitBreakers(namespace: String, service: String) -> [SidecarRenderer.Breaker]
    /// The SecurityPolicies of the namespace whose `spec.destination` is `destination`.
    func securityPolicies(namespace: String, destination: String) -> [SecurityPolicyInput]
    /// Whether the Secret holds a certificate a sidecar can load (`tls.crt`, `tls.key` and
    /// `ca.crt`, none empty), as cert-manager writes `<service>-mesh-tls`.
    func certificateIssued(namespace: String, secret: String) -> Bool
    /// The entries of a Secret whose contents the render needs (API keys); nil when it does not
    /// exist. Asked only while a render is assembled, so an implementation can read the Secret
    /// then instead of keeping its data.
    func secretEntries(namespace: String, name: String) async throws -> SecretData?
}

/// Gathers, from `SidecarSources`, exactly what one sidecar depends on, and renders it.
///
/// Outbound: the Service's TrafficPolicies, the Services they name (destinations, mirror
/// targets), those Services' CircuitBreakerConfigs, and for each of them an mTLS upstream
/// `transport_socket` when both this Service's and that Service's certificates are issued
/// (every mesh call then carries the caller's identity, which the destination's RBAC needs even
/// for its own plane). Inbound: the SecurityPolicies of which the Service is the destination,
/// the Services they name as sources, the certificates of the Service and of those sources, and
/// the API-key Secrets they reference (read through `secretEntries`).
public enum SidecarAssembly {
    /// Both sides' inputs of one sidecar.
    public struct Inputs: Sendable {
        public var outbound: SidecarInputs
        public var inbound: InboundInputs

        public init(outbound: SidecarInputs, inbound: InboundInputs) {
            self.outbound = outbound
            self.inbound = inbound
        }

        public var service: MeshService { outbound.service }
    }

    public static func inputs(for service: MeshService, from sources: some SidecarSources, settings: SecuritySettings) async throws -> Inputs {
        Inputs(outbound: outboundInputs(for: service, from: sources, trustDomain: settings.trustDomain),
               inbound: try await inboundInputs(for: service, from: sources, settings: settings))
    }

    /// The outbound side's inputs: no Secret contents needed (certificates count by readiness).
    public static func outboundInputs(for service: MeshService, from sources: some SidecarSources, trustDomain: String) -> SidecarInputs {
        let namespace = service.namespace
        let policies = sources.trafficPolicies(namespace: namespace, source: service.name)
        var services: [String: MeshService] = [:]
        var breakers: [SidecarRenderer.Breaker] = []
        for name in SidecarInputs.referencedServices(of: service.name, policies: policies).sorted() {
            guard let found = name == service.name ? service : sources.service(namespace: namespace, name: name) else { continue }
            services[name] = found
            breakers += sources.circuitBreakers(namespace: namespace, service: name)
        }
        var sockets: [String: JSON] = [:]
        if sources.certificateIssued(namespace: namespace, secret: MeshIdentity.certificateSecretName(service.name)) {
            for (name, destination) in services
            where sources.certificateIssued(namespace: namespace, secret: MeshIdentity.certificateSecretName(name)) {
                sockets[name] = MeshTLS.upstreamTransportSocket(to: destination, trustDomain: trustDomain)
            }
        }
        return SidecarInputs(service: service, policies: policies, breakers: breakers, upstreamTransportSockets: sockets) { services[$0] }
    }

    /// The inbound side's inputs: the Services the policies name, the certificates (by
    /// readiness) and the API-key Secrets (by contents) they read.
    public static func inboundInputs(for service: MeshService, from sources: some SidecarSources, settings: SecuritySettings) async throws -> InboundInputs {
        let namespace = service.namespace
        let policies = sources.securityPolicies(namespace: namespace, destination: service.name)
        let dependencies = InboundRenderer.dependencies(destination: service.name, policies: policies)
        var services = [service]
        for name in dependencies.services.sorted() where name != service.name {
            if let found = sources.service(namespace: namespace, name: name) { services.append(found) }
        }
        let keySecrets = apiKeySecrets(policies)
        var secrets: [String: SecretData] = [:]
        for name in dependencies.secrets.sorted() {
            if keySecrets.contains(name) {
                if let data = try await sources.secretEntries(namespace: namespace, name: name) { secrets[name] = data }
            } else if sources.certificateIssued(namespace: namespace, secret: name) {
                secrets[name] = SecretData(presentEntries: MeshIdentity.certificateEntries)
            }
        }
        return InboundInputs(destination: service, services: services, policies: policies, secrets: secrets, settings: settings)
    }

    /// The Secrets whose keys the policies' api-key rules use.
    public static func apiKeySecrets(_ policies: [SecurityPolicyInput]) -> Set<String> {
        var names: Set<String> = []
        for policy in policies {
            for rule in policy.spec.rules {
                if let name = rule.authentication?.apiKey?.secretRef?.name { names.insert(name) }
            }
        }
        return names
    }

    /// Both sides rendered into one config.
    public static func render(_ inputs: Inputs) -> SidecarRender {
        SidecarRenderer.render(inputs.outbound, inbound: inputs.inbound)
    }
}
