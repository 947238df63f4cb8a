import StructuralSchema
import YAML

/// OpenAPI v3 documents per group-version, as `/openapi/v3/<gv>` serves them: component schemas
/// for every kind (built-ins from their descriptors, custom resources from the CRD's schema),
/// each top-level kind tagged with `x-kubernetes-group-version-kind`, the patch strategy and
/// merge keys kubectl's strategic merge reads, and a PATCH/PUT operation per kind that takes
/// `fieldValidation` (from which kubectl learns that the server validates fields itself).
enum OpenAPI {
    static let objectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

    static func document(_ groupVersion: String, _ types: [ResourceType]) -> JSON {
        let served = types.filter { $0.groupVersion == groupVersion }.sorted { $0.kind < $1.kind }
        var schemas = JSONObject()
        var pending: [String] = []
        for t in served {
            let gvk: JSON = [["group": .string(t.group), "kind": .string(t.kind), "version": .string(t.version)]]
            if let schema = t.schema {
                var json = customResource(schema, kind: t.kind)
                json["x-kubernetes-group-version-kind"] = gvk
                schemas[name(t)] = json
                pending.append(objectMeta)
            } else if let message = KubeTypes.message(apiVersion: t.apiVersion, kind: t.kind) {
                var json = self.schema(message, &pending)
                json["x-kubernetes-group-version-kind"] = gvk
                schemas[message.name] = json
            }
        }
        while let next = pending.popLast() {
            guard schemas[next] == nil else { continue }
            if let special = special(next) { schemas[next] = special; continue }
            guard let message = KubeTypes.messages[next] else { continue }
            schemas[next] = schema(message, &pending)
        }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.32.0"],
                "paths": .object(paths(served)), "components": ["schemas": .object(schemas)]]
    }

    /// `io.lucid.mesh.v1alpha1.TrafficPolicy`: the group reversed, as the real server names CRD schemas.
    static func name(_ t: ResourceType) -> String {
        if t.crdName == nil, let message = KubeTypes.message(apiVersion: t.apiVersion, kind: t.kind) { return message.name }
        return (t.group.split(separator: ".").reversed().map(String.init) + [t.version, t.kind]).joined(separator: ".")
    }

    /// A CRD's schema with the root fields every object has.
    static func customResource(_ schema: Schema, kind: String) -> JSON {
        var json = schema.json
        var properties = json["properties"]?.objectValue ?? JSONObject()
        var root = JSONObject()
        root["apiVersion"] = properties["apiVersion"] ?? ["type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."]
        root["kind"] = properties["kind"] ?? ["type": "string", "description": "Kind is a string value representing the REST resource this object represents."]
        root["metadata"] = ["allOf": [["$ref": .string("#/components/schemas/\(objectMeta)")]],
                            "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"]
        for (k, v) in properties where root[k] == nil { root[k] = v }
        properties = root
        json["properties"] = .object(properties)
        if json["type"] == nil { json["type"] = "object" }
        return json
    }

    static func schema(_ message: KubeMessage, _ pending: inout [String]) -> JSON {
        var properties = JSONObject()
        var required: [JSON] = []
        func add(_ fields: [KubeField]) {
            for f in fields {
                if f.inline, let inner = KubeTypes.messages[f.type] { add(inner.fields); continue }
                properties[f.name] = field(f, &pending)
                if !f.omitEmpty && !f.pointer && f.shape == .single && !f.isMessage { required.append(.string(f.name)) }
            }
        }
        add(message.fields)
        var json: JSON = ["type": "object", "description": .string(message.doc), "properties": .object(properties)]
        if !required.isEmpty { json["required"] = .array(required) }
        if message.atomic { json["x-kubernetes-map-type"] = "atomic" }
        return json
    }

    static func field(_ f: KubeField, _ pending: inout [String]) -> JSON {
        func element() -> JSON {
            switch f.type {
            case "string": return ["type": "string", "default": ""]
            case "bytes": return ["type": "string", "format": "byte"]
            case "bool": return ["type": "boolean", "default": false]
            case "int32": return ["type": "integer", "format": "int32", "default": 0]
            case "int64": return ["type": "integer", "format": "int64", "default": 0]
            case "double": return ["type": "number", "format": "double", "default": 0]
            default:
                pending.append(f.type)
                return ["allOf": [["$ref": .string("#/components/schemas/\(f.type)")]], "default": [:]]
            }
        }
        var json: JSON
        switch f.shape {
        case .single:
            json = element()
            if f.pointer || f.omitEmpty { json["default"] = nil }
        case .list:
            var items = element()
            items["default"] = f.isMessage ? [:] : nil
            json = ["type": "array", "items": items]
            if let t = f.listType { json["x-kubernetes-list-type"] = .string(t) }
            if !f.listMapKeys.isEmpty { json["x-kubernetes-list-map-keys"] = .array(f.listMapKeys.map { .string($0) }) }
        case .map:
            var values = element()
            values["default"] = nil
            json = ["type": "object", "additionalProperties": values]
            if f.atomicMap { json["x-kubernetes-map-type"] = "atomic" }
        }
        if let s = f.patchStrategy { json["x-kubernetes-patch-strategy"] = .string(s) }
        if let k = f.patchMergeKey { json["x-kubernetes-patch-merge-key"] = .string(k) }
        if !f.doc.isEmpty { json["description"] = .string(f.doc) }
        return json
    }

    static func special(_ name: String) -> JSON? {
        switch name {
        case KubeTypes.time: ["type": "string", "format": "date-time", "description": "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON."]
        case KubeTypes.microTime: ["type": "string", "format": "date-time", "description": "MicroTime is version of Time with microsecond level precision."]
        case KubeTypes.duration: ["type": "string", "description": "Duration is a wrapper around time.Duration which supports correct marshaling to YAML and JSON."]
        case KubeTypes.intOrString: ["type": "string", "format": "int-or-string", "description": "IntOrString is a type that can hold an int32 or a string."]
        case KubeTypes.quantity: ["type": "string", "description": "Quantity is a fixed-point representation of a number."]
        case KubeTypes.rawExtension: ["type": "object", "description": "RawExtension is used to hold extensions in external versions."]
        case KubeTypes.fieldsV1: ["type": "object", "description": "FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format."]
        default: nil
        }
    }

    static func paths(_ served: [ResourceType]) -> JSONObject {
        var paths = JSONObject()
        for t in served {
            let base = t.group.isEmpty ? "/api/\(t.version)" : "/apis/\(t.group)/\(t.version)"
            let path = t.namespaced ? "\(base)/namespaces/{namespace}/\(t.resource)/{name}" : "\(base)/\(t.resource)/{name}"
            let gvk: JSON = ["group": .string(t.group), "version": .string(t.version), "kind": .string(t.kind)]
            let parameters: [JSON] = [
                ["name": "fieldValidation", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                ["name": "fieldManager", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
                ["name": "dryRun", "in": "query", "schema": ["type": "string", "uniqueItems": true]],
            ]
            let ref: JSON = ["$ref": .string("#/components/schemas/\(name(t))")]
            let ok: JSON = ["200": ["description": "OK", "content": ["application/json": ["schema": ref]]]]
            paths[path] = [
                "get": ["operationId": .string("read\(t.kind)"), "x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "get", "responses": ok],
                "patch": ["operationId": .string("patch\(t.kind)"), "x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "patch",
                          "parameters": .array(parameters), "responses": ok],
                "put": ["operationId": .string("replace\(t.kind)"), "x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "put",
                        "parameters": .array(parameters), "responses": ok],
            ]
        }
        return paths
    }
}
