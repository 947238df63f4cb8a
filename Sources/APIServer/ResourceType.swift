import StructuralSchema
import YAML

/// A kind of object the server serves: its names, scope, verbs, status subresource, and (for
/// custom resources) schema and printer columns.
struct ResourceType: Sendable {
    var group: String
    var version: String
    var resource: String
    var kind: String
    var singular: String
    var namespaced: Bool
    var shortNames: [String] = []
    var categories: [String] = []
    var hasStatus: Bool
    /// For custom resources: the served version's schema; nil accepts any JSON.
    var schema: Schema?
    /// For custom resources: `additionalPrinterColumns`.
    var printerColumns: [JSON] = []
    /// The CRD that defines it, if any.
    var crdName: String?
    /// The verbs it serves, as discovery lists them.
    var verbs: [String] = Self.standardVerbs
    /// Not stored: a create-only kind the server answers itself (access and token reviews).
    var virtual = false
    /// Subresources other than `status` (`serviceaccounts/token`).
    var subresources: [Subresource] = []

    /// A subresource with a kind of its own.
    struct Subresource: Sendable {
        var name: String
        var group: String
        var version: String
        var kind: String
        var verbs: [String]
    }

    var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    var groupVersion: String { apiVersion }
    var key: String { "\(group)/\(version)/\(resource)" }

    static let standardVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    /// The APIResource entries of discovery (the resource and its status subresource).
    var discoveryEntries: [JSON] {
        var main: JSON = ["name": .string(resource), "singularName": .string(singular), "namespaced": .bool(namespaced),
                          "kind": .string(kind), "verbs": .array(verbs.map { .string($0) })]
        if !shortNames.isEmpty { main["shortNames"] = .array(shortNames.map { .string($0) }) }
        if !categories.isEmpty { main["categories"] = .array(categories.map { .string($0) }) }
        var entries = [main]
        if hasStatus {
            entries.append(["name": .string("\(resource)/status"), "singularName": "", "namespaced": .bool(namespaced),
                            "kind": .string(kind), "verbs": ["get", "patch", "update"]])
        }
        for sub in subresources {
            entries.append(["name": .string("\(resource)/\(sub.name)"), "singularName": "", "namespaced": .bool(namespaced), "group": .string(sub.group),
                            "version": .string(sub.version), "kind": .string(sub.kind), "verbs": .array(sub.verbs.map { .string($0) })])
        }
        return entries
    }

    static let builtIns: [ResourceType] = [
        ResourceType(group: "", version: "v1", resource: "namespaces", kind: "Namespace", singular: "namespace", namespaced: false, shortNames: ["ns"], hasStatus: true),
        ResourceType(group: "", version: "v1", resource: "services", kind: "Service", singular: "service", namespaced: true, shortNames: ["svc"], categories: ["all"], hasStatus: true),
        ResourceType(group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", singular: "configmap", namespaced: true, shortNames: ["cm"], hasStatus: false),
        ResourceType(group: "", version: "v1", resource: "secrets", kind: "Secret", singular: "secret", namespaced: true, hasStatus: false),
        ResourceType(group: "", version: "v1", resource: "pods", kind: "Pod", singular: "pod", namespaced: true, shortNames: ["po"], categories: ["all"], hasStatus: true),
        ResourceType(group: "", version: "v1", resource: "events", kind: "Event", singular: "event", namespaced: true, shortNames: ["ev"], hasStatus: false),
        ResourceType(group: "events.k8s.io", version: "v1", resource: "events", kind: "Event", singular: "event", namespaced: true, shortNames: ["ev"], hasStatus: false),
        ResourceType(group: "batch", version: "v1", resource: "jobs", kind: "Job", singular: "job", namespaced: true, categories: ["all"], hasStatus: true),
        ResourceType(group: "coordination.k8s.io", version: "v1", resource: "leases", kind: "Lease", singular: "lease", namespaced: true, hasStatus: false),
        ResourceType(group: "discovery.k8s.io", version: "v1", resource: "endpointslices", kind: "EndpointSlice", singular: "endpointslice", namespaced: true, hasStatus: false),
        ResourceType(group: "networking.k8s.io", version: "v1", resource: "networkpolicies", kind: "NetworkPolicy", singular: "networkpolicy", namespaced: true, shortNames: ["netpol"], hasStatus: false),
        ResourceType(group: "", version: "v1", resource: "serviceaccounts", kind: "ServiceAccount", singular: "serviceaccount", namespaced: true, shortNames: ["sa"], hasStatus: false,
                     subresources: [Subresource(name: "token", group: "authentication.k8s.io", version: "v1", kind: "TokenRequest", verbs: ["create"])]),
        ResourceType(group: "apps", version: "v1", resource: "deployments", kind: "Deployment", singular: "deployment", namespaced: true, shortNames: ["deploy"],
                     categories: ["all"], hasStatus: true),
        ResourceType(group: "policy", version: "v1", resource: "poddisruptionbudgets", kind: "PodDisruptionBudget", singular: "poddisruptionbudget", namespaced: true,
                     shortNames: ["pdb"], hasStatus: true),
        // Stored only: admission policies are not evaluated here (see README).
        ResourceType(group: "admissionregistration.k8s.io", version: "v1", resource: "validatingadmissionpolicies", kind: "ValidatingAdmissionPolicy",
                     singular: "validatingadmissionpolicy", namespaced: false, categories: ["api-extensions"], hasStatus: true),
        ResourceType(group: "admissionregistration.k8s.io", version: "v1", resource: "validatingadmissionpolicybindings",
                     kind: "ValidatingAdmissionPolicyBinding", singular: "validatingadmissionpolicybinding", namespaced: false,
                     categories: ["api-extensions"], hasStatus: false),
        review("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview"),
        review("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview"),
        review("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview"),
        review("authorization.k8s.io", "localsubjectaccessreviews", "LocalSubjectAccessReview", namespaced: true),
        review("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview"),
        review("authentication.k8s.io", "tokenreviews", "TokenReview"),
        ResourceType(group: "rbac.authorization.k8s.io", version: "v1", resource: "roles", kind: "Role", singular: "role", namespaced: true, hasStatus: false),
        ResourceType(group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles", kind: "ClusterRole", singular: "clusterrole", namespaced: false, hasStatus: false),
        ResourceType(group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings", kind: "RoleBinding", singular: "rolebinding", namespaced: true, hasStatus: false),
        ResourceType(group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings", kind: "ClusterRoleBinding", singular: "clusterrolebinding", namespaced: false, hasStatus: false),
        ResourceType(group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions", kind: "CustomResourceDefinition",
                     singular: "customresourcedefinition", namespaced: false, shortNames: ["crd", "crds"], categories: ["api-extensions"], hasStatus: true),
    ]

    /// A create-only review kind (authorization.k8s.io, authentication.k8s.io/v1).
    static func review(_ group: String, _ resource: String, _ kind: String, namespaced: Bool = false) -> ResourceType {
        ResourceType(group: group, version: "v1", resource: resource, kind: kind, singular: kind.lowercased(), namespaced: namespaced, hasStatus: false,
                     verbs: ["create"], virtual: true)
    }

    /// The resource types a CRD defines (one per served version), or an error naming the field.
    static func from(crd: JSON) -> Result<[ResourceType], FieldError> {
        guard let group = crd[path: "spec", "group"]?.stringValue, !group.isEmpty else {
            return .failure(FieldError(.required, "spec.group", "Required value"))
        }
        guard let plural = crd[path: "spec", "names", "plural"]?.stringValue, !plural.isEmpty else {
            return .failure(FieldError(.required, "spec.names.plural", "Required value"))
        }
        guard let kind = crd[path: "spec", "names", "kind"]?.stringValue, !kind.isEmpty else {
            return .failure(FieldError(.required, "spec.names.kind", "Required value"))
        }
        guard crd[path: "metadata", "name"]?.stringValue == "\(plural).\(group)" else {
            return .failure(FieldError(.invalid, "metadata.name", "Invalid value: must be spec.names.plural+\".\"+spec.group (\(plural).\(group))"))
        }
        let scope = crd[path: "spec", "scope"]?.stringValue ?? "Namespaced"
        guard scope == "Namespaced" || scope == "Cluster" else {
            return .failure(FieldError(.notSupported, "spec.scope", "Unsupported value: \"\(scope)\": supported values: \"Cluster\", \"Namespaced\""))
        }
        let versions = crd[path: "spec", "versions"]?.arrayValue ?? []
        guard !versions.isEmpty else { return .failure(FieldError(.required, "spec.versions", "Required value: must have exactly one version marked as storage version")) }
        var types: [ResourceType] = []
        for (i, version) in versions.enumerated() where version["served"]?.boolValue != false {
            guard let name = version["name"]?.stringValue else {
                return .failure(FieldError(.required, "spec.versions[\(i)].name", "Required value"))
            }
            types.append(ResourceType(
                group: group, version: name, resource: plural, kind: kind,
                singular: crd[path: "spec", "names", "singular"]?.stringValue ?? kind.lowercased(),
                namespaced: scope == "Namespaced",
                shortNames: crd[path: "spec", "names", "shortNames"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                categories: crd[path: "spec", "names", "categories"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                hasStatus: version[path: "subresources", "status"] != nil,
                schema: version[path: "schema", "openAPIV3Schema"].map { Schema(json: $0) },
                printerColumns: version["additionalPrinterColumns"]?.arrayValue ?? [],
                crdName: crd[path: "metadata", "name"]?.stringValue))
        }
        return .success(types)
    }
}
