import APIServer
import ControllerRuntime
import Foundation
import KubeClient
import LoopbackServer
import LucidAPI
import Payouts
import Reconcilers
import Testing
import Tron
import YAML

/// Deletion, the signer Secret appearing late, and the flags' values.
@Suite struct PayoutLifecycleTests {
    /// A payout whose transaction may still land cannot go: its finalizer holds it until the
    /// transaction either lands (then it goes, paid once) or provably never can.
    @Test(.timeLimit(.minutes(4))) func theFinalizerKeepsAPayoutUntilItsTransactionCanNoLongerLand() async throws {
        try await PayoutCluster.with { cluster in
            cluster.runner.hold(true)
            try await cluster.withOperator { _ in
                try await cluster.create(payoutsResource, payoutObject("deleted-sent", amount: "8", currency: "TRX"))
                try await cluster.create(payoutsResource, payoutObject("deleted-paying", amount: "9", currency: "TRX"))
                try await waitUntil(.seconds(30), "both Jobs to wait unscheduled") { cluster.runner.waiting.count == 2 }
                let paying = try #require(try await cluster.payout("deleted-paying").status?.attempts?.first)
                let sent = try #require(try await cluster.payout("deleted-sent").status?.attempts?.first)

                // Both Jobs run; both payouts are deleted while their transactions may land.
                cluster.fake.holdSolid(true)
                cluster.runner.hold(false)
                try await waitUntil(.seconds(30), "the broadcasts") { cluster.fake.broadcasts(of: paying.txID) == 1 && cluster.fake.broadcasts(of: sent.txID) == 1 }
                try await cluster.client.delete(payoutsResource, namespace: namespace, name: "deleted-paying")
                try await cluster.client.delete(payoutsResource, namespace: namespace, name: "deleted-sent")
                let kept = try await cluster.payout("deleted-paying")
                #expect(kept.metadata.deletionTimestamp != nil && kept.metadata.finalizers == [PayoutMachine.finalizer])
                try await waitUntil(.seconds(30), "both deleted payouts to be seen") {
                    try await cluster.payout("deleted-paying").status?.phase == .confirming
                }
                #expect(try await cluster.payout("deleted-sent").metadata.finalizers == [PayoutMachine.finalizer])

                // Finality resumes: both land (each once), and only then do they go.
                cluster.fake.holdSolid(false)
                try await waitUntil(.seconds(30), "the paid payouts to go") {
                    for name in ["deleted-paying", "deleted-sent"] {
                        do throws(KubeError) { _ = try await cluster.client.get(payoutsResource, namespace: namespace, name: name); return false } catch {
                            if !error.isNotFound { throw error }
                        }
                    }
                    return true
                }
                #expect(cluster.transfers("9", .trx).map(\.txID) == [paying.txID])
                #expect(cluster.transfers("8", .trx).map(\.txID) == [sent.txID])
            }
        }
    }

    @Test(.timeLimit(.minutes(4))) func aDeletedPayoutWhoseTransactionExpiredGoesUnpaidAndNoAttemptFollows() async throws {
        try await PayoutCluster.with { cluster in
            cluster.runner.hold(true)
            try await cluster.withOperator { _ in
                try await cluster.create(payoutsResource, payoutObject("never-ran", amount: "10", currency: "TRX"))
                try await waitUntil(.seconds(30), "the Job to wait unscheduled") { cluster.runner.waiting.count == 1 }
                let attempt = try #require(try await cluster.payout("never-ran").status?.attempts?.first)
                try await cluster.client.delete(payoutsResource, namespace: namespace, name: "never-ran")
                let deleting = try await cluster.payout("never-ran")
                #expect(deleting.metadata.finalizers == [PayoutMachine.finalizer], "held while txID \(attempt.txID) may land")
                cluster.fake.advance(by: .milliseconds(testSettings.expirationWindow + testSettings.expirationMargin + 60_000))
                try await waitUntil(.seconds(30), "the payout to go") {
                    do throws(KubeError) { _ = try await cluster.client.get(payoutsResource, namespace: namespace, name: "never-ran") } catch {
                        return error.isNotFound
                    }
                    return false
                }
                cluster.runner.hold(false)
                #expect(cluster.fake.totalBroadcasts == 0 && cluster.fake.transfers.isEmpty)
                #expect(try await cluster.client.list(.jobs, namespace: namespace).items.allSatisfy {
                    $0[path: "metadata", "name"] == "payout-never-ran-1"
                }, "no second attempt for a deleted payout")
            }
        }
    }

    /// The operator reads no Secrets in payout namespaces: the Job's pod finds the signer
    /// Secret missing and says so; nothing is signed, and the next attempt comes only once the
    /// chain proves the first can never land.
    @Test(.timeLimit(.minutes(3))) func aMissingSignerSecretIsReportedByTheJobAndThePayoutGoesOnOnceItExists() async throws {
        try await PayoutCluster.with { cluster in
            try await cluster.withOperator { _ in
                try await cluster.create(payoutsResource, payoutObject("late-secret", amount: "5.5", secret: "signer-2"))
                try await waitUntil(.seconds(40), "SignerSecretMissing") { try await cluster.ready(cluster.payout("late-secret"))?.reason == "SignerSecretMissing" }
                let stalled = try await cluster.payout("late-secret")
                let first = try #require(stalled.status?.attempts?.first)
                #expect(stalled.status?.conditions?.first("Stalled")?.status == .true)
                #expect(stalled.status?.message?.contains("\(namespace)/signer-2") == true, "\(stalled.status?.message ?? "")")
                #expect(first.job?.outcome == "signerMissing")
                #expect(cluster.fake.broadcasts(of: first.txID) == 0, "nothing signed, nothing sent")
                let warnings = try await cluster.events(about: "late-secret").filter { $0["type"] == "Warning" }
                #expect(warnings.contains { $0["reason"] == "SignerSecretMissing" })

                try await cluster.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "signer-2"],
                                                    "stringData": ["key": .string(signerKeyHex)]])
                cluster.fake.advance(by: .milliseconds(testSettings.expirationWindow + testSettings.expirationMargin + 60_000))
                let paid = try await cluster.wait("late-secret", .completed)
                #expect(paid.status?.attempts?.count == 2 && paid.status?.txID != first.txID)
                #expect(cluster.transfers("5.5", .usdt).count == 1)
            }
        }
    }

    @Test func theAPIKeySecretFlag() throws {
        #expect(try TronAPIKeySecret.parse("lucid-system/trongrid", defaultNamespace: "x") == TronAPIKeySecret(namespace: "lucid-system", name: "trongrid"))
        #expect(try TronAPIKeySecret.parse("trongrid:key", defaultNamespace: "ops") == TronAPIKeySecret(namespace: "ops", name: "trongrid", key: "key"))
        for bad in ["", "a/b/c", "Trongrid", "ns/", "/name", "ns/name:", "ns/name:bad key"] {
            #expect(throws: SettingsError.self, "\(bad)") { try TronAPIKeySecret.parse(bad, defaultNamespace: "ops") }
        }
    }
}
