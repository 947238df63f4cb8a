import APIServer
import ControllerRuntime
import Foundation
import KubeClient
import LoopbackServer
import LucidAPI
import Payouts
import Testing
import Tron
import YAML

/// One payout that must never be paid: how its spec is spoiled, and what its status must say.
struct BadInput: Sendable, CustomStringConvertible {
    let name: String
    let reason: String
    let mentions: String
    let spoil: @Sendable (inout JSON) -> Void
    var description: String { name }

    static func spec(_ name: String, _ mentions: String, reason: String = "Invalid", _ spoil: @escaping @Sendable (inout JSON) -> Void) -> BadInput {
        BadInput(name: name, reason: reason, mentions: mentions, spoil: spoil)
    }
}

/// Reached by the controller only when admission let them through: the generated CRD refuses
/// the schema-level ones (pattern, enum, type), so this suite serves TronPayouts with a spec
/// the server does not check, as for objects stored before the schema. The controller refuses
/// every one on its own.
let badInputs: [BadInput] = [
    .spec("recipient-checksum", "checksum") { $0["recipient"] = "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zrv" },
    .spec("recipient-zero", "zero address") { $0["recipient"] = "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb" },
    .spec("recipient-usdt-contract", "token contract") { $0["recipient"] = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf" },
    .spec("recipient-mainnet-usdt-contract", "token contract") {
        $0["network"] = "mainnet"
        $0["recipient"] = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
    },
    .spec("recipient-ethereum", "spec.recipient") { $0["recipient"] = "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf" },
    .spec("recipient-hex", "spec.recipient") { $0["recipient"] = "41dd0e49d7db2d33ab0ba2f9fd4b2ab9d19f3cc5b2" },
    .spec("recipient-short", "spec.recipient") { $0["recipient"] = "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5z" },
    .spec("recipient-is-signer", "signer's own address") { $0["recipient"] = .string(signer) },
    .spec("amount-seven-decimals", "spec.amount") { $0["amount"] = "1.1234567" },
    .spec("amount-zero", "greater than zero") { $0["amount"] = "0.000000" },
    .spec("amount-negative", "spec.amount") { $0["amount"] = "-5" },
    .spec("amount-exponent", "spec.amount") { $0["amount"] = "1e3" },
    .spec("amount-comma", "spec.amount") { $0["amount"] = "12,5" },
    .spec("amount-too-large", "too large") { $0["amount"] = "9999999999999" },
    .spec("trx-seven-decimals", "spec.amount") {
        $0["currency"] = "TRX"
        $0["amount"] = "0.0000001"
    },
    .spec("usdt-on-shasta", "no USDT contract") { $0["network"] = "shasta" },
    .spec("unknown-network", "spec.network") { $0["network"] = "moon" },
    .spec("signer-checksum", "spec.signer.address") { $0["signer"]?["address"] = "THKrowiEfCe8evdbaBzDDvQjM5DGeB3s3G" },
    .spec("signer-zero", "zero address cannot sign") { $0["signer"]?["address"] = "T9yD14Nj9j7xAB4dbGeiX9h8unkKHxuWwb" },
    .spec("session-with-spaces", "spec.sessionId") { $0["sessionId"] = "session 42" },
    .spec("secret-name-not-dns", "spec.signer.secretRef.name") { $0["signer"]?["secretRef"]?["name"] = "Payout_Signer" },
    .spec("currency-eur", "does not decode") { $0["currency"] = "EUR" },
    .spec("amount-a-number", "does not decode") { $0["amount"] = 12.5 },
    .spec("no-signer", "does not decode") { $0["signer"] = nil },
    .spec("session-claimed-elsewhere", "held by payout someone-else", reason: "DuplicateSession") { $0["sessionId"] = "claimed-1" },
]

/// The generated CRDs, with a TronPayout spec the server stores unchecked.
func crdsWithUncheckedPayoutSpecs() -> [JSON] {
    CRDs.all.map { crd in
        guard crd[path: "metadata", "name"] == "tronpayouts.payments.lucid.io", var version = crd[path: "spec", "versions"]?[0],
              var schema = version[path: "schema", "openAPIV3Schema"] else { return crd }
        schema["properties"]?["spec"] = ["type": "object", "x-kubernetes-preserve-unknown-fields": true]
        version["schema"] = ["openAPIV3Schema": schema]
        var loose = crd
        loose["spec"]?["versions"] = [version]
        return loose
    }
}

@Suite struct BadInputTests {
    @Test func thereAreEnoughCases() { #expect(badInputs.count + 2 >= 20) }

    @Test(.timeLimit(.minutes(4))) func everyInvalidPayoutEndsNotReadyWithAMessageAndNothingIsSent() async throws {
        try await PayoutCluster.with(crds: crdsWithUncheckedPayoutSpecs()) { cluster in
            try await cluster.withOperator { _ in
                // The session of one of them is already held by a payout this cluster does not show.
                var claim = SessionClaim.object(for: try TronPayout.decode(payoutObject("someone-else", amount: "1", session: "claimed-1")))
                claim["data"]?["payoutUID"] = "00000000-0000-0000-0000-00000000beef"
                try await cluster.create(.configMaps, claim)
                for bad in badInputs {
                    var object = payoutObject(bad.name, amount: "12.5")
                    if var spec = object["spec"] {
                        bad.spoil(&spec)
                        object["spec"] = spec
                    }
                    try await cluster.create(payoutsResource, object)
                }
                // A session paid once is never paid again: held by its claim, or, with the claim gone,
                // by the older payout that used it.
                try await cluster.create(payoutsResource, payoutObject("dup-first", amount: "2.5", session: "dup"))
                try await cluster.wait("dup-first", .completed)
                try await cluster.create(payoutsResource, payoutObject("dup-second", amount: "2.5", session: "dup"))
                try await cluster.wait("dup-second", .failed)
                try await cluster.client.delete(.configMaps, namespace: namespace, name: SessionClaim.name(sessionId: "dup"))
                try await cluster.create(payoutsResource, payoutObject("dup-third", amount: "2.5", session: "dup"))

                let all = badInputs.map { ($0.name, $0.reason, $0.mentions) } + [
                    ("dup-second", "DuplicateSession", "held by payout dup-first"),
                    ("dup-third", "DuplicateSession", "first used by payout dup-first"),
                ]
                for (name, reason, mentions) in all {
                    let object = try await waitFor("\(name) to be refused") {
                        let object = try await cluster.client.get(payoutsResource, namespace: namespace, name: name)
                        let stalled = object[path: "status", "conditions"]?.arrayValue?.first { $0["type"] == "Stalled" }
                        return stalled?["status"] == "True" ? object : nil
                    }
                    let status = try (object["status"] ?? .null).decode(TronPayoutStatus.self)
                    let ready = status.conditions?.first("Ready")
                    #expect(ready?.status == .false && ready?.reason == reason, "\(name): \(ready?.reason ?? "-")")
                    #expect(status.message?.contains(mentions) == true, "\(name): \(status.message ?? "")")
                    #expect(status.phase == .failed, "\(name)")
                    #expect(status.attempts == nil && status.txID == nil, "\(name) prepared nothing")
                    #expect(object[path: "metadata", "finalizers"] == nil, "\(name) holds no finalizer")
                    #expect(try await cluster.jobs(of: name).isEmpty, "\(name) has a Job")
                    let warnings = try await cluster.events(about: name).filter { $0["type"] == "Warning" }
                    #expect(warnings.contains { $0["reason"]?.stringValue == reason }, "\(name): no Warning event \(reason)")
                }
                #expect(all.count >= 20)
                // Nothing was sent but the one valid payout.
                #expect(cluster.fake.totalBroadcasts == 1 && cluster.fake.transfers.count == 1)
                #expect(try await cluster.client.list(.jobs, namespace: namespace).items.count == 1)
                // The claim of the refused session still names its holder; no payout took it over.
                let held = try await cluster.client.get(.configMaps, namespace: namespace, name: SessionClaim.name(sessionId: "claimed-1"))
                #expect(held[path: "data", "payout"] == "someone-else")
            }
        }
    }

    /// With the real CRD, the schema-level mistakes never get in: kubectl and any client get a 422.
    @Test func theGeneratedCRDRefusesTheSchemaLevelOnesAtAdmission() async throws {
        try await PayoutCluster.with { cluster in
            let refused = ["recipient-ethereum", "recipient-hex", "recipient-short", "amount-seven-decimals", "amount-negative",
                           "amount-exponent", "amount-comma", "trx-seven-decimals", "unknown-network", "session-with-spaces",
                           "secret-name-not-dns", "currency-eur", "amount-a-number", "no-signer"]
            for bad in badInputs where refused.contains(bad.name) {
                var object = payoutObject(bad.name, amount: "12.5")
                if var spec = object["spec"] {
                    bad.spoil(&spec)
                    object["spec"] = spec
                }
                do throws(KubeError) {
                    _ = try await cluster.client.create(payoutsResource, namespace: namespace, object)
                    Issue.record("\(bad.name) was admitted")
                } catch {
                    #expect(error.isInvalid, "\(bad.name): \(error)")
                }
            }
        }
    }
}
