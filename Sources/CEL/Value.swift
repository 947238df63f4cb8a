import YAML

/// A CEL value at run time. Kubernetes objects are maps with string keys (field selection is a
/// key lookup, `has()` a presence test), as in the API server's CEL.
public indirect enum CELValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case list([CELValue])
    case map(CELMap)
    /// A duration in nanoseconds.
    case duration(Int64)
    /// A timestamp: seconds since the epoch and nanoseconds.
    case timestamp(Int64, Int32)
    case type(String)

    /// The CEL type name, as `type(x)` and error messages spell it.
    public var typeName: String {
        switch self {
        case .null: "null_type"
        case .bool: "bool"
        case .int: "int"
        case .uint: "uint"
        case .double: "double"
        case .string: "string"
        case .bytes: "bytes"
        case .list: "list"
        case .map: "map"
        case .duration: "google.protobuf.Duration"
        case .timestamp: "google.protobuf.Timestamp"
        case .type: "type"
        }
    }

    /// A JSON value as CEL sees it, typed by `type`: integers stay `int` unless the schema says
    /// `double`, objects become maps.
    public init(json: JSON, type: CELType = .dyn) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = type == .double ? .double(Double(i)) : .int(i)
        case .double(let d):
            if type == .int, d.rounded() == d, abs(d) < 9.2e18 { self = .int(Int64(d)) } else { self = .double(d) }
        case .string(let s): self = .string(s)
        case .array(let items):
            let element: CELType = if case .list(let e) = type { e } else { .dyn }
            self = .list(items.map { CELValue(json: $0, type: element) })
        case .object(let o):
            var map = CELMap()
            for (k, v) in o { map[.string(k)] = CELValue(json: v, type: type.fieldType(k) ?? .dyn) }
            self = .map(map)
        }
    }

    /// The value as JSON (for messages and tests).
    public var json: JSON {
        switch self {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .uint(let u): u <= UInt64(Int64.max) ? .int(Int64(u)) : .double(Double(u))
        case .double(let d): .double(d)
        case .string(let s): .string(s)
        case .bytes(let b): .string(String(decoding: b, as: UTF8.self))
        case .list(let items): .array(items.map(\.json))
        case .map(let m):
            .object({ var o = JSONObject(); for (k, v) in m.entries { o[k.displayKey] = v.json }; return o }())
        case .duration, .timestamp, .type: .string(display)
        }
    }

    var displayKey: String { if case .string(let s) = self { s } else { display } }

    /// A short rendering, for error messages.
    public var display: String {
        switch self {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .uint(let u): "\(u)u"
        case .double(let d): String(d)
        case .string(let s): "\"\(s)\""
        case .bytes(let b): "b\"\(String(decoding: b, as: UTF8.self))\""
        case .list(let items): "[" + items.map(\.display).joined(separator: ", ") + "]"
        case .map(let m): "{" + m.entries.map { "\($0.key.display): \($0.value.display)" }.joined(separator: ", ") + "}"
        case .duration(let n): "duration(\"\(Double(n) / 1e9)s\")"
        case .timestamp(let s, _): "timestamp(\(s))"
        case .type(let t): t
        }
    }
}

/// A CEL map: insertion-ordered entries with hashed lookup.
public struct CELMap: Sendable, Hashable {
    public private(set) var entries: [(key: CELValue, value: CELValue)] = []
    private var index: [CELValue: Int] = [:]

    public init() {}

    public subscript(key: CELValue) -> CELValue? {
        get { index[Self.normal(key)].map { entries[$0].value } }
        set {
            let k = Self.normal(key)
            if let i = index[k] {
                if let newValue { entries[i].value = newValue } else {
                    entries.remove(at: i)
                    index = [:]
                    for (j, e) in entries.enumerated() { index[Self.normal(e.key)] = j }
                }
            } else if let newValue {
                index[k] = entries.count
                entries.append((key, newValue))
            }
        }
    }

    public var count: Int { entries.count }

    /// Numeric keys compare by value across int and uint (`m[1u]` finds key `1`).
    private static func normal(_ key: CELValue) -> CELValue {
        if case .uint(let u) = key, u <= UInt64(Int64.max) { return .int(Int64(u)) }
        return key
    }

    public static func == (a: CELMap, b: CELMap) -> Bool {
        guard a.count == b.count else { return false }
        for (k, v) in a.entries { guard let w = b[k], CELRuntime.equal(v, w) else { return false } }
        return true
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(count) }
}

/// A CEL type, as the checker sees it. `object` is a Kubernetes schema object: known fields,
/// and whether unknown ones may appear (`x-kubernetes-preserve-unknown-fields`).
public indirect enum CELType: Sendable, Equatable, CustomStringConvertible {
    case dyn
    case null
    case bool
    case int
    case uint
    case double
    case string
    case bytes
    case duration
    case timestamp
    case type
    case list(CELType)
    case map(CELType, CELType)
    case object(name: String, fields: [String: CELType], open: Bool)

    /// The type of field `name` of an object (or the value type of a map), nil if it has none.
    public func fieldType(_ name: String) -> CELType? {
        switch self {
        case .dyn: .dyn
        case .object(_, let fields, let open): fields[name] ?? (open ? .dyn : nil)
        case .map(_, let v): v
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .dyn: "dyn"
        case .null: "null_type"
        case .bool: "bool"
        case .int: "int"
        case .uint: "uint"
        case .double: "double"
        case .string: "string"
        case .bytes: "bytes"
        case .duration: "google.protobuf.Duration"
        case .timestamp: "google.protobuf.Timestamp"
        case .type: "type"
        case .list(let e): "list(\(e))"
        case .map(let k, let v): "map(\(k), \(v))"
        case .object(let name, _, _): name
        }
    }

    /// Whether a value of type `other` may stand where this type is expected.
    func accepts(_ other: CELType) -> Bool {
        switch (self, other) {
        case (.dyn, _), (_, .dyn): true
        case (.list(let a), .list(let b)): a.accepts(b)
        case (.map(let ak, let av), .map(let bk, let bv)): ak.accepts(bk) && av.accepts(bv)
        case (.object, .object), (.object, .map), (.map, .object): true
        case (.null, .object), (.object, .null), (.null, .map), (.map, .null), (.null, .list), (.list, .null): true
        default: self == other
        }
    }

    var isNumeric: Bool { self == .int || self == .uint || self == .double }
}
