import LucidAPI
import StructuralSchema
import YAML

/// A kind served from a CustomResourceDefinition: its schema and, for the Lucid kinds, the
/// operator's semantic rules.
struct CustomKind: Sendable {
    var group: String
    var version: String
    var kind: String
    var namespaced: Bool
    var schema: Schema
    /// With a status subresource the API server ignores `status` on create.
    var hasStatus: Bool
    /// The kind's `semanticErrors` on a defaulted spec; nil when the spec does not decode.
    var semantic: (@Sendable (JSON) -> [FieldError]?)?

    var apiVersion: String { "\(group)/\(version)" }

    /// Every served version of a CRD that has a schema.
    static func from(crd: JSON) -> [CustomKind] {
        guard let group = crd[path: "spec", "group"]?.stringValue, let kind = crd[path: "spec", "names", "kind"]?.stringValue else { return [] }
        let namespaced = crd[path: "spec", "scope"]?.stringValue != "Cluster"
        let semantic = CRDs.kinds.first { $0.group == group && $0.kind == kind }.map { semanticRules($0) }
        return (crd[path: "spec", "versions"]?.arrayValue ?? []).compactMap { version in
            guard let name = version["name"]?.stringValue, version["served"]?.boolValue != false,
                  let schema = version[path: "schema", "openAPIV3Schema"], schema.objectValue != nil else { return nil }
            return CustomKind(group: group, version: name, kind: kind, namespaced: namespaced, schema: Schema(json: schema),
                              hasStatus: version[path: "subresources", "status"] != nil, semantic: semantic)
        }
    }

    private static func semanticRules<K: ResourceKind>(_ kind: K.Type) -> @Sendable (JSON) -> [FieldError]? {
        { spec in (try? spec.decode(K.Spec.self)).map(K.semanticErrors) }
    }

    /// The Lucid kinds, from the generated CRDs (`LucidAPI.CRDs`): the very schemas `crds/` holds.
    static let lucid: [CustomKind] = CRDs.all.flatMap(from(crd:))
    static let lucidGroups: Set<String> = Set(lucid.map(\.group))
}

/// The kinds of a Kubernetes 1.32 cluster that manifests commonly hold. They are accepted and
/// only lightly checked (the envelope, names, and a few fields for the kinds the operator reads).
enum BuiltinKinds {
    /// `apiVersion` → kind → namespaced.
    static let served: [String: [String: Bool]] = [
        "v1": ["Namespace": false, "Service": true, "ConfigMap": true, "Secret": true, "Pod": true, "ServiceAccount": true,
               "Endpoints": true, "PersistentVolumeClaim": true, "PersistentVolume": false, "Event": true, "LimitRange": true,
               "ResourceQuota": true, "ReplicationController": true, "Node": false, "PodTemplate": true],
        "apps/v1": ["Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true, "ControllerRevision": true],
        "batch/v1": ["Job": true, "CronJob": true],
        "autoscaling/v1": ["HorizontalPodAutoscaler": true],
        "autoscaling/v2": ["HorizontalPodAutoscaler": true],
        "policy/v1": ["PodDisruptionBudget": true],
        "networking.k8s.io/v1": ["NetworkPolicy": true, "Ingress": true, "IngressClass": false],
        "rbac.authorization.k8s.io/v1": ["Role": true, "RoleBinding": true, "ClusterRole": false, "ClusterRoleBinding": false],
        "coordination.k8s.io/v1": ["Lease": true],
        "discovery.k8s.io/v1": ["EndpointSlice": true],
        "events.k8s.io/v1": ["Event": true],
        "apiextensions.k8s.io/v1": ["CustomResourceDefinition": false],
        "admissionregistration.k8s.io/v1": ["ValidatingAdmissionPolicy": false, "ValidatingAdmissionPolicyBinding": false,
                                            "ValidatingWebhookConfiguration": false, "MutatingWebhookConfiguration": false],
        "scheduling.k8s.io/v1": ["PriorityClass": false],
        "storage.k8s.io/v1": ["StorageClass": false, "CSIDriver": false, "VolumeAttachment": false],
        "node.k8s.io/v1": ["RuntimeClass": false],
        "certificates.k8s.io/v1": ["CertificateSigningRequest": false],
        "apiregistration.k8s.io/v1": ["APIService": false],
        "flowcontrol.apiserver.k8s.io/v1": ["FlowSchema": false, "PriorityLevelConfiguration": false],
    ]

    /// The groups above: a kind or version in one of them that is not served is a mistake, not
    /// a custom resource.
    static let groups: Set<String> = Set(served.keys.map { group(of: $0) })

    /// Files that configure a client and never reach the cluster (skipped without a word).
    static let clientSideGroups: Set<String> = ["kustomize.config.k8s.io"]

    static func group(of apiVersion: String) -> String {
        apiVersion.lastIndex(of: "/").map { String(apiVersion[..<$0]) } ?? ""
    }
}
