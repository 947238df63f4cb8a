import ControllerRuntime
import Foundation
import KubeClient
import Logging
import LucidAPI
import Mesh
import YAML

/// Converges each mesh Service's sidecar ConfigMap to the TrafficPolicies whose source it is,
/// and reports on every such policy. Keys are Services (they may not exist: then their
/// policies say so).
///
/// A reconcile reads only what its sidecar depends on: the Service, its policies (by the
/// `source` index), and the Services those policies name (destinations, mirror targets). The
/// mappers are exact in the other direction: a Service's change enqueues itself and the sources
/// of the policies that name it; a policy's change, its old and new source; a ConfigMap's, its
/// Service.
public final class SidecarReconciler: Sendable {
    public static let managedBy = ["app.kubernetes.io/managed-by": "lucid-operator"]
    public static let serviceLabel = "mesh.lucid.io/service"
    public static let hashAnnotation = "mesh.lucid.io/config-hash"
    public static let trafficPolicies = GroupVersionResource(group: TrafficPolicyKind.group, version: TrafficPolicyKind.version, resource: TrafficPolicyKind.plural)

    public typealias Policy = CachedResource<TrafficPolicyKind>

    let client: KubeClient
    let events: EventRecorder
    let logger: Logger
    public let services: Informer<CachedService>
    public let policies: Informer<Policy>
    public let configMaps: Informer<CachedConfigMap>
    /// Counts ConfigMap writes (for `lucid_sidecar_configs_written_total`).
    let onWrite: @Sendable () -> Void

    /// Takes (or shares) its informers from `manager`, scoped to `namespace` (nil: all).
    public init(manager: Manager, events: EventRecorder, namespace: String? = nil, logger: Logger = Logger(label: "lucid.sidecar"),
                onWrite: @escaping @Sendable () -> Void = {}) {
        client = manager.client
        self.events = events
        self.logger = logger
        self.onWrite = onWrite
        services = Self.meshServices(manager, namespace: namespace)
        policies = manager.informer(Self.trafficPolicies, namespace: namespace, indexers: [
            "source": { p in [Self.ref(p, p.spec?.source)].compactMap { $0?.description } },
            "named": { p in
                guard let spec = p.spec else { return [] }
                return ([spec.destination] + spec.rules.compactMap(\.mirror?.service)).compactMap { Self.ref(p, $0)?.description }
            },
        ]) { Policy($0) }
        configMaps = manager.informer(.configMaps, namespace: namespace,
                                      labelSelector: "app.kubernetes.io/managed-by=lucid-operator,\(Self.serviceLabel)") { CachedConfigMap($0) }
    }

    /// The shared informer of mesh Services (both mesh labels present).
    public static func meshServices(_ manager: Manager, namespace: String?) -> Informer<CachedService> {
        manager.informer(.services, namespace: namespace, labelSelector: "\(MeshService.clusterLabel),\(MeshService.planeLabel)") { CachedService($0) }
    }

    static func ref(_ policy: Policy, _ name: String?) -> ObjectRef? {
        guard let name, !name.isEmpty else { return nil }
        return ObjectRef(namespace: policy.reference.namespace, name: name)
    }

    /// The controller, with its mappers.
    public func controller(workers: Int = 2) -> Controller {
        let policies = self.policies
        return Controller(name: "sidecar", workers: workers, reads: [services, policies, configMaps]) { [self] key in try await reconcile(key) }
            .watches(services) { change in
                // Policies naming this Service may become (un)resolvable or render differently: their sources too.
                [change.ref] + policies.byIndex("named", change.ref.description).compactMap { Self.ref($0, $0.spec?.source) }
            }
            .watches(policies) { change in change.values.compactMap { Self.ref($0, $0.spec?.source) } }
            .watches(configMaps) { change in
                change.values.compactMap { cm in cm.labels[Self.serviceLabel].map { ObjectRef(namespace: cm.reference.namespace, name: $0) } }
            }
    }

    public func reconcile(_ key: ObjectRef) async throws -> ReconcileResult {
        let service = services.get(key)
        var decoded: [(Policy, SidecarRenderer.Policy)] = []
        var outcomes: [String: PolicyOutcome] = [:]
        for policy in policies.byIndex("source", key.description) {
            guard let spec = policy.spec else {
                outcomes[policy.name] = .notApplied(reason: "Invalid", message: policy.invalid ?? "the spec does not decode")
                continue
            }
            decoded.append((policy, SidecarRenderer.Policy(name: policy.name, creationTimestamp: policy.creationTimestamp, spec: spec)))
        }
        let undecodable = policies.byIndex("source", key.description).filter { $0.spec == nil }
        var applied: String?
        if let service, let mesh = service.mesh {
            let inputs = SidecarInputs(service: mesh, policies: decoded.map(\.1)) { name in
                name == mesh.name ? mesh : self.services.get(ObjectRef(namespace: key.namespace, name: name))?.mesh
            }
            let render = SidecarRenderer.render(inputs)
            let (config, rendered) = (render.config, render.policies.mapValues(\.outcome))
            outcomes.merge(rendered) { a, _ in a }
            guard try await ensureConfigMap(mesh, service, config) else { return .requeueAfter(.milliseconds(50)) }
            applied = "\(key.namespace)/\(mesh.sidecarName)"
        } else {
            try await removeConfigMap(of: key)
            for (_, p) in decoded {
                outcomes[p.name] = .notApplied(reason: "SourceNotFound",
                    message: "source \"\(key.name)\" is not a mesh Service in namespace \(key.namespace): create it, or label it with \(MeshService.clusterLabel) and \(MeshService.planeLabel)")
            }
        }
        var retry = false
        for (policy, _) in decoded {
            if try await !updateStatus(policy, outcomes[policy.name] ?? .applied, appliedTo: applied) { retry = true }
        }
        for policy in undecodable {
            if try await !updateStatus(policy, outcomes[policy.name]!, appliedTo: nil) { retry = true }
        }
        return retry ? .requeueAfter(.milliseconds(50)) : .done
    }

    /// Creates or rewrites the ConfigMap when it differs from the render. Returns false when the
    /// cache turned out to be stale (a conflict): it has been refreshed, and the caller tries again.
    func ensureConfigMap(_ mesh: MeshService, _ service: CachedService, _ config: SidecarConfig) async throws -> Bool {
        let ref = ObjectRef(namespace: mesh.namespace, name: mesh.sidecarName)
        var data = JSONObject()
        var plain: [String: String] = [:]
        for name in config.files.keys.sorted() {
            data[name] = .string(config.files[name]!)
            plain[name] = config.files[name]!
        }
        let existing = configMaps.get(ref)
        if let existing, existing.dataDigest == CachedConfigMap.digest(plain), existing.annotations[Self.hashAnnotation] == config.hash,
           existing.ownerUIDs == [mesh.uid], Self.managedBy.allSatisfy({ existing.labels[$0.key] == $0.value }),
           existing.labels[Self.serviceLabel] == mesh.name {
            return true
        }
        var labels = existing?.labels ?? [:]
        for (k, v) in Self.managedBy { labels[k] = v }
        labels[Self.serviceLabel] = mesh.name
        var annotations = existing?.annotations ?? [:]
        annotations[Self.hashAnnotation] = config.hash
        let owner: JSON = ["apiVersion": "v1", "kind": "Service", "name": .string(mesh.name), "uid": .string(mesh.uid),
                           "controller": true, "blockOwnerDeletion": true]
        var metadata: JSON = ["name": .string(mesh.sidecarName), "namespace": .string(mesh.namespace),
                              "labels": .object(JSONObject(labels.map { ($0.key, JSON.string($0.value)) })),
                              "annotations": .object(JSONObject(annotations.map { ($0.key, JSON.string($0.value)) })),
                              "ownerReferences": [owner]]
        if let rv = existing?.reference.resourceVersion { metadata["resourceVersion"] = .string(rv) }
        let object: JSON = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": .object(data)]
        let written: JSON
        do throws(KubeError) {
            written = existing == nil ? try await client.create(.configMaps, namespace: mesh.namespace, object)
                                      : try await client.update(.configMaps, namespace: mesh.namespace, object)
        } catch {
            guard error.isAlreadyExists || error.isConflict else { throw error }
            // Our cache is behind the server: read the object, and decide again from it.
            await refresh(ref)
            return false
        }
        await configMaps.observe(written, notify: false)
        onWrite()
        let verb = existing == nil ? "created" : "rewritten"
        logger.info("sidecar config \(verb)", metadata: ["configmap": "\(ref)", "hash": "\(config.hash.prefix(12))"])
        await events.record(regarding: service.reference, reason: existing == nil ? "SidecarConfigCreated" : "SidecarConfigUpdated",
                            action: existing == nil ? "Create" : "Update",
                            note: "\(existing == nil ? "wrote" : "rewrote") ConfigMap \(ref) (hash \(config.hash.prefix(12)))")
        return true
    }

    /// A Service that left the mesh (or is gone) keeps no sidecar config.
    func removeConfigMap(of key: ObjectRef) async throws {
        let ref = ObjectRef(namespace: key.namespace, name: "\(key.name)-sidecar")
        guard let existing = configMaps.get(ref), existing.labels[Self.serviceLabel] == key.name else { return }
        do throws(KubeError) {
            try await client.delete(.configMaps, namespace: key.namespace, name: ref.name, options: DeleteOptions(preconditionUID: existing.reference.uid))
        } catch {
            guard error.isNotFound || error.isConflict else { throw error }
        }
        await configMaps.observeDeletion(ref)
        logger.info("sidecar config removed", metadata: ["configmap": "\(ref)"])
    }

    private func refresh(_ ref: ObjectRef) async {
        if let current = try? await client.get(.configMaps, namespace: ref.namespace, name: ref.name) {
            await configMaps.observe(current)
        }
    }

    /// Writes the policy's status through /status when it differs from what is there. Returns
    /// false when the cached policy was stale (refreshed; try again).
    func updateStatus(_ policy: Policy, _ outcome: PolicyOutcome, appliedTo: String?) async throws -> Bool {
        let current = policy.status
        var status = current ?? PolicyStatus()
        let generation = policy.generation
        status.observedGeneration = generation
        let now = KubeTime.now()
        let conditions = status.conditions ?? []
        switch outcome {
        case .applied:
            status.conditions = conditions.setting("Ready", .true, reason: "Applied", message: "rendered into the sidecar ConfigMap \(appliedTo ?? "")",
                                                   observedGeneration: generation, now: now)
            status.appliedTo = appliedTo.map { [$0] }
            status.conflicts = nil
        case .conflicted(let note):
            status.conditions = conditions.setting("Ready", .false, reason: "Conflict", message: "some rules are shadowed by other policies: \(note)",
                                                   observedGeneration: generation, now: now)
            status.appliedTo = appliedTo.map { [$0] }
            status.conflicts = [note]
        case .notApplied(let reason, let message):
            status.conditions = conditions.setting("Ready", .false, reason: reason, message: message, observedGeneration: generation, now: now)
            status.appliedTo = nil
            status.conflicts = nil
        }
        guard status != current else { return true }
        let body = try policy.statusWrite(status)
        do throws(KubeError) {
            let written = try await client.updateStatus(Self.trafficPolicies, namespace: policy.reference.namespace, body)
            await policies.observe(written, notify: false)
        } catch {
            guard error.isConflict else { throw error }
            if let fresh = try? await client.get(Self.trafficPolicies, namespace: policy.reference.namespace, name: policy.name) {
                await policies.observe(fresh)
            }
            return false
        }
        return true
    }
}

extension JSONObject {
    init(_ pairs: [(String, JSON)]) {
        self.init()
        for (k, v) in pairs.sorted(by: { $0.0 < $1.0 }) { self[k] = v }
    }
}
