import ArgumentParser
import Foundation
import HTTP
import Tron
import YAML

@main
struct LucidPayout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lucid-payout",
        abstract: "Signs and broadcasts one prepared TRON payout transaction, at most once.",
        discussion: """
            The program a TronPayout's Job runs. The operator prepares the transaction and its txID;
            this program checks the bytes against the payout, asks the chain for the txID first,
            and only then signs and broadcasts the same bytes.
            """,
        subcommands: [Broadcast.self, Address.self, Inspect.self])
}

/// Reads the signer key from a file (as mounted from a Secret). Errors name the file, never its content.
func readKey(_ path: String) throws -> PrivateKey {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("cannot read the key file \(path)")
    }
    do { return try PrivateKey(hex: String(decoding: data, as: UTF8.self)) } catch {
        throw ValidationError("the key file \(path) does not hold a private key: \(error.description)")
    }
}

func printJSON(_ value: JSON) {
    print(value.jsonText)
}

struct Broadcast: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check, sign and broadcast a prepared transaction.",
        discussion: """
            Exit codes:
              0  accepted: the network has the transaction (accepted now, DUP_TRANSACTION_ERROR, or already on chain)
              3  definitely not sent: nothing was broadcast, or the node refused it (e.g. SIGERROR, expired)
              4  may have been sent: a broadcast got no clear answer; only the chain can tell, by txID
              64 usage error (bad flags or key file; outcome signerMissing when there is no key file): nothing was sent
            A JSON result {outcome, txID, detail} is also written to --termination-log.
            """)

    @Option(help: "The prepared Transaction.raw bytes, hex.") var rawDataHex: String
    @Option(help: "The txID the operator recorded: sha256 of the raw bytes, hex.") var txid: String
    @Option(help: "Recipient TRON address (base58 T... or hex 41...).") var recipient: String
    @Option(help: "Amount as a decimal string, e.g. 125.50.") var amount: String
    @Option(help: "USDT or TRX.") var currency: String
    @Option(help: "mainnet, nile or shasta.") var network: String
    @Option(help: "File holding the signer's private key (64 hex digits).") var keyFile: String
    @Option(help: "TronGrid base URL; defaults to the network's.") var tronURL: String?
    @Option(help: "Seconds to wait for each TronGrid answer.") var timeout: Int = 15
    @Option(help: "Where to write the JSON result for Kubernetes.") var terminationLog: String = "/dev/termination-log"
    @Flag(help: "Print the signed transaction as JSON and send nothing.") var dryRun = false

    func run() async throws {
        // The Job mounts the signer Secret as optional: without it the folder is empty. Say so
        // to the operator (which may not read Secrets) in the termination message; nothing is signed.
        guard FileManager.default.fileExists(atPath: keyFile) else {
            report(["outcome": "signerMissing", "txID": .string(txid),
                    "detail": .string("no signer key at \(keyFile): the signer Secret, or its key, does not exist; nothing was signed")])
            Foundation.exit(64)
        }
        let key = try readKey(keyFile)
        let intent: PayoutIntent
        do { intent = try PayoutIntent(recipient: recipient, amount: amount, currency: currency, network: network) } catch {
            throw ValidationError("\(error.description)")
        }
        let order = BroadcastOrder(rawDataHex: rawDataHex, txID: txid, intent: intent)

        if dryRun {
            switch PayoutExecutor.sign(order, key: key) {
            case .failure(let refusal):
                finish(.notSent(reason: refusal.reason), txID: order.txID)
            case .success(let (_, signed)):
                printJSON(["txID": .string(signed.txID.hex), "signature": .string(signed.signature.hex),
                           "hex": .string(signed.encoded().hex), "sent": false])
                return
            }
        }

        let http = try HTTPClient()
        defer { http.shutdown() }
        let client = TronGridClient(baseURL: tronURL ?? intent.network.baseURL,
                                    apiKey: ProcessInfo.processInfo.environment["TRON_PRO_API_KEY"],
                                    http: http, timeout: .seconds(timeout))
        let outcome = await PayoutExecutor(client: client).broadcast(order, key: key)
        finish(outcome, txID: order.txID)
    }

    func finish(_ outcome: ExecutionOutcome, txID: String) -> Never {
        report(["outcome": .string(outcome.name), "txID": .string(txID), "detail": .string(outcome.detail)])
        Foundation.exit(outcome.exitCode)
    }

    /// Prints `result` and writes it to the termination log (what the kubelet puts in the pod's status).
    func report(_ result: JSON) {
        printJSON(result)
        do { try Data(result.serialized()).write(to: URL(fileURLWithPath: terminationLog)) } catch {
            FileHandle.standardError.write(Data("lucid-payout: could not write \(terminationLog): \(error.localizedDescription)\n".utf8))
        }
    }
}

struct Address: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the base58 address of the key in a key file.")
    @Option(help: "File holding a private key (64 hex digits).") var keyFile: String

    func run() throws {
        print(try readKey(keyFile).address.base58)
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decode prepared raw data and print it as JSON.")
    @Option(help: "Transaction.raw bytes, hex.") var rawDataHex: String

    func run() throws {
        guard let bytes = [UInt8](hex: rawDataHex) else { throw ValidationError("--raw-data-hex is not hex") }
        let raw: RawTransaction
        do { raw = try RawTransaction.decode(bytes) } catch { throw ValidationError("cannot decode: \(error.description)") }
        var out: JSON = [
            "txID": .string(sha256(bytes).hex), "contractType": .string(raw.contract.typeName),
            "owner": .string(raw.contract.owner.base58), "expiration": .int(raw.expiration), "timestamp": .int(raw.timestamp),
            "feeLimit": .int(raw.feeLimit), "refBlockBytes": .string(raw.refBlockBytes.hex), "refBlockHash": .string(raw.refBlockHash.hex),
        ]
        switch raw.contract {
        case .transfer(_, let to, let amount):
            out["recipient"] = .string(to.base58)
            out["amount"] = .string(Amount(baseUnits: amount).decimalString())
            out["amountBaseUnits"] = .int(amount)
            out["currency"] = "TRX"
        case .triggerSmartContract(_, let contract, let callValue, let data):
            out["tokenContract"] = .string(contract.base58)
            out["callValue"] = .int(callValue)
            if let call = ABI.decodeTransferCall(data) {
                out["recipient"] = .string(call.to.base58)
                out["amount"] = .string(Amount(baseUnits: call.amount).decimalString())
                out["amountBaseUnits"] = .int(call.amount)
                if let network = TronNetwork.all.first(where: { $0.usdtContract == contract }) {
                    out["currency"] = "USDT"
                    out["network"] = .string(network.name)
                }
            } else {
                out["data"] = .string(data.hex)
            }
        }
        printJSON(out)
    }
}
