import ControllerRuntime
import KubeClient
import LucidAPI
import Mesh

/// `SidecarSources` over the operator's shared informers: lookups by key and by index, so
/// assembling a sidecar costs what it reads. Secret contents are not cached: an API-key
/// Secret the cache knows of is read from the API while a render is assembled, and dropped
/// with the render.
struct CachedSidecarSources: SidecarSources {
    let client: KubeClient
    let services: Informer<CachedService>
    let trafficPolicies: Informer<CachedResource<TrafficPolicyKind>>
    let securityPolicies: Informer<CachedResource<SecurityPolicyKind>>
    let breakers: Informer<CachedResource<CircuitBreakerConfigKind>>
    let secrets: SidecarSecrets

    func service(namespace: String, name: String) -> MeshService? {
        services.get(ObjectRef(namespace: namespace, name: name))?.mesh
    }

    func trafficPolicies(namespace: String, source: String) -> [SidecarRenderer.Policy] {
        trafficPolicies.byIndex(SidecarIndex.source, "\(namespace)/\(source)").compactMap { p in
            p.spec.map { SidecarRenderer.Policy(name: p.name, creationTimestamp: p.creationTimestamp, spec: $0) }
        }
    }

    func circuitBreakers(namespace: String, service: String) -> [SidecarRenderer.Breaker] {
        breakers.byIndex(SidecarIndex.service, "\(namespace)/\(service)").compactMap { b in
            b.spec.map { SidecarRenderer.Breaker(name: b.name, creationTimestamp: b.creationTimestamp, spec: $0) }
        }
    }

    func securityPolicies(namespace: String, destination: String) -> [SecurityPolicyInput] {
        securityPolicies.byIndex(SidecarIndex.destination, "\(namespace)/\(destination)").compactMap { p in
            p.spec.map { SecurityPolicyInput(name: p.name, creationTimestamp: p.creationTimestamp, spec: $0) }
        }
    }

    func certificateIssued(namespace: String, secret: String) -> Bool {
        secrets.get(ObjectRef(namespace: namespace, name: secret)).map { MeshIdentity.isReady(presentEntries: $0.presentEntries) } ?? false
    }

    func secretEntries(namespace: String, name: String) async throws -> SecretData? {
        // The cache says whether it exists (and a change to it brings the render back here).
        guard secrets.get(ObjectRef(namespace: namespace, name: name)) != nil else { return nil }
        do throws(KubeError) {
            return SecretData(secret: try await client.get(.secrets, namespace: namespace, name: name))
        } catch {
            if error.isNotFound { return nil }
            throw error
        }
    }
}

/// The names of the informers' indexes the sidecar controllers read.
enum SidecarIndex {
    /// TrafficPolicies by `namespace/spec.source`; SecurityPolicies by their named source.
    static let source = "source"
    /// TrafficPolicies by every Service they route to (destination, mirror targets).
    static let named = "named"
    /// SecurityPolicies by `namespace/spec.destination`.
    static let destination = "destination"
    /// SecurityPolicies by every Secret a render of their destination reads for them.
    static let secret = "secret"
    /// CircuitBreakerConfigs by `namespace/spec.service`.
    static let service = "service"
}
