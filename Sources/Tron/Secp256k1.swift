internal import CSecp256k1

/// A secp256k1 private key, as mounted from the payout signer Secret. Its bytes never leave
/// this type: not in `description`, not in errors.
public struct PrivateKey: Sendable, CustomStringConvertible {
    private let secret: [UInt8]

    public struct KeyError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// From 64 hex digits (surrounding whitespace ignored). Refuses anything else and scalars
    /// outside the curve order.
    public init(hex text: String) throws(KeyError) {
        let trimmed = text.trimmingSpaces
        guard trimmed.utf8.count == 64, let bytes = [UInt8](hex: trimmed) else {
            throw KeyError(description: "a private key is 64 hex digits")
        }
        guard Secp256k1Context.shared.isValidSecretKey(bytes) else {
            throw KeyError(description: "the private key is not a valid secp256k1 scalar")
        }
        secret = bytes
    }

    /// 65 bytes: 0x04 ‖ X ‖ Y.
    public var publicKey: [UInt8] { Secp256k1Context.shared.publicKey(secret) }

    public var address: TronAddress {
        // A valid secret always yields a 65-byte key, so this cannot fail.
        (try? TronAddress(publicKey: publicKey)) ?? (try! TronAddress(bytes: [0x41] + [UInt8](repeating: 0, count: 20)))
    }

    /// Signs a 32-byte digest (a txID): r ‖ s ‖ recovery id (0 or 1), RFC 6979 nonce.
    public func sign(digest: [UInt8]) throws(KeyError) -> [UInt8] {
        guard digest.count == 32 else { throw KeyError(description: "a digest has 32 bytes") }
        guard let signature = Secp256k1Context.shared.signRecoverable(digest: digest, secret: secret) else {
            throw KeyError(description: "signing failed")
        }
        return signature
    }

    public var description: String { "PrivateKey(\(address.base58))" }
}

public enum Signature {
    /// The address whose key made `signature` (65 bytes; the last is the recovery id, 0/1 or
    /// 27/28) over `digest`; nil if it recovers to nothing.
    public static func recoverAddress(digest: [UInt8], signature: [UInt8]) -> TronAddress? {
        guard digest.count == 32, signature.count == 65 else { return nil }
        var recid = Int32(signature[64])
        if recid >= 27 { recid -= 27 }
        guard (0...3).contains(recid),
              let key = Secp256k1Context.shared.recover(digest: digest, compact: Array(signature.prefix(64)), recid: recid) else { return nil }
        return try? TronAddress(publicKey: key)
    }
}

/// One libsecp256k1 context for the process.
///
/// `@unchecked Sendable`: libsecp256k1 allows concurrent use of a context in every call that
/// takes it as `const` (all calls here); it is randomized once, at creation, before any use.
final class Secp256k1Context: @unchecked Sendable {
    static let shared = Secp256k1Context()

    private let context: OpaquePointer
    private static let uncompressed: UInt32 = 2  // SECP256K1_EC_UNCOMPRESSED

    private init() {
        context = secp256k1_context_create(1)!  // SECP256K1_CONTEXT_NONE; fails only on allocation failure
        var seed = [UInt8](repeating: 0, count: 32)
        for i in seed.indices { seed[i] = UInt8.random(in: 0...255) }
        _ = secp256k1_context_randomize(context, seed)
    }

    func isValidSecretKey(_ secret: [UInt8]) -> Bool { secp256k1_ec_seckey_verify(context, secret) == 1 }

    func publicKey(_ secret: [UInt8]) -> [UInt8] {
        var key = secp256k1_pubkey()
        guard secp256k1_ec_pubkey_create(context, &key, secret) == 1 else { return [] }
        return serialize(&key)
    }

    func signRecoverable(digest: [UInt8], secret: [UInt8]) -> [UInt8]? {
        var signature = secp256k1_ecdsa_recoverable_signature()
        guard secp256k1_ecdsa_sign_recoverable(context, &signature, digest, secret, nil, nil) == 1 else { return nil }
        var compact = [UInt8](repeating: 0, count: 64)
        var recid: Int32 = 0
        guard secp256k1_ecdsa_recoverable_signature_serialize_compact(context, &compact, &recid, &signature) == 1 else { return nil }
        return compact + [UInt8(recid)]
    }

    func recover(digest: [UInt8], compact: [UInt8], recid: Int32) -> [UInt8]? {
        var signature = secp256k1_ecdsa_recoverable_signature()
        guard secp256k1_ecdsa_recoverable_signature_parse_compact(context, &signature, compact, recid) == 1 else { return nil }
        var key = secp256k1_pubkey()
        guard secp256k1_ecdsa_recover(context, &key, &signature, digest) == 1 else { return nil }
        return serialize(&key)
    }

    private func serialize(_ key: inout secp256k1_pubkey) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 65)
        var length = 65
        _ = secp256k1_ec_pubkey_serialize(context, &out, &length, &key, Self.uncompressed)
        return Array(out.prefix(length))
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
