import Mesh
import StructuralSchema
import YAML

/// The few checks of built-in kinds: what the operator reads from them (a mesh Service's labels,
/// its ports; Secret entries), what the API server would refuse in those fields, and that a CRD
/// among the manifests compiles. Values of Secrets never appear in a message.
enum BuiltinChecks {
    static func errors(apiVersion: String, kind: String, _ object: JSON) -> [FieldError] {
        switch (apiVersion, kind) {
        case ("v1", "Service"): meshLabels(object) + servicePorts(object)
        case ("v1", "Secret"): entries(object, "data", base64: true) + entries(object, "stringData", base64: false)
        case ("v1", "ConfigMap"): entries(object, "data", base64: false) + entries(object, "binaryData", base64: true)
        case ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): customResourceDefinition(object)
        default: []
        }
    }

    /// A Service joins the mesh with both labels, the plane one of ops, chain, wallet; with one of
    /// them, or another plane, the operator leaves it out of the mesh.
    static func meshLabels(_ service: JSON) -> [FieldError] {
        let labels = service[path: "metadata", "labels"]?.objectValue ?? JSONObject()
        let cluster = labels[MeshService.clusterLabel], plane = labels[MeshService.planeLabel]
        guard cluster != nil || plane != nil else { return [] }
        let planes = MeshService.planes.sorted()
        var errors: [FieldError] = []
        let outside = "until then the operator leaves this Service out of the mesh"
        if cluster?.stringValue?.isEmpty != false {
            errors.append(FieldError(.required, "metadata.labels[\(MeshService.clusterLabel)]",
                                     "Required value: a mesh Service needs \(MeshService.clusterLabel) (its Lucid cluster) beside \(MeshService.planeLabel); \(outside)"))
        }
        if let plane, let value = plane.stringValue, !value.isEmpty {
            if !MeshService.planes.contains(value) {
                errors.append(FieldError(.notSupported, "metadata.labels[\(MeshService.planeLabel)]",
                                         "Unsupported value: \"\(value)\": supported values: \(planes.map { "\"\($0)\"" }.joined(separator: ", ")); \(outside)"))
            }
        } else {
            errors.append(FieldError(.required, "metadata.labels[\(MeshService.planeLabel)]",
                                     "Required value: a mesh Service needs \(MeshService.planeLabel) (\(planes.joined(separator: ", "))) beside \(MeshService.clusterLabel); \(outside)"))
        }
        return errors
    }

    static let serviceTypes = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    static let protocols = ["SCTP", "TCP", "UDP"]

    static func servicePorts(_ service: JSON) -> [FieldError] {
        var errors: [FieldError] = []
        let type = service[path: "spec", "type"]?.stringValue ?? "ClusterIP"
        if !serviceTypes.contains(type) {
            errors.append(FieldError(.notSupported, "spec.type", "Unsupported value: \"\(type)\": supported values: \(quoted(serviceTypes))"))
        }
        let ports = service[path: "spec", "ports"]?.arrayValue ?? []
        if ports.isEmpty && type != "ExternalName" && service[path: "spec", "clusterIP"]?.stringValue != "None" {
            errors.append(FieldError(.required, "spec.ports", "Required value"))
        }
        var names = Set<String>()
        for (i, port) in ports.enumerated() {
            let path = "spec.ports[\(i)]"
            if let number = port["port"] {
                if let problem = portNumber(number) { errors.append(FieldError(.invalid, "\(path).port", "Invalid value: \(number.jsonText): \(problem)")) }
            } else {
                errors.append(FieldError(.required, "\(path).port", "Required value"))
            }
            if let target = port["targetPort"], target != .null {
                if let name = target.stringValue {
                    if let problem = portName(name) { errors.append(FieldError(.invalid, "\(path).targetPort", "Invalid value: \"\(name)\": \(problem)")) }
                } else if let problem = portNumber(target) {
                    errors.append(FieldError(.invalid, "\(path).targetPort", "Invalid value: \(target.jsonText): \(problem)"))
                }
            }
            if let proto = port["protocol"]?.stringValue, !protocols.contains(proto) {
                errors.append(FieldError(.notSupported, "\(path).protocol", "Unsupported value: \"\(proto)\": supported values: \(quoted(protocols))"))
            }
            let name = port["name"]?.stringValue ?? ""
            if name.isEmpty && ports.count > 1 {
                errors.append(FieldError(.required, "\(path).name", "Required value"))
            } else if !name.isEmpty && !names.insert(name).inserted {
                errors.append(FieldError(.duplicate, "\(path).name", "Duplicate value: \"\(name)\""))
            }
        }
        return errors
    }

    static func portNumber(_ value: JSON) -> String? {
        guard case .int(let n) = value else { return "must be an integer" }
        return (1...65535).contains(n) ? nil : "must be between 1 and 65535, inclusive"
    }

    /// An IANA service name: at most 15 lower-case letters, digits and '-', with a letter, no
    /// '-' at either end or twice in a row.
    static func portName(_ s: String) -> String? {
        let bytes = Array(s.utf8)
        guard !bytes.isEmpty, bytes.count <= 15 else { return "must be no more than 15 characters" }
        let allowed = bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
        let letter = bytes.contains { $0 >= 0x61 && $0 <= 0x7A }
        guard allowed, letter, bytes.first != 0x2D, bytes.last != 0x2D, !s.contains("--") else {
            return "must contain only lower-case alphanumeric characters (a-z, 0-9) and '-', at least one letter, and no '-' at either end or next to another"
        }
        return nil
    }

    /// ConfigMap and Secret entries: valid keys, string values, base64 where the field says so.
    static func entries(_ object: JSON, _ field: String, base64: Bool) -> [FieldError] {
        guard let map = object[field], map != .null else { return [] }
        guard let entries = map.objectValue else {
            return [FieldError(.typeInvalid, field, "Invalid value: \"\(map.typeName)\": \(field) must be a map of strings")]
        }
        var errors: [FieldError] = []
        for (key, value) in entries {
            let path = "\(field)[\(key)]"
            let value: JSON = value == .null ? "" : value  // as Go's decoder reads it
            if let problem = Names.configKey(key) { errors.append(FieldError(.invalid, path, "Invalid value: \"\(key)\": \(problem)")) }
            guard let text = value.stringValue else {
                errors.append(FieldError(.typeInvalid, path, "Invalid value: \"\(value.typeName)\": the value must be a string: quote it"))
                continue
            }
            if base64 && !isBase64(text) {
                errors.append(FieldError(.invalid, path, "Invalid value: not base64 (value not shown)\(field == "data" && object["kind"] == "Secret" ? ": put plain text under stringData instead" : "")"))
            }
        }
        return errors
    }

    /// Standard base64 with padding, as Go's decoder reads it (line breaks ignored).
    static func isBase64(_ s: String) -> Bool {
        let bytes = s.utf8.filter { $0 != 0x0A && $0 != 0x0D }
        guard bytes.count % 4 == 0 else { return false }
        let padding = bytes.reversed().prefix { $0 == 0x3D }.count
        guard padding <= 2 else { return false }
        return bytes.dropLast(padding).allSatisfy {
            ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2B || $0 == 0x2F
        }
    }

    /// What makes the API server refuse a CRD outright: its names, and rules that do not compile.
    static func customResourceDefinition(_ crd: JSON) -> [FieldError] {
        var errors: [FieldError] = []
        let group = crd[path: "spec", "group"]?.stringValue ?? ""
        let plural = crd[path: "spec", "names", "plural"]?.stringValue ?? ""
        for (field, value) in [("spec.group", group), ("spec.names.plural", plural),
                               ("spec.names.kind", crd[path: "spec", "names", "kind"]?.stringValue ?? "")] where value.isEmpty {
            errors.append(FieldError(.required, field, "Required value"))
        }
        if let scope = crd[path: "spec", "scope"]?.stringValue, !["Namespaced", "Cluster"].contains(scope) {
            errors.append(FieldError(.notSupported, "spec.scope", "Unsupported value: \"\(scope)\": supported values: \"Cluster\", \"Namespaced\""))
        }
        if !group.isEmpty, !plural.isEmpty, let name = crd[path: "metadata", "name"]?.stringValue, name != "\(plural).\(group)" {
            errors.append(FieldError(.invalid, "metadata.name", "Invalid value: \"\(name)\": must be spec.names.plural+\".\"+spec.group"))
        }
        let versions = crd[path: "spec", "versions"]?.arrayValue ?? []
        if versions.isEmpty { errors.append(FieldError(.required, "spec.versions", "Required value: must have exactly one version marked as storage version")) }
        for (i, version) in versions.enumerated() {
            guard let schema = version[path: "schema", "openAPIV3Schema"], schema.objectValue != nil else { continue }
            errors += Schema(json: schema).ruleErrors(at: "spec.versions[\(i)].schema.openAPIV3Schema")
        }
        return errors
    }

    static func quoted(_ values: [String]) -> String { values.map { "\"\($0)\"" }.joined(separator: ", ") }
}
