import YAML

/// `metadata` as the API server checks it on every kind: a name (or generateName) in the kind's
/// syntax, a namespace that is a DNS label, labels and annotations as strings with valid keys.
enum Metadata {
    static func check(_ checked: inout CheckedObject, nameRule: (String) -> String?) {
        guard let metadata = checked.object.value["metadata"], metadata != .null else {
            checked.add("metadata.name", .error, .object, "Required value: name or generateName is required")
            return
        }
        guard let meta = metadata.objectValue else {
            checked.add("metadata", .error, .object, "Invalid value: \"\(metadata.typeName)\": metadata must be an object")
            return
        }
        switch meta["name"] {
        case nil, .null?:
            if meta["generateName"]?.stringValue == nil {
                checked.add("metadata.name", .error, .object, "Required value: name or generateName is required")
            }
        case .string(let name)?:
            if let problem = nameRule(name) { checked.add("metadata.name", .error, .object, "Invalid value: \"\(name)\": \(problem)") }
        case let other?:
            checked.add("metadata.name", .error, .object, "Invalid value: \(other.jsonText): metadata.name must be a string")
        }
        if let namespace = meta["namespace"], namespace != .null {
            if let name = namespace.stringValue {
                if let problem = Names.dns1123Label(name) { checked.add("metadata.namespace", .error, .object, "Invalid value: \"\(name)\": \(problem)") }
            } else {
                checked.add("metadata.namespace", .error, .object, "Invalid value: \(namespace.jsonText): metadata.namespace must be a string")
            }
        }
        stringMap(&checked, meta, "labels", valueRule: Names.labelValue)
        stringMap(&checked, meta, "annotations", valueRule: { _ in nil })
    }

    private static func stringMap(_ checked: inout CheckedObject, _ meta: JSONObject, _ key: String, valueRule: (String) -> String?) {
        guard let map = meta[key], map != .null else { return }
        let field = "metadata.\(key)"
        guard let entries = map.objectValue else {
            checked.add(field, .error, .object, "Invalid value: \"\(map.typeName)\": \(field) must be a map of strings")
            return
        }
        for (name, value) in entries {
            // A null reads as "" (Go's decoder leaves the string empty).
            let value: JSON = value == .null ? "" : value
            if let problem = Names.qualifiedName(name) { checked.add(field, .error, .object, "Invalid value: \"\(name)\": \(problem)") }
            guard let text = value.stringValue else {
                checked.add(field, .error, .object, "Invalid value: \(value.jsonText): the value of \(name) must be a string: quote it")
                continue
            }
            if let problem = valueRule(text) { checked.add(field, .error, .object, "Invalid value: \"\(text)\": \(problem)") }
        }
    }
}
