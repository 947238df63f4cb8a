/// The few protobuf primitives `Transaction.raw` needs, written and read by hand so the bytes
/// are exactly what java-tron hashes.
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func tag(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    /// int64/enum field; zero is the default and is not written (proto3).
    mutating func int(_ field: Int, _ value: Int64) {
        guard value != 0 else { return }
        tag(field, 0)
        varint(UInt64(bitPattern: value))
    }

    /// bytes/string/message field; empty is not written.
    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        guard !value.isEmpty else { return }
        tag(field, 2)
        varint(UInt64(value.count))
        bytes += value
    }
}

/// A malformed protobuf message.
public struct ProtoError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
}

struct ProtoReader {
    enum Value {
        case varint(UInt64)
        case bytes([UInt8])
        case fixed
    }

    let data: [UInt8]
    var index = 0

    init(_ data: [UInt8]) { self.data = data }

    mutating func varint() throws(ProtoError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard index < data.count else { throw ProtoError(description: "truncated varint") }
            let b = data[index]
            index += 1
            guard shift < 64 else { throw ProtoError(description: "varint too long") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// The next field, or nil at the end.
    mutating func field() throws(ProtoError) -> (Int, Value)? {
        guard index < data.count else { return nil }
        let key = try varint()
        let number = Int(key >> 3)
        guard number > 0 else { throw ProtoError(description: "field number 0") }
        switch key & 7 {
        case 0: return (number, .varint(try varint()))
        case 2:
            let length = Int(clamping: try varint())
            guard length >= 0, index + length <= data.count else { throw ProtoError(description: "field \(number) runs past the end") }
            defer { index += length }
            return (number, .bytes(Array(data[index..<index + length])))
        case 1:
            guard index + 8 <= data.count else { throw ProtoError(description: "truncated fixed64") }
            index += 8
            return (number, .fixed)
        case 5:
            guard index + 4 <= data.count else { throw ProtoError(description: "truncated fixed32") }
            index += 4
            return (number, .fixed)
        default:
            throw ProtoError(description: "unsupported wire type \(key & 7) for field \(number)")
        }
    }
}
