import ControllerRuntime
import Foundation
import KubeClient
import Logging
import LucidAPI
import Mesh
import Synchronization
import YAML

/// What the sidecar controllers take from the operator's flags.
public struct SidecarSettings: Sendable, Equatable {
    /// Plane isolation, trust domain, inbound port (`--plane-isolation`, `--trust-domain`).
    public var security: SecuritySettings
    /// One cert-manager Certificate per mesh Service with this issuer (`--certificate-issuer`);
    /// nil: the operator creates none (it still reads `<service>-mesh-tls` Secrets, however they
    /// are made). With an issuer, cert-manager's Certificate CRD must be installed.
    public var certificates: CertificateBuilder.Settings?
    /// The namespaces where the operator may read Secrets (`--secret-namespaces`: where
    /// ClusterRole lucid-operator-api-keys is bound); nil: every namespace (`SidecarSecrets`).
    public var secretNamespaces: Set<String>?

    public init(security: SecuritySettings = SecuritySettings(), certificates: CertificateBuilder.Settings? = nil, secretNamespaces: Set<String>? = nil) {
        self.security = security
        self.certificates = certificates
        self.secretNamespaces = secretNamespaces
    }
}

/// Converges each mesh Service's sidecar: the ConfigMap `<service>-sidecar` (outbound routes
/// and clusters from the TrafficPolicies whose source it is and the CircuitBreakerConfigs of the
/// Services they call; the inbound listener from the SecurityPolicies whose destination it is),
/// the Secret `<service>-sidecar-keys` (API-key filters), the cert-manager Certificate
/// `<service>-mesh-tls` and the NetworkPolicy `<service>-mesh-ingress`; and reports on every
/// TrafficPolicy and SecurityPolicy it renders. Keys are Services (they may not exist: then
/// their policies say so). CircuitBreakerConfig statuses, merged over the callers, are the
/// `breakerController`'s.
///
/// A reconcile reads exactly what its sidecar depends on (`SidecarAssembly` over the cache).
/// The mappers are exact the other way:
/// - a Service: itself; if its mesh view changed, the sources of the TrafficPolicies that route
///   to it and the destinations of the SecurityPolicies that name it as source;
/// - a TrafficPolicy: its old and new source; a SecurityPolicy: its old and new destination
///   (no caller depends on it: every caller presents its certificate whenever both are issued);
/// - a CircuitBreakerConfig: the callers of its old and new service;
/// - a Secret: for `<svc>-mesh-tls`, when its readiness changed, `svc` and its callers (their
///   upstream TLS); the destinations whose policies read it (API keys, sources' certificates);
///   for a Secret of the operator's, its Service;
/// - an owned ConfigMap, NetworkPolicy or Certificate: its Service.
public final class SidecarReconciler: Sendable {
    public static let managedBy = [SidecarObjects.managedByLabel: SidecarObjects.managedBy]
    public static let serviceLabel = SidecarObjects.serviceLabel
    public static let hashAnnotation = SidecarObjects.hashAnnotation
    public static let trafficPolicies = GroupVersionResource(group: TrafficPolicyKind.group, version: TrafficPolicyKind.version, resource: TrafficPolicyKind.plural)
    public static let securityPolicies = GroupVersionResource(group: SecurityPolicyKind.group, version: SecurityPolicyKind.version, resource: SecurityPolicyKind.plural)
    public static let circuitBreakers = GroupVersionResource(group: CircuitBreakerConfigKind.group, version: CircuitBreakerConfigKind.version,
                                                             resource: CircuitBreakerConfigKind.plural)
    public static let networkPolicies = GroupVersionResource(group: "networking.k8s.io", version: "v1", resource: "networkpolicies")
    public static let certificates = GroupVersionResource(group: "cert-manager.io", version: "v1", resource: "certificates")
    static let ownedSelector = "\(SidecarObjects.managedByLabel)=\(SidecarObjects.managedBy),\(SidecarObjects.serviceLabel)"

    public typealias Policy = CachedResource<TrafficPolicyKind>
    public typealias Security = CachedResource<SecurityPolicyKind>
    public typealias Breaker = CachedResource<CircuitBreakerConfigKind>

    let client: KubeClient
    let events: EventRecorder
    let logger: Logger
    let settings: SidecarSettings
    public let services: Informer<CachedService>
    public let policies: Informer<Policy>
    public let securityPolicies: Informer<Security>
    public let breakers: Informer<Breaker>
    public let configMaps: Informer<CachedConfigMap>
    public let secrets: SidecarSecrets
    public let networkPolicies: Informer<CachedOwnedObject>
    /// Only with an issuer: without cert-manager's CRD its list would never sync.
    public let certificates: Informer<CachedOwnedObject>?
    let sources: CachedSidecarSources
    /// The versions of the owned objects this controller has just written.
    /// Counts ConfigMap writes (for `lucid_sidecar_configs_written_total`).
    let onWrite: @Sendable () -> Void

    /// Takes (or shares) its informers from `manager`, scoped to `namespace` (nil: all).
    public init(manager: Manager, events: EventRecorder, namespace: String? = nil, settings: SidecarSettings = SidecarSettings(),
                logger: Logger = Logger(label: "lucid.sidecar"), onWrite: @escaping @Sendable () -> Void = {}) {
        client = manager.client
        self.events = events
        self.logger = logger
        self.settings = settings
        self.onWrite = onWrite
        services = Self.meshServices(manager, namespace: namespace)
        policies = manager.informer(Self.trafficPolicies, namespace: namespace, indexers: [
            SidecarIndex.source: { p in [Self.ref(p.reference.namespace, p.spec?.source)].compactMap { $0?.description } },
            SidecarIndex.named: { p in
                guard let spec = p.spec else { return [] }
                return ([spec.destination] + spec.rules.compactMap(\.mirror?.service)).compactMap { Self.ref(p.reference.namespace, $0)?.description }
            },
        ]) { Policy($0) }
        securityPolicies = manager.informer(Self.securityPolicies, namespace: namespace, indexers: [
            SidecarIndex.destination: { p in [Self.ref(p.reference.namespace, p.spec?.destination)].compactMap { $0?.description } },
            SidecarIndex.source: { p in
                guard let source = p.spec?.source, source != "*" else { return [] }
                return [Self.ref(p.reference.namespace, source)].compactMap { $0?.description }
            },
            SidecarIndex.secret: { p in
                guard let spec = p.spec else { return [] }
                let input = SecurityPolicyInput(name: p.name, creationTimestamp: p.creationTimestamp, spec: spec)
                return InboundRenderer.dependencies(of: input).secrets.sorted().map { "\(p.reference.namespace)/\($0)" }
            },
        ]) { Security($0) }
        breakers = manager.informer(Self.circuitBreakers, namespace: namespace, indexers: [
            SidecarIndex.service: { b in [Self.ref(b.reference.namespace, b.spec?.service)].compactMap { $0?.description } },
        ]) { Breaker($0) }
        configMaps = manager.informer(.configMaps, namespace: namespace, labelSelector: Self.ownedSelector) { CachedConfigMap($0) }
        secrets = SidecarSecrets(manager, scope: namespace, permitted: settings.secretNamespaces)
        networkPolicies = manager.informer(Self.networkPolicies, namespace: namespace, labelSelector: Self.ownedSelector) { CachedOwnedObject($0) }
        certificates = settings.certificates == nil ? nil
            : manager.informer(Self.certificates, namespace: namespace, labelSelector: Self.ownedSelector) { CachedOwnedObject($0) }
        sources = CachedSidecarSources(client: client, services: services, trafficPolicies: policies, securityPolicies: securityPolicies,
                                       breakers: breakers, secrets: secrets)
    }

    /// The shared informer of mesh Services (both mesh labels present).
    public static func meshServices(_ manager: Manager, namespace: String?) -> Informer<CachedService> {
        manager.informer(.services, namespace: namespace, labelSelector: "\(MeshService.clusterLabel),\(MeshService.planeLabel)") { CachedService($0) }
    }

    /// Whether a change of a mesh resource touches what renders (its spec; its existence).
    static func specChanged<Kind: ResourceKind>(_ change: Informer<CachedResource<Kind>>.Change) -> Bool {
        guard let old = change.old, let new = change.new else { return true }
        return old.spec != new.spec || old.invalid != new.invalid
    }

    static func ref(_ namespace: String, _ name: String?) -> ObjectRef? {
        guard let name, !name.isEmpty else { return nil }
        return ObjectRef(namespace: namespace, name: name)
    }

    /// Both controllers: the sidecars, and the CircuitBreakerConfigs' statuses.
    public func controllers(workers: Int = 2) -> [Controller] {
        [controller(workers: workers), breakerController(workers: max(1, workers / 2))]
    }

    var informers: [any InformerProtocol] {
        [services, policies, securityPolicies, breakers, configMaps, networkPolicies] + secrets.informers + (certificates.map { [$0] } ?? [])
    }

    /// The sidecar controller, with its mappers.
    public func controller(workers: Int = 2) -> Controller {
        let controller = Controller(name: "sidecar", workers: workers, reads: informers, logger: logger) { [self] key in try await reconcile(key) }
        let (policies, securityPolicies, breakers) = (self.policies, self.securityPolicies, self.breakers)
        /// The sources of the TrafficPolicies that route to `service`.
        @Sendable func callers(_ service: ObjectRef) -> [ObjectRef] {
            policies.byIndex(SidecarIndex.named, service.description).compactMap { Self.ref($0.reference.namespace, $0.spec?.source) }
        }
        controller.watches(services) { change in
            guard change.old?.mesh != change.new?.mesh else { return [change.ref] }
            let named = securityPolicies.byIndex(SidecarIndex.source, change.ref.description).compactMap { Self.ref($0.reference.namespace, $0.spec?.destination) }
            return [change.ref] + callers(change.ref) + named
        }
        // A status-only change (the operator's own status writes among them) renders nothing new.
        controller.watches(policies) { change in
            Self.specChanged(change) ? change.values.compactMap { Self.ref($0.reference.namespace, $0.spec?.source) } : []
        }
        controller.watches(securityPolicies) { change in
            Self.specChanged(change) ? change.values.compactMap { Self.ref($0.reference.namespace, $0.spec?.destination) } : []
        }
        controller.watches(breakers) { change in
            Self.specChanged(change) ? change.values.compactMap { Self.ref($0.reference.namespace, $0.spec?.service) }.flatMap(callers) : []
        }
        for secrets in secrets.informers { controller.watches(secrets) { change in
            let ref = change.ref
            // The operator's own key Secret: its Service.
            var keys = change.values.compactMap { secret in
                secret.labels[SidecarObjects.serviceLabel].flatMap { ref.name == InboundRenderer.keysSecretName($0) ? ObjectRef(namespace: ref.namespace, name: $0) : nil }
            }
            // A certificate counts by readiness only (a renewal changes nothing a sidecar holds).
            if ref.name.hasSuffix("-mesh-tls") {
                let ready = change.values.map { MeshIdentity.isReady(presentEntries: $0.presentEntries) }
                if change.kind == .updated && ready.first == ready.last { return keys }
                if let service = Self.ref(ref.namespace, String(ref.name.dropLast("-mesh-tls".count))) { keys += [service] + callers(service) }
            }
            // The destinations whose policies read it (API keys, their sources' certificates).
            keys += securityPolicies.byIndex(SidecarIndex.secret, ref.description).compactMap { Self.ref($0.reference.namespace, $0.spec?.destination) }
            return keys
        } }
        // An owned object's change brings its Service back. This controller's own writes are
        // stored without notifying (`observe(_:notify: false)`), and their watch echoes change
        // nothing in the cache, so they bring nothing back.
        let owned: @Sendable (ObjectRef, [String: String]) -> [ObjectRef] = { ref, labels in
            labels[SidecarObjects.serviceLabel].map { [ObjectRef(namespace: ref.namespace, name: $0)] } ?? []
        }
        controller.watches(configMaps) { change in
            change.values.flatMap { owned(change.ref, $0.labels) }
        }
        controller.watches(networkPolicies) { change in
            change.values.flatMap { owned(change.ref, $0.labels) }
        }
        if let certificates {
            controller.watches(certificates) { change in
                change.values.flatMap { owned(change.ref, $0.labels) }
            }
        }
        return controller
    }

    public func reconcile(_ key: ObjectRef) async throws -> ReconcileResult {
        let trafficPolicies = policies.byIndex(SidecarIndex.source, key.description)
        let securityPolicies = self.securityPolicies.byIndex(SidecarIndex.destination, key.description)
        guard let service = services.get(key), let mesh = service.mesh else {
            try await removeOwnedObjects(of: key)
            var fresh = true
            for policy in trafficPolicies {
                let report = policy.spec == nil ? StatusReport.invalid(policy.invalid ?? "the spec does not decode")
                    : .sourceNotFound(key.name, namespace: key.namespace)
                fresh = try await writeStatus(policy, report, Self.trafficPolicies, policies) && fresh
            }
            for policy in securityPolicies {
                guard let spec = policy.spec else { continue }
                let input = SecurityPolicyInput(name: policy.name, creationTimestamp: policy.creationTimestamp, spec: spec)
                fresh = try await writeStatus(policy, .destinationNotFound(input, namespace: key.namespace), Self.securityPolicies, self.securityPolicies) && fresh
            }
            return fresh ? .done : .requeueAfter(.milliseconds(50))
        }

        let inputs = try await SidecarAssembly.inputs(for: mesh, from: sources, settings: settings.security)
        let render = SidecarAssembly.render(inputs)
        let sidecar = "\(key.namespace)/\(mesh.sidecarName)"
        let rendered = renderedPolicies(render, namespace: key.namespace, trafficPolicies, securityPolicies)

        var fresh = true
        switch try await ensureConfigMap(mesh, render.config) {
        case .stale: return .requeueAfter(.milliseconds(50))
        case .unchanged: break
        case .written(let created):
            await record(rendered.isEmpty ? [service.reference] : rendered, related: service.reference,
                         reason: created ? "SidecarConfigCreated" : "SidecarConfigUpdated", action: created ? "Create" : "Update",
                         note: "\(created ? "wrote" : "rewrote") ConfigMap \(sidecar) (hash \(render.hash.prefix(12)))")
        }
        let keyPolicies = securityPolicies.filter { p in
            render.security[p.name]?.enforced == true && p.spec?.rules.contains { $0.authentication?.apiKey != nil } == true
        }.map(\.reference)
        fresh = try await ensureKeysSecret(mesh, render.secretFiles, service: service, regarding: keyPolicies) && fresh
        let shaping = securityPolicies.filter { render.security[$0.name]?.enforced == true }.map(\.reference)
        fresh = try await ensureNetworkPolicy(mesh, NetworkPolicyBuilder.networkPolicy(inputs.inbound), service: service, regarding: shaping) && fresh
        if let certificateSettings = settings.certificates {
            fresh = try await ensureCertificate(mesh, CertificateBuilder.certificate(for: mesh, settings: certificateSettings), service: service) && fresh
        }

        for policy in trafficPolicies {
            let report: StatusReport
            if let r = render.policies[policy.name] { report = .trafficPolicy(r) } else { report = .invalid(policy.invalid ?? "the spec does not decode") }
            fresh = try await writeStatus(policy, report, Self.trafficPolicies, policies) && fresh
        }
        for policy in securityPolicies {
            guard let outcome = render.security[policy.name] else { continue }
            var report = StatusReport.securityPolicy(outcome, sidecar: sidecar)
            if !secrets.permits(key.namespace) { report = .secretsNotPermitted(report, namespace: key.namespace) }
            fresh = try await writeStatus(policy, report, Self.securityPolicies, self.securityPolicies) && fresh
        }
        return fresh ? .done : .requeueAfter(.milliseconds(50))
    }

    /// The policies and breakers rendered into this sidecar, for its Events.
    func renderedPolicies(_ render: SidecarRender, namespace: String, _ trafficPolicies: [Policy], _ securityPolicies: [Security]) -> [ObjectReference] {
        var refs = trafficPolicies.filter { !(render.policies[$0.name]?.appliedTo.isEmpty ?? true) }.map(\.reference)
        refs += securityPolicies.filter { render.security[$0.name]?.enforced == true }.map(\.reference)
        for (name, report) in render.breakers.sorted(by: { $0.key < $1.key }) where !report.appliedTo.isEmpty {
            if let breaker = breakers.get(ObjectRef(namespace: namespace, name: name)) { refs.append(breaker.reference) }
        }
        return refs
    }

    /// Records one Event per object in `regarding` (a change that several policies caused).
    func record(_ regarding: [ObjectReference], related: ObjectReference, reason: String, action: String, note: String) async {
        for object in regarding {
            await events.record(regarding: object, related: object == related ? nil : related, reason: reason, action: action, note: note)
        }
    }
}

extension JSONObject {
    init(_ pairs: [(String, JSON)]) {
        self.init()
        for (k, v) in pairs.sorted(by: { $0.0 < $1.0 }) { self[k] = v }
    }
}
