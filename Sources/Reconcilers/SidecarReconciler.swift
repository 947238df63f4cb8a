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
public final class SidecarReconciler: Sendable {
    public static let managedBy = ["app.kubernetes.io/managed-by": "lucid-operator"]
    public static let serviceLabel = "mesh.lucid.io/service"
    public static let hashAnnotation = "mesh.lucid.io/config-hash"
    public static let trafficPolicies = GroupVersionResource(group: TrafficPolicyKind.group, version: TrafficPolicyKind.version, resource: TrafficPolicyKind.plural)

    let client: KubeClient
    let events: EventRecorder
    let logger: Logger
    public let services = ObjectCache(indexers: ["namespace": { [$0[path: "metadata", "namespace"]?.stringValue ?? ""] }])
    public let policies = ObjectCache(indexers: [
        "source": { p in [SidecarReconciler.ref(p, p[path: "spec", "source"]?.stringValue)].compactMap { $0?.description } },
        "destination": { p in [SidecarReconciler.ref(p, p[path: "spec", "destination"]?.stringValue)].compactMap { $0?.description } },
    ])
    public let configMaps = ObjectCache()
    /// Counts ConfigMap writes (for `lucid_sidecar_configs_written_total`).
    let onWrite: @Sendable () -> Void

    public init(client: KubeClient, events: EventRecorder, logger: Logger = Logger(label: "lucid.sidecar"), onWrite: @escaping @Sendable () -> Void = {}) {
        self.client = client
        self.events = events
        self.logger = logger
        self.onWrite = onWrite
    }

    static func ref(_ object: JSON, _ name: String?) -> ObjectRef? {
        guard let name, !name.isEmpty else { return nil }
        return ObjectRef(namespace: object[path: "metadata", "namespace"]?.stringValue ?? "", name: name)
    }

    /// The controller: Services (with the mesh labels), TrafficPolicies and the sidecar
    /// ConfigMaps, mapped to the Services they concern.
    public func controller(namespace: String? = nil, workers: Int = 2) -> Controller {
        let policies = self.policies
        return Controller(name: "sidecar", workers: workers, sources: [
            Controller.Source(Reflector(client: client, resource: .services, namespace: namespace,
                                        labelSelector: "\(MeshService.clusterLabel),\(MeshService.planeLabel)", cache: services)) { change in
                guard let service = ObjectRef(change.object) else { return [] }
                // Policies that route to this Service may become (un)resolvable: their sources too.
                let callers = policies.byIndex("destination", service.description).compactMap { Self.ref($0, $0[path: "spec", "source"]?.stringValue) }
                return [service] + callers
            },
            Controller.Source(Reflector(client: client, resource: Self.trafficPolicies, namespace: namespace, cache: policies)) { change in
                [change.old, change.new].compactMap { $0.flatMap { Self.ref($0, $0[path: "spec", "source"]?.stringValue) } }
            },
            Controller.Source(Reflector(client: client, resource: .configMaps, namespace: namespace,
                                        labelSelector: "app.kubernetes.io/managed-by=lucid-operator,\(Self.serviceLabel)", cache: configMaps)) { change in
                // The owning Service; the label still finds it if someone stripped the ownerReference.
                let owned = owners(of: change.object, kind: "Service")
                return owned.isEmpty ? [Self.ref(change.object, change.object[path: "metadata", "labels", Self.serviceLabel]?.stringValue)].compactMap { $0 } : owned
            },
        ]) { [self] key in try await reconcile(key) }
    }

    public func reconcile(_ key: ObjectRef) async throws -> ReconcileResult {
        let service = services.get(key)
        let mesh = service.flatMap(MeshService.init)
        var decoded: [(JSON, SidecarRenderer.Policy)] = []
        var undecodable: [(JSON, PolicyOutcome)] = []
        var outcomes: [String: PolicyOutcome] = [:]
        for object in policies.byIndex("source", key.description) {
            let name = object[path: "metadata", "name"]?.stringValue ?? ""
            do {
                let policy = try TrafficPolicy.decode(object)
                decoded.append((object, SidecarRenderer.Policy(name: name, creationTimestamp: object[path: "metadata", "creationTimestamp"]?.stringValue ?? "", spec: policy.spec)))
            } catch {
                undecodable.append((object, .notApplied(reason: "Invalid", message: error.description)))
            }
        }
        var applied: String?
        if let mesh, let service {
            let namespaceServices = services.byIndex("namespace", key.namespace).compactMap(MeshService.init)
            let render = SidecarRenderer.render(SidecarInputs(service: mesh, policies: decoded.map(\.1), resolving: namespaceServices))
            let (config, rendered) = (render.config, render.policies.mapValues(\.outcome))
            outcomes.merge(rendered) { a, _ in a }
            try await ensureConfigMap(mesh, service, config)
            applied = "\(key.namespace)/\(mesh.sidecarName)"
        } else {
            for (_, p) in decoded {
                outcomes[p.name] = .notApplied(reason: "SourceNotFound",
                    message: "source \"\(key.name)\" is not a mesh Service in namespace \(key.namespace): create it, or label it with \(MeshService.clusterLabel) and \(MeshService.planeLabel)")
            }
        }
        for (object, policy) in decoded { try await updateStatus(object, outcomes[policy.name] ?? .applied, appliedTo: applied) }
        for (object, outcome) in undecodable { try await updateStatus(object, outcome, appliedTo: nil) }
        return .done
    }

    /// Creates or rewrites the ConfigMap when it differs from the render; returns silently when equal.
    func ensureConfigMap(_ mesh: MeshService, _ service: JSON, _ config: SidecarConfig) async throws {
        let ref = ObjectRef(namespace: mesh.namespace, name: mesh.sidecarName)
        var labels = Self.managedBy
        labels[Self.serviceLabel] = mesh.name
        let owner: JSON = ["apiVersion": "v1", "kind": "Service", "name": .string(mesh.name), "uid": .string(mesh.uid),
                           "controller": true, "blockOwnerDeletion": true]
        var data = JSONObject()
        for name in config.files.keys.sorted() { data[name] = .string(config.files[name]!) }
        if var existing = configMaps.get(ref) {
            let current = existing[path: "metadata", "annotations", Self.hashAnnotation]?.stringValue
            let ownerOK = existing[path: "metadata", "ownerReferences"]?.arrayValue?.contains { $0["uid"]?.stringValue == mesh.uid } == true
            guard existing["data"] != .object(data) || current != config.hash || !ownerOK else { return }
            existing["data"] = .object(data)
            let annotations = (existing[path: "metadata", "annotations"]?.objectValue ?? [:]).setting(Self.hashAnnotation, .string(config.hash))
            existing["metadata"]?["annotations"] = .object(annotations)
            var mergedLabels = existing[path: "metadata", "labels"]?.objectValue ?? [:]
            for (k, v) in labels { mergedLabels[k] = .string(v) }
            existing["metadata"]?["labels"] = .object(mergedLabels)
            existing["metadata"]?["ownerReferences"] = [owner]
            _ = try await client.update(.configMaps, namespace: mesh.namespace, existing)
            onWrite()
            logger.info("sidecar config rewritten", metadata: ["configmap": "\(ref)", "hash": "\(config.hash.prefix(12))"])
            await events.record(regarding: service, reason: "SidecarConfigUpdated", action: "Update",
                                note: "rewrote ConfigMap \(ref) (hash \(config.hash.prefix(12)))")
        } else {
            let object: JSON = [
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": ["name": .string(mesh.sidecarName), "namespace": .string(mesh.namespace),
                             "labels": .object(JSONObject(labels.map { ($0.key, JSON.string($0.value)) })),
                             "annotations": [Self.hashAnnotation: .string(config.hash)], "ownerReferences": [owner]],
                "data": .object(data),
            ]
            do throws(KubeError) {
                _ = try await client.create(.configMaps, namespace: mesh.namespace, object)
            } catch {
                guard error.isAlreadyExists else { throw error }
                // Someone made it (unlabelled, or not in our cache yet): take it over.
                try await adopt(object, owner: owner, data: data)
            }
            onWrite()
            logger.info("sidecar config created", metadata: ["configmap": "\(ref)", "hash": "\(config.hash.prefix(12))"])
            await events.record(regarding: service, reason: "SidecarConfigCreated", action: "Create",
                                note: "wrote ConfigMap \(ref) (hash \(config.hash.prefix(12)))")
        }
    }

    private func adopt(_ desired: JSON, owner: JSON, data: JSONObject) async throws(KubeError) {
        let namespace = desired[path: "metadata", "namespace"]?.stringValue
        var existing = try await client.get(.configMaps, namespace: namespace, name: desired[path: "metadata", "name"]?.stringValue ?? "")
        existing["data"] = .object(data)
        existing["metadata"]?["labels"] = desired[path: "metadata", "labels"]
        existing["metadata"]?["annotations"] = desired[path: "metadata", "annotations"]
        existing["metadata"]?["ownerReferences"] = [owner]
        _ = try await client.update(.configMaps, namespace: namespace, existing)
    }

    /// Writes the policy's status through /status when it differs from what is there.
    func updateStatus(_ object: JSON, _ outcome: PolicyOutcome, appliedTo: String?) async throws {
        let current = (try? object["status"].map { try $0.decode(PolicyStatus.self) }) ?? nil
        var status = current ?? PolicyStatus()
        let generation = object[path: "metadata", "generation"]?.intValue
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
        guard status != current else { return }
        var updated = object
        updated["status"] = try JSON.encode(status)
        _ = try await client.updateStatus(Self.trafficPolicies, namespace: object[path: "metadata", "namespace"]?.stringValue, updated)
    }
}

extension JSONObject {
    func setting(_ key: String, _ value: JSON) -> JSONObject {
        var copy = self
        copy[key] = value
        return copy
    }

    init(_ pairs: [(String, JSON)]) {
        self.init()
        for (k, v) in pairs.sorted(by: { $0.0 < $1.0 }) { self[k] = v }
    }
}
