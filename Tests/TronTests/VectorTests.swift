import Testing
import Tron

@Suite struct VectorTests {
    @Test func keccakKnownAnswers() {
        #expect(Keccak256.hash([UInt8]()).hex == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
        #expect(Keccak256.hash(Array("abc".utf8)).hex == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
        // Longer than one 136-byte block.
        let long = [UInt8](repeating: 0x61, count: 200)
        #expect(Keccak256.hash(long).count == 32)
        #expect(ABI.transferSelector.hex == "a9059cbb")
        #expect(ABI.transferEventTopic.hex == "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
    }

    @Test func sha256KnownAnswer() {
        #expect(sha256(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func privateKeyOneGivesTheKnownAddress() throws {
        let key = try PrivateKey(hex: String(repeating: "0", count: 63) + "1")
        #expect(key.address.base58 == "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC")
        #expect(key.address.hex == "417e5f4552091a69125d5dfcb7b8c2659029395bdf")
        #expect(!key.description.contains("0001"))
    }

    @Test func abiParametersOfAUSDTTransfer() throws {
        let to = try TronAddress("412ed5dd8a98aea00ae32517742ea5289761b2710e")
        let amount = try Amount(decimal: "50000", currency: .usdt)
        #expect(ABI.transferParameters(to: to, amount: amount.baseUnits).hex ==
            "0000000000000000000000002ed5dd8a98aea00ae32517742ea5289761b2710e0000000000000000000000000000000000000000000000000000000ba43b7400")
        let call = ABI.transferCall(to: to, amount: amount.baseUnits)
        #expect(ABI.decodeTransferCall(call)?.to == to)
        #expect(ABI.decodeTransferCall(call)?.amount == 50_000_000_000)
    }

    static let vectorRaw = "0a0264312208212a13dbe72ac5c040e381a7dcfc325a65080112610a2d747970652e676f6f676c65617069732e636f6d2f70726f746f636f6c2e5472616e73666572436f6e747261637412300a154194a15629b2b2bbd3a5453e6d6696b2875278633b1215413c9b65b212316904572826240224750eccce29a218017083ada3dcfc32"

    @Test func trxTransferRawDataAndTxID() throws {
        let raw = RawTransaction(
            refBlockBytes: [UInt8](hex: "6431")!, refBlockHash: [UInt8](hex: "212a13dbe72ac5c0")!,
            expiration: 1_751_466_492_131, timestamp: 1_751_466_432_131,
            contract: .transfer(owner: try TronAddress("TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1"),
                                to: try TronAddress("TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru"), amount: 1))
        #expect(raw.encoded().hex == Self.vectorRaw)
        #expect(raw.txID.hex == "c93cdd6b4d9f5b3c617060ea0a9c7b6080d9855f599cc987f69105a5e3e9c9b4")
        #expect(try RawTransaction.decode([UInt8](hex: Self.vectorRaw)!) == raw)
    }

    @Test func trc20TransferRoundTrips() throws {
        let intent = try PayoutIntent(recipient: "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru", amount: "125.5", currency: "USDT", network: "nile")
        let owner = try TronAddress("TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1")
        let block = BlockHeader(number: 0x1234_5678, id: Array(0..<32), timestamp: 1_751_466_432_000)
        let raw = TransactionBuilder.build(intent, owner: owner, reference: block)
        #expect(raw.refBlockBytes == [0x56, 0x78])
        #expect(raw.refBlockHash == Array(8..<16))
        #expect(raw.expiration == block.timestamp + TransactionBuilder.defaultExpirationWindow)
        #expect(raw.feeLimit == TransactionBuilder.defaultFeeLimit)
        let decoded = try RawTransaction.decode(raw.encoded())
        #expect(decoded == raw)
        try intent.verify(decoded, owner: owner)
    }

    @Test func signaturesRecoverToTheSigner() throws {
        let key = try PrivateKey(hex: "8e812436a0e3323166e1f0e8ba79e19e217b2c4a53c970d4cca0cfb1078979df")
        let digest = try #require([UInt8](hex: "c93cdd6b4d9f5b3c617060ea0a9c7b6080d9855f599cc987f69105a5e3e9c9b4"))
        let signature = try key.sign(digest: digest)
        #expect(signature.count == 65)
        #expect(Signature.recoverAddress(digest: digest, signature: signature) == key.address)
        #expect(try key.sign(digest: digest) == signature)  // RFC 6979: deterministic
        var tampered = digest
        tampered[0] ^= 1
        #expect(Signature.recoverAddress(digest: tampered, signature: signature) != key.address)
        var v27 = signature
        v27[64] += 27
        #expect(Signature.recoverAddress(digest: digest, signature: v27) == key.address)
    }
}

@Suite struct ParsingTests {
    @Test func addressesParseFromBase58AndHexOnly() throws {
        let a = try TronAddress("TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC")
        #expect(try TronAddress(a.hex) == a)
        #expect(try TronAddress(a.hex.uppercased()) == a)
        for bad in ["0x7e5f4552091a69125d5dfcb7b8c2659029395bdf", "7e5f4552091a69125d5dfcb7b8c2659029395bdf",
                    "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HD", "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2H", "",
                    "427e5f4552091a69125d5dfcb7b8c2659029395bdf", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
                    "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK20C"] {
            #expect(throws: TronAddress.ParseError.self, "\(bad)") { try TronAddress(bad) }
        }
    }

    @Test func amountsAreExactBaseUnits() throws {
        #expect(try Amount(decimal: "125.50", currency: .usdt).baseUnits == 125_500_000)
        #expect(try Amount(decimal: "0.000001", currency: .trx).baseUnits == 1)
        #expect(try Amount(decimal: "9223372036854.775807", currency: .trx).baseUnits == .max)
        #expect(try Amount(decimal: "007", currency: .trx).baseUnits == 7_000_000)
        #expect(Amount(baseUnits: 125_500_000).decimalString() == "125.5")
        for bad in ["0", "0.0", "-1", "+1", "1e6", "1.0000001", "", ".5", "5.", "1,5", "9223372036854.775808", "99999999999999999999", " 1", "NaN"] {
            #expect(throws: Amount.ParseError.self, "\(bad)") { try Amount(decimal: bad, currency: .usdt) }
        }
    }

    @Test func intentsRefuseWhatCannotBePaid() throws {
        #expect { try PayoutIntent(recipient: "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb", amount: "1", currency: "TRX", network: "nile") } throws: {
            ($0 as? PayoutIntent.Invalid)?.field == "recipient"  // the zero address
        }
        #expect { try PayoutIntent(recipient: "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf", amount: "1", currency: "USDT", network: "nile") } throws: {
            ($0 as? PayoutIntent.Invalid)?.message.contains("token contract") == true
        }
        #expect { try PayoutIntent(recipient: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", amount: "1", currency: "EUR", network: "nile") } throws: {
            ($0 as? PayoutIntent.Invalid)?.field == "currency"
        }
        #expect { try PayoutIntent(recipient: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", amount: "1", currency: "USDT", network: "moon") } throws: {
            ($0 as? PayoutIntent.Invalid)?.field == "network"
        }
        #expect { try PayoutIntent(recipient: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", amount: "1", currency: "USDT", network: "shasta") } throws: {
            ($0 as? PayoutIntent.Invalid)?.field == "currency"
        }
    }

    @Test func verifyNamesTheFieldThatDiffers() throws {
        let owner = try TronAddress("TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1")
        let intent = try PayoutIntent(recipient: "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru", amount: "1", currency: "TRX", network: "nile")
        let block = BlockHeader(number: 100, id: Array(repeating: 7, count: 32), timestamp: 1_000)
        let raw = TransactionBuilder.build(intent, owner: owner, reference: block)
        let other = try PayoutIntent(recipient: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", amount: "1", currency: "TRX", network: "nile")
        let more = try PayoutIntent(recipient: "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru", amount: "2", currency: "TRX", network: "nile")
        let usdt = try PayoutIntent(recipient: "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru", amount: "1", currency: "USDT", network: "nile")
        #expect { try other.verify(raw, owner: owner) } throws: { ($0 as? PayoutIntent.Invalid)?.field == "recipient" }
        #expect { try more.verify(raw, owner: owner) } throws: { ($0 as? PayoutIntent.Invalid)?.field == "amount" }
        #expect { try usdt.verify(raw, owner: owner) } throws: { ($0 as? PayoutIntent.Invalid)?.field == "currency" }
        #expect { try intent.verify(raw, owner: other.recipient) } throws: { ($0 as? PayoutIntent.Invalid)?.field == "owner" }
    }

    @Test func malformedRawDataIsRefused() {
        for bad in ["", "0a", "0aff", "5a03080112", "9a0100", "0a02643178"] {
            #expect(throws: ProtoError.self, "\(bad)") { try RawTransaction.decode([UInt8](hex: bad)!) }
        }
    }
}
