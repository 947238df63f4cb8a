import ControllerRuntime
import Crypto
import KubeClient
import LucidAPI
import Mesh
import YAML

/// What the operator's caches keep of each kind: decoded once per change, and only the fields
/// some controller reads (a cached object costs a few hundred bytes, not its whole JSON).

/// A Service: its identity, labels, the operator's annotations, ports and selector, and its
/// mesh view when it is labelled into the mesh.
public struct CachedService: Sendable, Equatable {
    public struct Port: Sendable, Equatable {
        public var name: String?
        public var port: Int
        /// A number or a named container port, as the API has it.
        public var targetPort: String?
        public var appProtocol: String?
        public var `protocol`: String?
    }

    public var reference: ObjectReference
    public var labels: [String: String]
    /// Only annotations under `mesh.lucid.io/` (the registry's metadata and health checks).
    public var annotations: [String: String]
    public var ports: [Port]
    public var selector: [String: String]
    public var clusterIPs: [String]
    /// `spec.type` (`ClusterIP` when absent) and, for `ExternalName`, `spec.externalName` (the registry's DNS records).
    public var type: String
    public var externalName: String?
    /// Nil when the Service is not in the mesh (labels missing or plane unknown).
    public var mesh: MeshService?

    public var ref: ObjectRef { ObjectRef(namespace: reference.namespace, name: reference.name) }

    public init(_ object: JSON) {
        reference = ObjectReference(apiVersion: "v1", kind: "Service", namespace: object[path: "metadata", "namespace"]?.stringValue ?? "",
                                    name: object[path: "metadata", "name"]?.stringValue ?? "", uid: object[path: "metadata", "uid"]?.stringValue ?? "")
        labels = strings(object[path: "metadata", "labels"])
        annotations = strings(object[path: "metadata", "annotations"]).filter { $0.key.hasPrefix("mesh.lucid.io/") }
        ports = (object[path: "spec", "ports"]?.arrayValue ?? []).map { p in
            Port(name: p["name"]?.stringValue, port: Int(p["port"]?.intValue ?? 0),
                 targetPort: p["targetPort"]?.stringValue ?? p["targetPort"]?.intValue.map { String($0) },
                 appProtocol: p["appProtocol"]?.stringValue, protocol: p["protocol"]?.stringValue)
        }
        selector = strings(object[path: "spec", "selector"])
        var ips = (object[path: "spec", "clusterIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        if ips.isEmpty, let ip = object[path: "spec", "clusterIP"]?.stringValue { ips = [ip] }
        clusterIPs = ips.filter { $0 != "None" && !$0.isEmpty }
        type = object[path: "spec", "type"]?.stringValue ?? "ClusterIP"
        externalName = object[path: "spec", "externalName"]?.stringValue
        mesh = MeshService(object)
    }
}

/// A Lucid policy (or any custom resource of the project): identity, generation, the spec
/// decoded once (or why it does not decode), and the status as last written.
public struct CachedResource<Kind: ResourceKind>: Sendable {
    public var reference: ObjectReference
    public var generation: Int64?
    public var creationTimestamp: String
    public var deleting: Bool
    public var finalizers: [String]
    public var labels: [String: String]
    public var spec: Kind.Spec?
    /// Why the spec does not decode, when it does not.
    public var invalid: String?
    public var status: Kind.Status?

    public var ref: ObjectRef { ObjectRef(namespace: reference.namespace, name: reference.name) }
    public var name: String { reference.name }

    public init(_ object: JSON) {
        reference = ObjectReference(object) ?? ObjectReference(apiVersion: Kind.apiVersion, kind: Kind.kind, namespace: "", name: "", uid: "")
        reference.apiVersion = Kind.apiVersion
        reference.kind = Kind.kind
        generation = object[path: "metadata", "generation"]?.intValue
        creationTimestamp = object[path: "metadata", "creationTimestamp"]?.stringValue ?? ""
        deleting = object[path: "metadata", "deletionTimestamp"] != nil
        finalizers = (object[path: "metadata", "finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
        labels = strings(object[path: "metadata", "labels"])
        do {
            spec = try (object["spec"] ?? .null).decode(Kind.Spec.self)
        } catch {
            spec = nil
            invalid = "spec: \(error)"
        }
        status = try? object["status"].map { try $0.decode(Kind.Status.self) }
    }

    /// The body of a `/status` write: identity and version (the precondition) and the status.
    public func statusWrite(_ status: Kind.Status) throws -> JSON {
        var metadata: JSON = ["name": .string(reference.name), "namespace": .string(reference.namespace)]
        if let rv = reference.resourceVersion { metadata["resourceVersion"] = .string(rv) }
        return ["apiVersion": .string(Kind.apiVersion), "kind": .string(Kind.kind), "metadata": metadata, "status": try JSON.encode(status)]
    }
}

/// A ConfigMap the operator writes: identity, labels, annotations and owners, and a digest of its
/// data instead of the data (drift shows as a different digest).
public struct CachedConfigMap: Sendable, Equatable {
    public var reference: ObjectReference
    public var labels: [String: String]
    public var annotations: [String: String]
    public var ownerUIDs: [String]
    public var dataDigest: String

    public var ref: ObjectRef { ObjectRef(namespace: reference.namespace, name: reference.name) }

    public init(_ object: JSON) {
        reference = ObjectReference(object) ?? ObjectReference(apiVersion: "v1", kind: "ConfigMap", namespace: "", name: "", uid: "")
        labels = strings(object[path: "metadata", "labels"])
        annotations = strings(object[path: "metadata", "annotations"])
        ownerUIDs = (object[path: "metadata", "ownerReferences"]?.arrayValue ?? []).compactMap { $0["uid"]?.stringValue }
        var data: [String: String] = [:]
        for (key, value) in object["data"]?.objectValue ?? [:] { data[key] = value.stringValue ?? value.jsonText }
        dataDigest = Self.digest(data)
    }

    /// A digest of a ConfigMap's data: equal data, equal digest, whatever the key order.
    public static func digest(_ data: [String: String]) -> String {
        var hasher = SHA256()
        for key in data.keys.sorted() {
            hasher.update(data: Array(key.utf8) + [0] + Array(data[key]!.utf8) + [0])
        }
        return hasher.finalize().map { String($0, radix: 16).leftPadded2 }.joined()
    }
}

func strings(_ value: JSON?) -> [String: String] {
    var out: [String: String] = [:]
    for (k, v) in value?.objectValue ?? [:] { if let s = v.stringValue { out[k] = s } }
    return out
}

extension String {
    var leftPadded2: String { count < 2 ? "0" + self : self }
}

/// A Secret as the operator's cache keeps it: identity, labels and owners, which entries hold
/// something (what tells an issued `<service>-mesh-tls` certificate), and a digest of the data
/// only for the operator's own Secrets (drift shows as a different digest). Never the data:
/// a render that needs an API key reads the Secret from the API while it runs.
public struct CachedSecret: Sendable, Equatable {
    public var reference: ObjectReference
    public var labels: [String: String]
    public var ownerUIDs: [String]
    /// Entries whose value is not empty.
    public var presentEntries: Set<String>
    /// `CachedConfigMap.digest` of the data as the API has it (base64), for Secrets labelled
    /// `app.kubernetes.io/managed-by: lucid-operator`; nil for everyone else's.
    public var dataDigest: String?

    public var ref: ObjectRef { ObjectRef(namespace: reference.namespace, name: reference.name) }

    public init(_ object: JSON) {
        reference = ObjectReference(object) ?? ObjectReference(apiVersion: "v1", kind: "Secret", namespace: "", name: "", uid: "")
        labels = strings(object[path: "metadata", "labels"])
        ownerUIDs = (object[path: "metadata", "ownerReferences"]?.arrayValue ?? []).compactMap { $0["uid"]?.stringValue }
        var present: Set<String> = []
        var data: [String: String] = [:]
        for (key, value) in object["data"]?.objectValue ?? [:] {
            let text = value.stringValue ?? ""
            if !text.isEmpty { present.insert(key) }
            data[key] = text
        }
        presentEntries = present
        dataDigest = labels[SidecarObjects.managedByLabel] == SidecarObjects.managedBy ? CachedConfigMap.digest(data) : nil
    }
}

/// An object the operator owns whose spec it compares (a NetworkPolicy, a cert-manager
/// Certificate): identity, labels, owners and the spec as the API returned it (a few hundred
/// bytes, no secrets). Compared with `JSON.isContained`, so fields the API server defaults do
/// not count as drift.
public struct CachedOwnedObject: Sendable, Equatable {
    public var reference: ObjectReference
    public var labels: [String: String]
    public var annotations: [String: String]
    public var ownerUIDs: [String]
    public var spec: JSON?

    public var ref: ObjectRef { ObjectRef(namespace: reference.namespace, name: reference.name) }

    public init(_ object: JSON) {
        reference = ObjectReference(object) ?? ObjectReference(apiVersion: "", kind: "", namespace: "", name: "", uid: "")
        labels = strings(object[path: "metadata", "labels"])
        annotations = strings(object[path: "metadata", "annotations"])
        ownerUIDs = (object[path: "metadata", "ownerReferences"]?.arrayValue ?? []).compactMap { $0["uid"]?.stringValue }
        spec = object["spec"]
    }
}
