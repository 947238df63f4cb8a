import YAML

/// The objects a mesh Service's sidecar is delivered in, as the operator writes them (and
/// `render` prints them): the ConfigMap `<service>-sidecar` and, when policies need API keys,
/// the Secret `<service>-sidecar-keys`. Both are owned by the Service (garbage-collected with
/// it) and labelled `app.kubernetes.io/managed-by: lucid-operator` and `mesh.lucid.io/service`.
public enum SidecarObjects {
    public static let managedByLabel = "app.kubernetes.io/managed-by"
    public static let managedBy = "lucid-operator"
    public static let serviceLabel = "mesh.lucid.io/service"
    public static let hashAnnotation = "mesh.lucid.io/config-hash"

    /// The labels every owned object of a Service carries.
    public static func labels(_ service: String) -> [String: String] { [managedByLabel: managedBy, serviceLabel: service] }

    /// The ConfigMap of a rendered sidecar: its files, the hash of them as an annotation.
    public static func configMap(_ service: MeshService, _ config: SidecarConfig) -> JSON {
        var data = JSONObject()
        for name in config.files.keys.sorted() { data[name] = .string(config.files[name] ?? "") }
        return ["apiVersion": "v1", "kind": "ConfigMap",
                "metadata": metadata(service, name: service.sidecarName, annotations: [hashAnnotation: config.hash]),
                "data": .object(data)]
    }

    /// The Secret holding the sidecar's key material (the API-key filters' files), base64 as
    /// the API has it; nil when there is none.
    public static func keysSecret(_ service: MeshService, _ files: [String: String]) -> JSON? {
        guard !files.isEmpty else { return nil }
        var data = JSONObject()
        for name in files.keys.sorted() { data[name] = .string(Base64.encode(Array((files[name] ?? "").utf8))) }
        return ["apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": metadata(service, name: InboundRenderer.keysSecretName(service.name), annotations: [:]),
                "data": .object(data)]
    }

    static func metadata(_ service: MeshService, name: String, annotations: [String: String]) -> JSON {
        var meta: JSON = ["name": .string(name), "namespace": .string(service.namespace), "labels": strings(labels(service.name))]
        if !annotations.isEmpty { meta["annotations"] = strings(annotations) }
        if !service.uid.isEmpty { meta["ownerReferences"] = [CertificateBuilder.ownerReference(service)] }
        return meta
    }

    static func strings(_ map: [String: String]) -> JSON {
        var o = JSONObject()
        for key in map.keys.sorted() { o[key] = .string(map[key] ?? "") }
        return .object(o)
    }
}

extension JSON {
    /// Whether every field `self` sets is in `other` with the same value (arrays item by item,
    /// same length): what the operator wrote is still there, whatever the API server added
    /// (defaults, status, metadata).
    /// Objects under a key in `exactly` must be equal, not only contained (a label selector
    /// with one label more selects other pods).
    public func isContained(in other: JSON?, exactly: Set<String> = ["matchLabels"]) -> Bool {
        guard let other else { return false }
        switch (self, other) {
        case (.object(let mine), .object(let theirs)):
            return mine.allSatisfy { entry in
                exactly.contains(entry.key) ? entry.value == theirs[entry.key] : entry.value.isContained(in: theirs[entry.key], exactly: exactly)
            }
        case (.array(let mine), .array(let theirs)):
            return mine.count == theirs.count && zip(mine, theirs).allSatisfy { $0.isContained(in: $1, exactly: exactly) }
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)):
            return Double(a) == b
        default:
            return self == other
        }
    }

    /// Indented JSON (two spaces), for people: `render -o json` and the files `render` prints.
    public var prettyText: String {
        var out = ""
        Self.pretty(self, indent: "", into: &out)
        return out
    }

    private static func pretty(_ value: JSON, indent: String, into out: inout String) {
        let inner = indent + "  "
        switch value {
        case .object(let o) where !o.isEmpty:
            out += "{\n"
            for (i, entry) in o.enumerated() {
                out += inner + JSON.string(entry.key).jsonText + ": "
                pretty(entry.value, indent: inner, into: &out)
                out += i == o.count - 1 ? "\n" : ",\n"
            }
            out += indent + "}"
        case .array(let a) where !a.isEmpty:
            out += "[\n"
            for (i, item) in a.enumerated() {
                out += inner
                pretty(item, indent: inner, into: &out)
                out += i == a.count - 1 ? "\n" : ",\n"
            }
            out += indent + "]"
        default:
            out += value.jsonText
        }
    }
}

extension Base64 {
    /// Standard base64 with padding, as the API encodes Secret data.
    static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
