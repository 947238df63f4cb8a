import ControllerRuntime
import KubeClient
import LucidAPI
import Mesh
import YAML

/// What a write of an owned object came to.
enum WriteResult: Equatable {
    case unchanged
    case written(created: Bool)
    /// The cache was behind the server (a conflict, or the object exists already / is gone): it
    /// has been refreshed; decide again.
    case stale
}

/// The owned objects of a sidecar: each written only when it differs from the render, by
/// create or by update under the cached resourceVersion, and put back when edited or deleted
/// (their informers bring the change here). Every write is also an Event.
extension SidecarReconciler {
    /// The ConfigMap `<service>-sidecar`: compared by the digest of its data, its hash
    /// annotation, its owner and labels.
    func ensureConfigMap(_ mesh: MeshService, _ config: SidecarConfig) async throws -> WriteResult {
        let ref = ObjectRef(namespace: mesh.namespace, name: mesh.sidecarName)
        let existing = configMaps.get(ref)
        if let existing, existing.dataDigest == CachedConfigMap.digest(config.files), existing.annotations[Self.hashAnnotation] == config.hash,
           existing.ownerUIDs == [mesh.uid], Self.labelled(existing.labels, mesh) {
            return .unchanged
        }
        let result = try await replace(.configMaps, SidecarObjects.configMap(mesh, config), ref: ref, in: configMaps,
                                       current: existing.map { ($0.reference.resourceVersion, $0.labels, $0.annotations) })
        if case .written(let created) = result {
            onWrite()
            logger.info("sidecar config \(created ? "created" : "rewritten")", metadata: ["configmap": "\(ref)", "hash": "\(config.hash.prefix(12))"])
        }
        return result
    }

    /// The Secret `<service>-sidecar-keys` with the API-key filters, or none when no policy
    /// needs keys. Compared by a digest of its data; its contents appear nowhere else.
    func ensureKeysSecret(_ mesh: MeshService, _ files: [String: String], service: CachedService, regarding: [ObjectReference]) async throws -> Bool {
        let ref = ObjectRef(namespace: mesh.namespace, name: InboundRenderer.keysSecretName(mesh.name))
        // Where the operator may not see Secrets it reads no API keys, so it has none to write.
        guard let secrets = self.secrets.informer(for: mesh.namespace) else { return true }
        let existing = secrets.get(ref)
        if let existing, !Self.labelled(existing.labels, mesh) {
            return await nameTaken("Secret", ref, service: service, needed: !files.isEmpty)
        }
        guard let desired = SidecarObjects.keysSecret(mesh, files) else {
            guard let existing else { return true }
            try await remove(.secrets, existing.reference, from: secrets)
            await record([service.reference], related: service.reference, reason: "SidecarKeysRemoved", action: "Delete",
                         note: "deleted Secret \(ref): no SecurityPolicy of \(mesh.name) uses API keys any more")
            return true
        }
        var data: [String: String] = [:]
        for (name, value) in desired["data"]?.objectValue ?? [:] { data[name] = value.stringValue ?? "" }
        if let existing, existing.dataDigest == CachedConfigMap.digest(data), existing.ownerUIDs == [mesh.uid] { return true }
        let result = try await replace(.secrets, desired, ref: ref, in: secrets,
                                       current: existing.map { ($0.reference.resourceVersion, $0.labels, [:]) })
        guard case .written(let created) = result else { return result == .unchanged }
        logger.info("sidecar keys \(created ? "created" : "rewritten")", metadata: ["secret": "\(ref)", "files": "\(files.count)"])
        await record(regarding.isEmpty ? [service.reference] : regarding, related: service.reference,
                     reason: created ? "SidecarKeysCreated" : "SidecarKeysUpdated", action: created ? "Create" : "Update",
                     note: "\(created ? "wrote" : "rewrote") Secret \(ref) (the API-key filters of \(files.count) header\(files.count == 1 ? "" : "s"), mounted at \(InboundRenderer.keysDirectory))")
        return true
    }

    /// The NetworkPolicy `<service>-mesh-ingress`, or none (isolation off, no selector).
    func ensureNetworkPolicy(_ mesh: MeshService, _ desired: JSON?, service: CachedService, regarding: [ObjectReference]) async throws -> Bool {
        let ref = ObjectRef(namespace: mesh.namespace, name: NetworkPolicyBuilder.name(mesh.name))
        let existing = networkPolicies.get(ref)
        if let existing, !Self.labelled(existing.labels, mesh) {
            return await nameTaken("NetworkPolicy", ref, service: service, needed: desired != nil)
        }
        guard let desired else {
            guard let existing else { return true }
            try await remove(Self.networkPolicies, existing.reference, from: networkPolicies)
            await record([service.reference], related: service.reference, reason: "NetworkPolicyRemoved", action: "Delete",
                         note: "deleted NetworkPolicy \(ref): \(settings.security.planeIsolation == .off ? "plane isolation is off" : "\(mesh.name) has no selector")")
            return true
        }
        return try await ensureSpec(Self.networkPolicies, desired, existing: existing, ref: ref, in: networkPolicies, mesh: mesh,
                                    regarding: regarding.isEmpty ? [service.reference] : regarding, related: service.reference, what: "NetworkPolicy")
    }

    /// The cert-manager Certificate `<service>-mesh-tls` (only with an issuer).
    func ensureCertificate(_ mesh: MeshService, _ desired: JSON, service: CachedService) async throws -> Bool {
        guard let certificates else { return true }
        let ref = ObjectRef(namespace: mesh.namespace, name: MeshIdentity.certificateSecretName(mesh.name))
        let existing = certificates.get(ref)
        if let existing, !Self.labelled(existing.labels, mesh) {
            // Someone else's Certificate for this Secret (made by hand, say): theirs to keep.
            return await nameTaken("Certificate", ref, service: service, needed: true)
        }
        return try await ensureSpec(Self.certificates, desired, existing: existing, ref: ref, in: certificates, mesh: mesh,
                                    regarding: [service.reference], related: service.reference, what: "Certificate")
    }

    /// An object compared by its spec (what the operator sets must be there; label selectors
    /// exactly), its owner and labels.
    private func ensureSpec(_ resource: GroupVersionResource, _ desired: JSON, existing: CachedOwnedObject?, ref: ObjectRef,
                            in informer: Informer<CachedOwnedObject>, mesh: MeshService, regarding: [ObjectReference],
                            related: ObjectReference, what: String) async throws -> Bool {
        if let existing, desired["spec"]?.isContained(in: existing.spec) == true, existing.ownerUIDs == [mesh.uid] { return true }
        let result = try await replace(resource, desired, ref: ref, in: informer,
                                       current: existing.map { ($0.reference.resourceVersion, $0.labels, $0.annotations) })
        guard case .written(let created) = result else { return result == .unchanged }
        logger.info("\(what) \(created ? "created" : "rewritten")", metadata: ["object": "\(ref)"])
        await record(regarding, related: related, reason: "\(what)\(created ? "Created" : "Updated")", action: created ? "Create" : "Update",
                     note: "\(created ? "wrote" : "rewrote") \(what) \(ref)")
        return true
    }

    /// A Service that left the mesh (or is gone) keeps none of its sidecar objects.
    func removeOwnedObjects(of key: ObjectRef) async throws {
        func ours(_ labels: [String: String]) -> Bool { labels[Self.serviceLabel] == key.name }
        if let cm = configMaps.get(ObjectRef(namespace: key.namespace, name: "\(key.name)-sidecar")), ours(cm.labels) {
            try await remove(.configMaps, cm.reference, from: configMaps)
        }
        if let secrets = secrets.informer(for: key.namespace),
           let secret = secrets.get(ObjectRef(namespace: key.namespace, name: InboundRenderer.keysSecretName(key.name))), ours(secret.labels),
           secret.dataDigest != nil {
            try await remove(.secrets, secret.reference, from: secrets)
        }
        if let np = networkPolicies.get(ObjectRef(namespace: key.namespace, name: NetworkPolicyBuilder.name(key.name))), ours(np.labels) {
            try await remove(Self.networkPolicies, np.reference, from: networkPolicies)
        }
        if let certificates, let certificate = certificates.get(ObjectRef(namespace: key.namespace, name: MeshIdentity.certificateSecretName(key.name))),
           ours(certificate.labels) {
            try await remove(Self.certificates, certificate.reference, from: certificates)
        }
    }

    /// An object of the name the operator would write exists and is not the operator's: it is
    /// left alone (never taken over), said once as a Warning Event on the Service.
    private func nameTaken(_ what: String, _ ref: ObjectRef, service: CachedService, needed: Bool) async -> Bool {
        guard needed else { return true }
        logger.warning("\(what) name taken", metadata: ["object": "\(ref)"])
        await events.record(regarding: service.reference, type: "Warning", reason: "\(what)NameTaken", action: "Skip",
                            note: "\(what) \(ref) exists and is not the operator's (no \(SidecarObjects.managedByLabel)=\(SidecarObjects.managedBy) and \(SidecarObjects.serviceLabel)=\(service.reference.name) labels): it is left as it is; delete it to let the operator write its own")
        return true
    }

    static func labelled(_ labels: [String: String], _ mesh: MeshService) -> Bool {
        SidecarObjects.labels(mesh.name).allSatisfy { labels[$0.key] == $0.value }
    }

    /// Creates `desired`, or replaces the object under `current`'s resourceVersion, keeping the
    /// labels and annotations others added. The result goes into the cache at once.
    private func replace<Value>(_ resource: GroupVersionResource, _ desired: JSON, ref: ObjectRef, in informer: Informer<Value>,
                                current: (resourceVersion: String?, labels: [String: String], annotations: [String: String])?) async throws -> WriteResult {
        var object = desired
        if let current {
            for (key, value) in current.labels where desired[path: "metadata", "labels", key] == nil {
                object["metadata"]?["labels"]?[key] = .string(value)
            }
            if !current.annotations.isEmpty {
                var annotations = desired[path: "metadata", "annotations"]?.objectValue ?? JSONObject()
                for (key, value) in current.annotations.sorted(by: { $0.key < $1.key }) where annotations[key] == nil { annotations[key] = .string(value) }
                object["metadata"]?["annotations"] = .object(annotations)
            }
            if let rv = current.resourceVersion { object["metadata"]?["resourceVersion"] = .string(rv) }
        }
        do throws(KubeError) {
            let written = current == nil ? try await client.create(resource, namespace: ref.namespace, object)
                                         : try await client.update(resource, namespace: ref.namespace, object)
            await informer.observe(written, notify: false)
            return .written(created: current == nil)
        } catch {
            guard error.isAlreadyExists || error.isConflict || error.isNotFound else { throw error }
            await refresh(resource, ref, informer)
            return .stale
        }
    }

    /// Deletes an owned object (only the one the cache knows, by uid).
    private func remove<Value>(_ resource: GroupVersionResource, _ reference: ObjectReference, from informer: Informer<Value>) async throws {
        do throws(KubeError) {
            try await client.delete(resource, namespace: reference.namespace, name: reference.name, options: DeleteOptions(preconditionUID: reference.uid))
        } catch {
            guard error.isNotFound || error.isConflict else { throw error }
        }
        let ref = ObjectRef(namespace: reference.namespace, name: reference.name)
        await informer.observeDeletion(ref)
        logger.info("sidecar object removed", metadata: ["resource": "\(resource.resource)", "object": "\(ref)"])
    }

    private func refresh<Value>(_ resource: GroupVersionResource, _ ref: ObjectRef, _ informer: Informer<Value>) async {
        do throws(KubeError) {
            await informer.observe(try await client.get(resource, namespace: ref.namespace, name: ref.name))
        } catch {
            if error.isNotFound { await informer.observeDeletion(ref) }
        }
    }
}
