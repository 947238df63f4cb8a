import LucidAPI
import StructuralSchema
import YAML

/// One object after its own checks: who it is, what the cluster would store, what was wrong.
struct CheckedObject {
    var object: ManifestObject
    var group: String
    var kind: String
    /// nil for cluster-scoped kinds.
    var namespace: String?
    var name: String?
    /// Defaulted (custom kinds) as the cluster would store it.
    var value: JSON
    /// No structural errors: the spec has the shape the reference checks read.
    var wellFormed: Bool
    var problems: [Problem] = []

    /// `TrafficPolicy lucid-payment/name`.
    var title: String { "\(kind) \(namespace.map { "\($0)/" } ?? "")\(name ?? "")" }
    /// `file:document`.
    var location: String { "\(object.file):\(object.document)" }

    func problem(_ field: String?, _ severity: Problem.Severity, _ check: Problem.Check, _ message: String) -> Problem {
        // A problem with a whole item of a List is at the item's path.
        let path = field.map(object.field) ?? (object.prefix.isEmpty ? nil : object.prefix)
        return Problem(file: object.file, document: object.document, field: path, severity: severity, check: check,
                message: message, kind: kind.isEmpty ? nil : kind, namespace: namespace, name: name)
    }

    mutating func add(_ field: String?, _ severity: Problem.Severity, _ check: Problem.Check, _ message: String) {
        problems.append(problem(field, severity, check, message))
    }

    mutating func add(_ error: FieldError, _ check: Problem.Check) {
        add(error.field, .error, check, error.detail)
    }
}

/// The kinds the checks know: the Lucid CRDs and the CRDs among the manifests.
struct KindRegistry {
    var custom: [String: CustomKind] = [:]

    init(manifestCRDs: [JSON]) {
        for kind in manifestCRDs.flatMap(CustomKind.from(crd:)) { custom["\(kind.apiVersion) \(kind.kind)"] = kind }
        // The Lucid kinds are this binary's own: a CRD in the manifests does not replace them.
        for kind in CustomKind.lucid { custom["\(kind.apiVersion) \(kind.kind)"] = kind }
    }

    func kind(_ apiVersion: String, _ kind: String) -> CustomKind? { custom["\(apiVersion) \(kind)"] }

    var groups: Set<String> { Set(custom.values.map(\.group)) }

    /// Every apiVersion serving a kind of this name, in any group.
    func apiVersions(serving kind: String) -> [String] {
        let builtin = BuiltinKinds.served.filter { $0.value[kind] != nil }.map(\.key)
        return (builtin + custom.values.filter { $0.kind == kind }.map(\.apiVersion)).sorted()
    }

    /// The kinds served in a group, any version.
    func kinds(in group: String) -> [String] {
        let builtin = BuiltinKinds.served.filter { BuiltinKinds.group(of: $0.key) == group }.flatMap(\.value.keys)
        return Set(builtin + custom.values.filter { $0.group == group }.map(\.kind)).sorted()
    }
}

/// The checks of one object on its own: the envelope, its kind, then the kind's rules.
enum ObjectChecks {
    static func check(_ object: ManifestObject, kinds: KindRegistry, defaultNamespace: String) -> CheckedObject? {
        let value = object.value
        var checked = CheckedObject(object: object, group: "", kind: "", namespace: nil, name: nil, value: value, wellFormed: false)
        guard value.objectValue != nil else {
            checked.add(nil, .error, .object, "not a Kubernetes object: a document must be a mapping with apiVersion, kind and metadata, not a \(value.typeName)")
            return checked
        }
        let apiVersion = value["apiVersion"]?.stringValue ?? ""
        let kind = value["kind"]?.stringValue ?? ""
        checked.kind = kind
        checked.group = BuiltinKinds.group(of: apiVersion)
        checked.name = value[path: "metadata", "name"]?.stringValue
        if BuiltinKinds.clientSideGroups.contains(checked.group) { return nil }

        for (field, text) in [("apiVersion", apiVersion), ("kind", kind)] where text.isEmpty {
            if let v = value[field], v != .null {
                checked.add(field, .error, .object, "Invalid value: \(v.jsonText): \(field) must be a string")
            } else {
                checked.add(field, .error, .object, "Required value: \(field) not set")
            }
        }

        let resolved: Resolved
        if apiVersion.isEmpty || kind.isEmpty {
            resolved = .unknown
        } else if let custom = kinds.kind(apiVersion, kind) {
            resolved = .custom(custom)
        } else if let namespaced = BuiltinKinds.served[apiVersion]?[kind] {
            resolved = .builtin(namespaced: namespaced)
        } else if CustomKind.lucidGroups.contains(checked.group) || BuiltinKinds.groups.contains(checked.group) || kinds.groups.contains(checked.group) {
            noMatch(&checked, apiVersion, kinds)
            resolved = .unknown
        } else {
            checked.add(nil, .warning, .kind,
                        "not checked: no schema for \(kind) in \(apiVersion) (neither a Lucid kind, a built-in kind, nor defined by a CustomResourceDefinition among the manifests)")
            resolved = .unknown
        }

        let namespaced: Bool
        switch resolved {
        case .custom(let custom): namespaced = custom.namespaced
        case .builtin(let n): namespaced = n
        case .unknown: namespaced = value[path: "metadata", "namespace"] != nil
        }
        if namespaced { checked.namespace = value[path: "metadata", "namespace"]?.stringValue ?? defaultNamespace }
        Metadata.check(&checked, nameRule: nameRule(kind: kind, group: checked.group))

        switch resolved {
        case .custom(let custom):
            checkCustom(&checked, custom)
        case .builtin:
            let errors = BuiltinChecks.errors(apiVersion: apiVersion, kind: kind, value)
            for error in errors { checked.add(error, .schema) }
            checked.wellFormed = errors.isEmpty
        case .unknown:
            break
        }
        return checked
    }

    enum Resolved {
        case custom(CustomKind)
        case builtin(namespaced: Bool)
        case unknown
    }

    /// A kind or version that the group does not serve: the wrong apiVersion for a kind served
    /// elsewhere, or no such kind.
    private static func noMatch(_ checked: inout CheckedObject, _ apiVersion: String, _ kinds: KindRegistry) {
        let kind = checked.kind
        let serving = kinds.apiVersions(serving: kind)
        if serving.isEmpty {
            let groupName = checked.group.isEmpty ? "the core group (v1)" : checked.group
            checked.add("kind", .error, .kind,
                        "Unsupported value: \"\(kind)\": no matches for kind \"\(kind)\" in version \"\(apiVersion)\"; the kinds of \(groupName) are \(kinds.kinds(in: checked.group).joined(separator: ", "))")
        } else {
            checked.add("apiVersion", .error, .kind,
                        "Unsupported value: \"\(apiVersion)\": no matches for kind \"\(kind)\" in version \"\(apiVersion)\"; \(kind) is served as \(serving.joined(separator: " and "))")
        }
    }

    /// The API server's name rule per kind: DNS-1035 labels for Services, DNS-1123 labels for
    /// Namespaces, DNS-1123 subdomains for the rest (custom resources included).
    static func nameRule(kind: String, group: String) -> (String) -> String? {
        switch (group, kind) {
        case ("", "Service"): Names.dns1035Label
        case ("", "Namespace"): Names.dns1123Label
        default: Names.dns1123Subdomain
        }
    }

    /// A custom resource: admission (schema, CEL), then the kind's semantic rules where the
    /// operator has them. A semantic error on a field already reported adds nothing.
    private static func checkCustom(_ checked: inout CheckedObject, _ custom: CustomKind) {
        let outcome = Admission.admit(checked.object.value, as: custom)
        checked.value = outcome.admitted
        for error in outcome.schemaErrors { checked.add(error, .schema) }
        for error in outcome.ruleErrors { checked.add(error, .rule) }
        if outcome.rulesSkipped { checked.add(nil, .warning, .rule, Admission.rulesSkippedMessage) }
        let structural = outcome.schemaErrors.filter { $0.kind != .unknown }
        checked.wellFormed = structural.isEmpty
        guard structural.isEmpty, let semantic = custom.semantic, let spec = outcome.admitted["spec"] else { return }
        guard let errors = semantic(spec) else {
            checked.add("spec", .error, .semantic, "Invalid value: the spec does not decode as a \(custom.kind) spec")
            return
        }
        var reported = Set((outcome.schemaErrors + outcome.ruleErrors).map(\.field))
        for error in errors where reported.insert(error.field).inserted { checked.add(error, .semantic) }
    }
}
