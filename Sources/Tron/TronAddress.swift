/// A TRON account or contract address: 21 bytes, 0x41 then 20 bytes of account id.
public struct TronAddress: Sendable, Hashable, CustomStringConvertible, Codable {
    public let bytes: [UInt8]

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// From the 21 raw bytes; they must start with 0x41.
    public init(bytes: [UInt8]) throws(ParseError) {
        guard bytes.count == 21 else { throw ParseError(description: "a TRON address has 21 bytes, not \(bytes.count)") }
        guard bytes[0] == 0x41 else { throw ParseError(description: "a TRON address starts with byte 0x41") }
        self.bytes = bytes
    }

    /// From base58check (`T...`, 34 characters) or 42 hex digits starting `41`. Ethereum-style
    /// `0x...` and anything else are refused.
    public init(_ text: String) throws(ParseError) {
        if text.hasPrefix("0x") || text.hasPrefix("0X") {
            throw ParseError(description: "\"\(text)\" is an Ethereum-style address; TRON addresses are base58 (T...) or hex starting 41")
        }
        if text.count == 42, let raw = [UInt8](hex: text) {
            try self.init(bytes: raw)
            return
        }
        guard text.count == 34, text.first == "T" else {
            throw ParseError(description: "\"\(text)\" is not a TRON address: expected 34 base58 characters starting with T")
        }
        guard let payload = Base58.decodeCheck(text) else {
            throw ParseError(description: "\"\(text)\" has a wrong base58check checksum")
        }
        try self.init(bytes: payload)
    }

    /// The address of an uncompressed secp256k1 public key (64 bytes X‖Y, or 65 with the 0x04
    /// prefix): 0x41 followed by the last 20 bytes of keccak-256(X‖Y).
    public init(publicKey: [UInt8]) throws(ParseError) {
        let key = publicKey.count == 65 && publicKey[0] == 0x04 ? Array(publicKey.dropFirst()) : publicKey
        guard key.count == 64 else { throw ParseError(description: "an uncompressed public key has 64 bytes") }
        try self.init(bytes: [0x41] + Keccak256.hash(key).suffix(20))
    }

    public var base58: String { Base58.encodeCheck(bytes) }
    public var hex: String { bytes.hex }
    /// The 20-byte account id (the address without 0x41), as the EVM and ABI see it.
    public var accountID: [UInt8] { Array(bytes.dropFirst()) }
    public var isZero: Bool { accountID.allSatisfy { $0 == 0 } }
    public var description: String { base58 }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(base58)
    }
}
