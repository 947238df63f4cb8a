import FakeTronGrid
import Foundation
import HTTP
import LoopbackServer
import Testing
import Tron
import YAML

/// The built `lucid-payout` binary, beside the test bundle.
let payoutBinary: String? = {
    let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let candidates = [bundleDir, bundleDir.deletingLastPathComponent()].map { $0.appendingPathComponent("lucid-payout").path }
        + [URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/lucid-payout").path]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// Runs lucid-payout; its exit status and what it printed.
func runPayout(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    let binary = try #require(payoutBinary, "lucid-payout is not built (swift build --build-tests builds it)")
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("payout-\(UUID().uuidString).out").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    let status = try await ChildProcess.run(binary, arguments, outputPath: out)
    return (status, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
}

@Suite final class CLITests {
    let keyFile: String
    let keyHex = "8e812436a0e3323166e1f0e8ba79e19e217b2c4a53c970d4cca0cfb1078979df"

    init() throws {
        keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("key-\(UUID().uuidString)").path
        try (keyHex + "\n").write(toFile: keyFile, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: keyFile) }

    @Test func addressAndInspect() async throws {
        let address = try await runPayout(["address", "--key-file", keyFile])
        #expect(address.status == 0)
        #expect(address.output.trimmingCharacters(in: .whitespacesAndNewlines) == signerKey.address.base58)

        let inspect = try await runPayout(["inspect", "--raw-data-hex", VectorTests.vectorRaw])
        #expect(inspect.status == 0)
        let json = try JSON.parse(inspect.output.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(json["txID"] == "c93cdd6b4d9f5b3c617060ea0a9c7b6080d9855f599cc987f69105a5e3e9c9b4")
        #expect(json["contractType"] == "TransferContract")
        #expect(json["owner"] == "TPX6HK2NRN4XKRX1JAhbC827bm7gMmy5w1")
        #expect(json["recipient"] == "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru")
        #expect(json["amountBaseUnits"] == 1)
        #expect(json["expiration"] == 1_751_466_492_131)
    }

    @Test func dryRunSignsAndSendsNothing() async throws {
        let intent = try PayoutIntent(recipient: recipient, amount: "3", currency: "TRX", network: "nile")
        let raw = TransactionBuilder.build(intent, owner: signerKey.address, reference: BlockHeader(number: 99, id: Array(0..<32), timestamp: 1_000))
        let run = try await runPayout(["broadcast", "--raw-data-hex", raw.encoded().hex, "--txid", raw.txID.hex, "--recipient", recipient,
                                 "--amount", "3", "--currency", "TRX", "--network", "nile", "--key-file", keyFile,
                                 "--tron-url", "http://127.0.0.1:1", "--dry-run"])
        #expect(run.status == 0, "\(run.output)")
        let json = try JSON.parse(run.output.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(json["txID"]?.stringValue == raw.txID.hex)
        let signature = try #require(json["signature"]?.stringValue.flatMap { [UInt8](hex: $0) })
        #expect(Signature.recoverAddress(digest: raw.txID, signature: signature) == signerKey.address)
        let signed = try SignedTransaction.decode(try #require(json["hex"]?.stringValue.flatMap { [UInt8](hex: $0) }))
        #expect(signed.rawData == raw.encoded())
        #expect(!run.output.contains(keyHex))
    }

    @Test func broadcastAgainstTheFakeChainWritesTheTerminationLog() async throws {
        let keyFile = self.keyFile, keyHex = self.keyHex
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await FakeTronGrid.run { fake in
            let client = TronGridClient(baseURL: fake.baseURL, http: http)
            let (order, _) = try await prepare(fake, client, amount: "7.25")
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("term-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: log) }
            let args = ["broadcast", "--raw-data-hex", order.rawDataHex, "--txid", order.txID, "--recipient", recipient,
                        "--amount", "7.25", "--currency", "USDT", "--network", "nile", "--key-file", keyFile,
                        "--tron-url", fake.baseURL, "--termination-log", log]
            let first = try await runPayout(args)
            #expect(first.status == 0, "\(first.output)")
            let result = try JSON.parse(try String(contentsOfFile: log, encoding: .utf8))
            #expect(result["outcome"] == "accepted")
            #expect(result["txID"]?.stringValue == order.txID)

            // Same arguments but a different amount: refused before signing, exit 3.
            var wrong = args
            wrong[wrong.firstIndex(of: "7.25")!] = "72.5"
            let refused = try await runPayout(wrong)
            #expect(refused.status == 3)
            #expect(refused.output.contains("amount"))
            #expect(!refused.output.contains(keyHex))
            #expect(fake.broadcasts(of: order.txID) == 1)
        }
    }

    @Test func aBadKeyFileIsAUsageErrorThatNeverShowsTheKey() async throws {
        let badKey = FileManager.default.temporaryDirectory.appendingPathComponent("badkey-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: badKey) }
        try "zz\(keyHex.dropFirst(2))".write(toFile: badKey, atomically: true, encoding: .utf8)
        let run = try await runPayout(["address", "--key-file", badKey])
        #expect(run.status == 64)
        #expect(run.output.contains(badKey))
        #expect(!run.output.contains(String(keyHex.dropFirst(2))))
    }
}
