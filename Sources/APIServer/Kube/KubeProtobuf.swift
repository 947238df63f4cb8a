import Foundation
import YAML

/// A body that is not the protobuf it claims to be.
struct ProtobufError: Error, Sendable, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Reads `application/vnd.kubernetes.protobuf` bodies (what kubectl and client-go ≥ 1.32 send
/// for built-in kinds) into the JSON form Go's encoder would give the same object.
///
/// Table-driven: the messages are `KubeTypes`' descriptors, generated from k8s.io/api's Go types,
/// so one table gives field numbers, JSON names and Go's omitempty/inline rules.
enum KubeProtobuf {
    /// `k8s\0`, before the `runtime.Unknown` envelope.
    static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

    /// An enveloped object: magic, then `runtime.Unknown{typeMeta, raw}`; `raw` is the message
    /// of the kind `typeMeta` names.
    static func decodeObject(_ bytes: [UInt8]) throws(ProtobufError) -> JSON {
        guard bytes.count >= 4, Array(bytes[0..<4]) == magic else {
            throw ProtobufError(message: "the body does not start with the Kubernetes protobuf magic number")
        }
        var reader = WireReader(bytes: bytes[4...])
        var apiVersion = "", kind = ""
        var raw: ArraySlice<UInt8> = []
        while let (number, wire) = try reader.tag() {
            switch (number, wire) {
            case (1, 2):
                var meta = WireReader(bytes: try reader.lengthDelimited())
                while let (n, w) = try meta.tag() {
                    if n == 1, w == 2 { apiVersion = try meta.string() } else if n == 2, w == 2 { kind = try meta.string() } else { try meta.skip(w) }
                }
            case (2, 2): raw = try reader.lengthDelimited()
            default: try reader.skip(wire)
            }
        }
        guard let message = KubeTypes.message(apiVersion: apiVersion, kind: kind) else {
            throw ProtobufError(message: "no protobuf form is known for \(apiVersion.isEmpty ? "<no apiVersion>" : apiVersion), Kind=\(kind)")
        }
        var object = try decode(raw, message.name)
        guard case .object(let fields) = object else { return object }
        var ordered = JSONObject()
        ordered["kind"] = .string(kind)
        ordered["apiVersion"] = .string(apiVersion)
        for (k, v) in fields { ordered[k] = v }
        object = .object(ordered)
        return object
    }

    /// One message's bytes, as JSON.
    static func decode(_ bytes: ArraySlice<UInt8>, _ messageName: String) throws(ProtobufError) -> JSON {
        if KubeTypes.special.contains(messageName) { return try special(bytes, messageName) }
        guard let message = KubeTypes.messages[messageName] else { throw ProtobufError(message: "unknown message \(messageName)") }
        var values: [Int: JSON] = [:]
        var lists: [Int: [JSON]] = [:]
        var maps: [Int: JSONObject] = [:]
        var reader = WireReader(bytes: bytes)
        while let (number, wire) = try reader.tag() {
            guard let index = message.byNumber[number] else { try reader.skip(wire); continue }
            let field = message.fields[index]
            switch field.shape {
            case .single:
                values[index] = try scalar(&reader, wire, field.type, field: field.name)
            case .list:
                if wire == 2, ["bool", "int32", "int64", "double"].contains(field.type) {
                    var packed = WireReader(bytes: try reader.lengthDelimited())
                    while !packed.atEnd { lists[index, default: []].append(try scalar(&packed, field.type == "double" ? 1 : 0, field.type, field: field.name)) }
                } else {
                    lists[index, default: []].append(try scalar(&reader, wire, field.type, field: field.name))
                }
            case .map:
                guard wire == 2 else { throw ProtobufError(message: "field \(field.name): a map entry must be length-delimited") }
                var entry = WireReader(bytes: try reader.lengthDelimited())
                var key = "", value: JSON = field.isMessage ? try decode([], field.type) : zero(field.type)
                while let (n, w) = try entry.tag() {
                    if n == 1 { key = try entry.string() } else if n == 2 { value = try scalar(&entry, w, field.type, field: field.name) } else { try entry.skip(w) }
                }
                maps[index, default: JSONObject()][key] = value
            }
        }
        // Go's encoder: fields in declaration order; omitempty drops zero scalars of value types.
        var out = JSONObject()
        for (i, field) in message.fields.enumerated() {
            let value: JSON
            switch field.shape {
            case .single:
                guard let v = values[i] else { continue }
                if field.inline, case .object(let members) = v {
                    for (k, m) in members { out[k] = m }
                    continue
                }
                if !field.pointer && field.omitEmpty && isZero(v, field.type) { continue }
                value = v
            case .list:
                guard let items = lists[i] else { continue }
                value = .array(items)
            case .map:
                guard let entries = maps[i] else { continue }
                value = .object(entries)
            }
            out[field.name] = value
        }
        return .object(out)
    }

    private static func scalar(_ reader: inout WireReader, _ wire: Int, _ type: String, field: String) throws(ProtobufError) -> JSON {
        func expect(_ w: Int) throws(ProtobufError) {
            guard wire == w else { throw ProtobufError(message: "field \(field): wire type \(wire), expected \(w) for \(type)") }
        }
        switch type {
        case "string":
            try expect(2)
            return .string(try reader.string())
        case "bytes":
            try expect(2)
            return .string(Data(try reader.lengthDelimited()).base64EncodedString())
        case "bool":
            try expect(0)
            return .bool(try reader.varint() != 0)
        case "int32":
            try expect(0)
            return .int(Int64(Int32(truncatingIfNeeded: try reader.varint())))
        case "int64":
            try expect(0)
            return .int(Int64(bitPattern: try reader.varint()))
        case "double":
            try expect(1)
            return .double(Double(bitPattern: try reader.fixed64()))
        default:
            try expect(2)
            return try decode(try reader.lengthDelimited(), type)
        }
    }

    private static func zero(_ type: String) -> JSON {
        switch type {
        case "string", "bytes": ""
        case "bool": false
        case "int32", "int64": 0
        case "double": 0.0
        default: .null
        }
    }

    private static func isZero(_ value: JSON, _ type: String) -> Bool {
        switch value {
        case .string(let s): s.isEmpty
        case .bool(let b): !b
        case .int(let i): i == 0
        case .double(let d): d == 0
        case .null: true
        default: false
        }
    }

    /// Messages with a JSON form of their own: times, durations, int-or-string, quantities, raw JSON.
    private static func special(_ bytes: ArraySlice<UInt8>, _ name: String) throws(ProtobufError) -> JSON {
        var reader = WireReader(bytes: bytes)
        var ints: [Int: UInt64] = [:]
        var strings: [Int: ArraySlice<UInt8>] = [:]
        while let (n, w) = try reader.tag() {
            switch w {
            case 0: ints[n] = try reader.varint()
            case 2: strings[n] = try reader.lengthDelimited()
            default: try reader.skip(w)
            }
        }
        switch name {
        case KubeTypes.time, KubeTypes.microTime:
            let seconds = Int64(bitPattern: ints[1] ?? 0), nanos = Int64(Int32(truncatingIfNeeded: ints[2] ?? 0))
            if seconds == 0 && nanos == 0 { return .null }
            return .string(Timestamp.rfc3339(seconds: seconds, micros: name == KubeTypes.microTime ? Int(nanos / 1000) : nil))
        case KubeTypes.duration:
            return .string(goDuration(Int64(bitPattern: ints[1] ?? 0)))
        case KubeTypes.intOrString:
            if ints[1] == 1 { return .string(String(decoding: strings[3] ?? [], as: UTF8.self)) }
            return .int(Int64(Int32(truncatingIfNeeded: ints[2] ?? 0)))
        case KubeTypes.quantity:
            return .string(String(decoding: strings[1] ?? [], as: UTF8.self))
        default:  // RawExtension, FieldsV1: embedded JSON
            guard let raw = strings[1], !raw.isEmpty else { return .null }
            do { return try JSON.parse(raw) } catch { throw ProtobufError(message: "embedded JSON in \(name): \(error)") }
        }
    }

    /// Go's `time.Duration.String()`: `1h2m3s`, `1.5s`, `0s`.
    static func goDuration(_ nanos: Int64) -> String {
        if nanos == 0 { return "0s" }
        let negative = nanos < 0
        var n = nanos.magnitude
        var out = ""
        if n < 1_000_000_000 {
            let (unit, size): (String, UInt64) = n < 1000 ? ("ns", 1) : n < 1_000_000 ? ("µs", 1000) : ("ms", 1_000_000)
            out = fraction(n, size) + unit
        } else {
            let h = n / 3_600_000_000_000
            n -= h * 3_600_000_000_000
            let m = n / 60_000_000_000
            n -= m * 60_000_000_000
            out = (h > 0 ? "\(h)h" : "") + (h > 0 || m > 0 ? "\(m)m" : "") + fraction(n, 1_000_000_000) + "s"
        }
        return negative ? "-" + out : out
    }

    private static func fraction(_ value: UInt64, _ unit: UInt64) -> String {
        let whole = value / unit, rest = value % unit
        guard rest > 0 else { return String(whole) }
        var digits = String(rest)
        digits = String(repeating: "0", count: String(unit).count - 1 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}

/// Protocol-buffer wire format: tags, varints, fixed64, length-delimited runs.
struct WireReader {
    var bytes: ArraySlice<UInt8>
    var index: Int

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    var atEnd: Bool { index >= bytes.endIndex }

    mutating func tag() throws(ProtobufError) -> (Int, Int)? {
        guard !atEnd else { return nil }
        let key = try varint()
        let number = Int(truncatingIfNeeded: key >> 3)
        guard number > 0 else { throw ProtobufError(message: "field number 0 at byte \(index - bytes.startIndex)") }
        return (number, Int(key & 7))
    }

    mutating func varint() throws(ProtobufError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard index < bytes.endIndex else { throw ProtobufError(message: "truncated varint") }
            let b = bytes[index]
            index += 1
            guard shift < 64 else { throw ProtobufError(message: "varint longer than 10 bytes") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func fixed64() throws(ProtobufError) -> UInt64 {
        guard bytes.endIndex - index >= 8 else { throw ProtobufError(message: "truncated fixed64") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[index + i]) << (8 * UInt64(i)) }
        index += 8
        return v
    }

    mutating func lengthDelimited() throws(ProtobufError) -> ArraySlice<UInt8> {
        let length = try varint()
        guard length <= UInt64(bytes.endIndex - index) else { throw ProtobufError(message: "length \(length) runs past the end of the body") }
        let run = bytes[index..<index + Int(length)]
        index += Int(length)
        return run
    }

    mutating func string() throws(ProtobufError) -> String {
        let run = try lengthDelimited()
        guard let s = String(validating: run, as: UTF8.self) else { throw ProtobufError(message: "a string field is not UTF-8") }
        return s
    }

    mutating func skip(_ wire: Int) throws(ProtobufError) {
        switch wire {
        case 0: _ = try varint()
        case 1: _ = try fixed64()
        case 2: _ = try lengthDelimited()
        case 5:
            guard bytes.endIndex - index >= 4 else { throw ProtobufError(message: "truncated fixed32") }
            index += 4
        default: throw ProtobufError(message: "unsupported wire type \(wire)")
        }
    }
}
