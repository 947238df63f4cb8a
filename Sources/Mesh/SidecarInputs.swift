import LucidAPI
import YAML

extension SidecarRenderer {
    /// A TrafficPolicy as the renderer reads it: name and creation time order it, the spec routes.
    public struct Policy: Sendable, Equatable {
        public var name: String
        /// RFC 3339, as the API server writes it (so string order is time order).
        public var creationTimestamp: String
        public var spec: TrafficPolicySpec
        public init(name: String, creationTimestamp: String, spec: TrafficPolicySpec) {
            self.name = name
            self.creationTimestamp = creationTimestamp
            self.spec = spec
        }
    }

    /// A CircuitBreakerConfig as the renderer reads it: the older of two for one service wins.
    public struct Breaker: Sendable, Equatable {
        public var name: String
        /// RFC 3339, as the API server writes it (so string order is time order).
        public var creationTimestamp: String
        public var spec: CircuitBreakerConfigSpec
        public init(name: String, creationTimestamp: String, spec: CircuitBreakerConfigSpec) {
            self.name = name
            self.creationTimestamp = creationTimestamp
            self.spec = spec
        }
    }
}

/// Everything one sidecar's config depends on, and nothing more, so the reconciler and the
/// offline `render` command call the same pure function and a change to anything else cannot
/// change this sidecar.
public struct SidecarInputs: Sendable, Equatable {
    /// The Service whose sidecar this is.
    public var service: MeshService
    /// The mesh Services the policies name (destinations, mirror targets; weighted peers are
    /// destinations too), by name. A name missing here is reported as not found.
    public var services: [String: MeshService]
    /// The TrafficPolicies whose source is `service` (others are ignored).
    public var policies: [SidecarRenderer.Policy]
    /// The CircuitBreakerConfigs of the Services in `services`.
    public var breakers: [SidecarRenderer.Breaker]
    /// An upstream `transport_socket` (Envoy JSON, e.g. an mTLS `UpstreamTlsContext`) per
    /// destination Service name, set on that Service's cluster.
    public var upstreamTransportSockets: [String: JSON]

    /// The inputs for `service`, looking up only the Services its policies name (see
    /// `referencedServices`) and keeping only the breakers of those.
    public init(service: MeshService, policies: [SidecarRenderer.Policy], breakers: [SidecarRenderer.Breaker] = [],
                upstreamTransportSockets: [String: JSON] = [:], lookup: (String) -> MeshService?) {
        self.service = service
        self.policies = policies.filter { $0.spec.source == service.name }
        var services: [String: MeshService] = [:]
        for name in Self.referencedServices(of: service.name, policies: self.policies) {
            if let found = lookup(name) { services[name] = found }
        }
        self.services = services
        self.breakers = breakers.filter { services[$0.spec.service] != nil }
        self.upstreamTransportSockets = upstreamTransportSockets.filter { services[$0.key] != nil }
    }

    /// The inputs for `service`, picking the Services its policies name out of `available`
    /// (e.g. the mesh Services of its namespace).
    public init(service: MeshService, policies: [SidecarRenderer.Policy], breakers: [SidecarRenderer.Breaker] = [],
                upstreamTransportSockets: [String: JSON] = [:], resolving available: [MeshService]) {
        let byName = Dictionary(available.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.init(service: service, policies: policies, breakers: breakers, upstreamTransportSockets: upstreamTransportSockets,
                  lookup: { byName[$0] })
    }

    /// The Service names the sidecar of `source` depends on: the destinations and mirror targets
    /// of its enabled policies. A change to a Service (or to a breaker for a Service) outside
    /// this set cannot change the sidecar, so a reconciler maps changes to sidecars with it.
    public static func referencedServices(of source: String, policies: [SidecarRenderer.Policy]) -> Set<String> {
        var names: Set<String> = []
        for policy in policies where policy.spec.source == source && policy.spec.enabled != false {
            names.insert(policy.spec.destination)
            for rule in policy.spec.rules {
                if let target = rule.mirror?.service { names.insert(target) }
            }
        }
        return names
    }
}
