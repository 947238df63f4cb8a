import LucidAPI
import YAML

/// `SidecarSources` over a set of objects held in memory: manifests (`lucid-operator render -f`,
/// `who-can-call -f`) or what a command listed from a cluster. Kinds other than Service,
/// Secret and the three mesh kinds are ignored.
///
/// Manifests carry no creation times: an object without `metadata.creationTimestamp` counts as
/// created after those with one, in the order given (as `kubectl apply -f` would create them),
/// which is what orders policies of equal priority.
public struct ManifestSources: SidecarSources {
    /// A mesh resource as read: its spec, or why it does not decode.
    public struct Entry<Value: Sendable & Equatable>: Sendable, Equatable {
        public var namespace: String
        public var name: String
        public var creationTimestamp: String
        public var value: Value?
        /// Why the object is not a valid resource of its kind (nil when `value` is set).
        public var invalid: String?
    }

    public private(set) var meshServices: [MeshService] = []
    public private(set) var trafficPolicies: [Entry<SidecarRenderer.Policy>] = []
    public private(set) var securityPolicies: [Entry<SecurityPolicyInput>] = []
    public private(set) var circuitBreakers: [Entry<SidecarRenderer.Breaker>] = []
    /// Secrets by namespace and name, decoded.
    public private(set) var secrets: [String: [String: SecretData]] = [:]
    /// Treat the certificate of every mesh Service as issued (cert-manager's steady state),
    /// whatever Secrets the objects hold.
    public var assumeCertificatesIssued: Bool

    private var servicesByKey: [String: MeshService] = [:]

    /// `objects` in order; an object without a namespace is in `defaultNamespace`.
    public init(objects: [JSON], defaultNamespace: String = "default", assumeCertificatesIssued: Bool = false) {
        self.assumeCertificatesIssued = assumeCertificatesIssued
        var order = 0
        for var object in objects {
            let namespace = object[path: "metadata", "namespace"]?.stringValue ?? defaultNamespace
            if object[path: "metadata", "namespace"] == nil, object["metadata"]?.objectValue != nil {
                object["metadata"]?["namespace"] = .string(namespace)
            }
            let name = object[path: "metadata", "name"]?.stringValue ?? ""
            var created = object[path: "metadata", "creationTimestamp"]?.stringValue ?? ""
            if created.isEmpty {
                order += 1
                created = Self.manifestOrder(order)
            }
            switch (object["apiVersion"]?.stringValue ?? "", object["kind"]?.stringValue ?? "") {
            case ("v1", "Service"):
                if let service = MeshService(object) {
                    meshServices.append(service)
                    servicesByKey[Self.key(namespace, service.name)] = servicesByKey[Self.key(namespace, service.name)] ?? service
                }
            case ("v1", "Secret"):
                secrets[namespace, default: [:]][name] = SecretData(secret: object)
            case (TrafficPolicyKind.apiVersion, TrafficPolicyKind.kind):
                trafficPolicies.append(Self.entry(object, TrafficPolicyKind.self, namespace, name, created) {
                    SidecarRenderer.Policy(name: name, creationTimestamp: created, spec: $0)
                })
            case (SecurityPolicyKind.apiVersion, SecurityPolicyKind.kind):
                securityPolicies.append(Self.entry(object, SecurityPolicyKind.self, namespace, name, created) {
                    SecurityPolicyInput(name: name, creationTimestamp: created, spec: $0)
                })
            case (CircuitBreakerConfigKind.apiVersion, CircuitBreakerConfigKind.kind):
                circuitBreakers.append(Self.entry(object, CircuitBreakerConfigKind.self, namespace, name, created) {
                    SidecarRenderer.Breaker(name: name, creationTimestamp: created, spec: $0)
                })
            default:
                break
            }
        }
        meshServices.sort { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    }

    static func key(_ namespace: String, _ name: String) -> String { "\(namespace)/\(name)" }

    /// A creation time after any real one, in manifest order.
    static func manifestOrder(_ n: Int) -> String {
        let digits = String(n)
        return "9999-12-31T23:59:59.\(String(repeating: "0", count: max(0, 6 - digits.count)))\(digits)Z"
    }

    static func entry<Kind: ResourceKind, Value>(_ object: JSON, _ kind: Kind.Type, _ namespace: String, _ name: String, _ created: String,
                                                 _ make: (Kind.Spec) -> Value) -> Entry<Value> {
        do {
            let resource = try Resource<Kind>.decode(object)
            return Entry(namespace: namespace, name: name, creationTimestamp: created, value: make(resource.spec), invalid: nil)
        } catch {
            return Entry(namespace: namespace, name: name, creationTimestamp: created, value: nil, invalid: "\(error)")
        }
    }

    /// The mesh Services of one namespace, by name.
    public func meshServices(namespace: String) -> [MeshService] {
        meshServices.filter { $0.namespace == namespace }
    }

    /// The SecurityPolicies of a namespace that decode.
    public func securityPolicies(namespace: String) -> [SecurityPolicyInput] {
        securityPolicies.filter { $0.namespace == namespace }.compactMap(\.value)
    }

    /// What who-can-call reads for `destination`: every mesh Service and SecurityPolicy of its
    /// namespace, and its Secrets (certificates as issued when assumed).
    public func whoCanCallInputs(for destination: MeshService, settings: SecuritySettings) -> InboundInputs {
        let namespace = destination.namespace
        let services = meshServices(namespace: namespace)
        var known = secrets[namespace] ?? [:]
        if assumeCertificatesIssued {
            for service in services { known[MeshIdentity.certificateSecretName(service.name)] = SecretData(presentEntries: MeshIdentity.certificateEntries) }
        }
        return InboundInputs(destination: destination, services: services, policies: securityPolicies(namespace: namespace),
                             secrets: known, settings: settings)
    }

    // MARK: SidecarSources

    public func service(namespace: String, name: String) -> MeshService? { servicesByKey[Self.key(namespace, name)] }

    public func trafficPolicies(namespace: String, source: String) -> [SidecarRenderer.Policy] {
        trafficPolicies.filter { $0.namespace == namespace && $0.value?.spec.source == source }.compactMap(\.value)
    }

    public func circuitBreakers(namespace: String, service: String) -> [SidecarRenderer.Breaker] {
        circuitBreakers.filter { $0.namespace == namespace && $0.value?.spec.service == service }.compactMap(\.value)
    }

    public func securityPolicies(namespace: String, destination: String) -> [SecurityPolicyInput] {
        securityPolicies.filter { $0.namespace == namespace && $0.value?.spec.destination == destination }.compactMap(\.value)
    }

    public func certificateIssued(namespace: String, secret: String) -> Bool {
        if assumeCertificatesIssued, secret.hasSuffix("-mesh-tls"),
           self.service(namespace: namespace, name: String(secret.dropLast("-mesh-tls".count))) != nil {
            return true
        }
        return MeshIdentity.isReady(secrets[namespace]?[secret])
    }

    public func secretEntries(namespace: String, name: String) async throws -> SecretData? { secrets[namespace]?[name] }
}
