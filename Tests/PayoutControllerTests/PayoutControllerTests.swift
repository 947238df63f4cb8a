import APIServer
import ControllerRuntime
import FakeTronGrid
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import LucidAPI
import Payouts
import Reconcilers
import Testing
import Tron
import YAML

/// The payout controller over the embedded API server, with the real `lucid-payout` run by the
/// dev Job runner against the simulated chain.
@Suite struct PayoutControllerTests {
    @Test(.timeLimit(.minutes(4))) func usdtAndTrxArePaidOnceFromPendingToCompleted() async throws {
        try await PayoutCluster.with { cluster in
            let (phases, watcher) = try await PhaseLog.watching(cluster)
            defer { watcher.cancel() }
            try await cluster.withOperator { reconciler in
                // Finality waits until both Jobs have ended, as on a real chain (a minute to be solid).
                cluster.fake.holdSolid(true)
                try await cluster.create(payoutsResource, payoutObject("pay-usdt", amount: "125.50"))
                try await cluster.create(payoutsResource, payoutObject("pay-trx", amount: "3", currency: "TRX"))
                let kubectl = try cluster.kubectlWait(["pay-usdt", "pay-trx"])
                try await cluster.wait("pay-usdt", .confirming)
                try await cluster.wait("pay-trx", .confirming)
                #expect(kubectl.isRunning, "kubectl wait returned before the payouts were Ready")
                cluster.fake.holdSolid(false)
                #expect(await kubectl.exit() == 0, "kubectl wait --for=condition=Ready returned an error")

                for (name, amount, currency) in [("pay-usdt", "125.50", Currency.usdt), ("pay-trx", "3", Currency.trx)] {
                    let payout = try await cluster.payout(name)
                    #expect(phases[name] == [.pending, .prepared, .broadcasting, .confirming, .completed], "\(name): \(phases[name])")
                    let status = try #require(payout.status)
                    let attempt = try #require(status.attempts?.first)
                    let confirmation = try #require(status.confirmation)
                    #expect(status.attempts?.count == 1 && attempt.outcome == "Confirmed" && attempt.job?.outcome == "accepted")
                    #expect(status.txID == attempt.txID && confirmation.txID == attempt.txID)
                    #expect(confirmation.block > 0 && confirmation.blockTime != nil)
                    #expect(confirmation.fee == (currency == .usdt ? 13_844_850 : 0))
                    #expect(cluster.ready(payout)?.status == .true && cluster.ready(payout)?.reason == "Completed")
                    #expect(payout.metadata.finalizers?.isEmpty ?? true, "the finalizer goes once the payout is terminal")
                    // Exactly once on chain: one broadcast of the txID, one transfer of the amount.
                    #expect(cluster.fake.broadcasts(of: attempt.txID) == 1)
                    let transfers = cluster.transfers(amount, currency)
                    #expect(transfers.count == 1 && transfers.first?.txID == attempt.txID)
                    #expect(try await cluster.jobs(of: name).count == 1)
                    let reasons = Set(try await cluster.events(about: name).compactMap { $0["reason"]?.stringValue })
                    #expect(reasons.isSuperset(of: ["ClaimingSession", "Prepared", "JobCreated", "Broadcasting", "Confirming", "Completed"]), "\(reasons)")
                }
                let job = try #require(try await cluster.jobs(of: "pay-usdt").first)
                #expect(job[path: "metadata", "ownerReferences"]?[0]?["kind"] == "TronPayout")
                #expect(job[path: "spec", "template", "spec", "restartPolicy"] == "Never" && job[path: "spec", "backoffLimit"] == 0)
                // The signer key is the pod's: it is mounted (optional) from the Secret, never read by the operator.
                #expect(job[path: "spec", "template", "spec", "volumes"]?[0]?[path: "secret", "optional"] == true)
            }

            // A restart over terminal payouts writes nothing.
            let before = cluster.server.writes.total
            try await cluster.withOperator { _ in try await Task.sleep(for: .seconds(2)) }
            #expect(cluster.server.writes.total == before, "the restarted controller wrote: \(cluster.server.writes.byResource)")
            #expect(cluster.fake.totalBroadcasts == 2)
        }
    }

    @Test(.timeLimit(.minutes(4))) func aboveTheThresholdAPayoutWaitsForAnApprovalThatOnlyItsOwnResourceCanGive() async throws {
        try await PayoutCluster.with { cluster in
            try await cluster.withOperator { reconciler in
                let created = try await cluster.create(payoutsResource, payoutObject("big", amount: "2500"))
                try await cluster.create(payoutsResource, payoutObject("refused", amount: "30000", currency: "TRX"))
                try await cluster.create(payoutsResource, payoutObject("at-threshold", amount: "1000"))
                for name in ["big", "refused", "at-threshold"] {
                    let waiting = try await cluster.wait(name, .awaitingApproval)
                    #expect(cluster.ready(waiting)?.reason == "AwaitingApproval")
                    #expect(waiting.status?.message?.contains("TronPayoutApproval with payoutName \(name)") == true)
                    #expect(waiting.status?.attempts == nil && waiting.metadata.finalizers == nil)
                    #expect(try await cluster.jobs(of: name).isEmpty)
                }

                // The creator cannot approve by editing the payout: an annotation, a label, a status
                // sent to the main resource (the status subresource ignores it), an approval for another name.
                var forged = created
                forged["metadata"]?["annotations"] = ["payments.lucid.io/approved": "true"]
                forged["metadata"]?["labels"] = ["approved": "true"]
                forged["metadata"]?["resourceVersion"] = nil
                forged["status"] = ["phase": "Prepared", "approval": ["name": "self", "decision": "Approved", "approver": "me"]]
                let updated = try await cluster.client.update(payoutsResource, namespace: namespace, forged)
                #expect(updated[path: "status", "approval"] == nil, "status is not written through the main resource")
                try await cluster.create(approvalsResource, approvalObject("for-another", payout: "big-2", decision: "Approved"))
                let edited = try #require(updated[path: "metadata", "resourceVersion"]?.stringValue.flatMap { UInt64($0) })
                try await waitUntil(.seconds(30), "the edit in the controller's cache") {
                    (reconciler.payouts.get(ObjectRef(namespace: namespace, name: "big"))?.metadata.resourceVersion).flatMap { UInt64($0) } ?? 0 >= edited
                }
                #expect(try await reconciler.reconcile(ObjectRef(namespace: namespace, name: "big")) == .done)
                #expect(try await cluster.payout("big").status?.phase == .awaitingApproval)

                // The approver's own resource: approved proceeds, rejected is terminal.
                try await cluster.create(approvalsResource, approvalObject("big-treasury", payout: "big", decision: "Approved"))
                try await cluster.create(approvalsResource, approvalObject("refused-treasury", payout: "refused", decision: "Rejected",
                                                                          reason: "no matching session in the ledger"))
                let paid = try await cluster.wait("big", .completed)
                #expect(paid.status?.approval?.approver == "treasury-admin" && paid.status?.approval?.decision == .approved)
                #expect(paid.status?.approval?.name == "big-treasury")
                #expect(cluster.transfers("2500", .usdt).count == 1)
                let rejected = try await cluster.wait("refused", .rejected)
                #expect(cluster.ready(rejected)?.status == .false && cluster.ready(rejected)?.reason == "Rejected")
                #expect(rejected.status?.conditions?.first("Stalled")?.status == .true)
                #expect(rejected.status?.approval?.decision == .rejected && rejected.status?.approval?.reason == "no matching session in the ledger")
                #expect(rejected.status?.attempts == nil)
                #expect(try await cluster.jobs(of: "refused").isEmpty)
                #expect(cluster.transfers("30000", .trx).isEmpty)
                #expect(try await cluster.payout("at-threshold").status?.phase == .awaitingApproval, "the threshold is inclusive")
                #expect(cluster.fake.totalBroadcasts == 1)
            }
        }
    }

    /// Approving is its own permission by the resources' design: a separate resource (RBAC rules
    /// name resources), a payout spec with no field that could carry a decision, and a status only
    /// writable through `tronpayouts/status`, which neither requesters nor approvers are given.
    @Test func approvingIsASeparateResourceFromCreatingAndFromTheStatus() async throws {
        try await PayoutCluster.with { cluster in
            let http = try HTTPClient()
            defer { http.shutdown() }
            let response = try await http.execute(HTTPRequest(url: cluster.server.url + "/apis/payments.lucid.io/v1alpha1"))
            let resources = try JSON.parse(response.body)["resources"]?.arrayValue ?? []
            func verbs(_ name: String) -> Set<String> {
                Set(resources.first { $0["name"]?.stringValue == name }?["verbs"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            }
            // Three RBAC resources: what requesters get, what approvers get, what only the operator gets.
            #expect(verbs("tronpayouts").isSuperset(of: ["create", "get", "list", "watch"]))
            #expect(verbs("tronpayoutapprovals").isSuperset(of: ["create", "get", "list", "watch"]))
            #expect(verbs("tronpayouts/status") == ["get", "patch", "update"])

            // Nothing a payout's creator writes can carry a decision: the spec holds the payment only.
            let crd = try #require(CRDs.all.first { $0[path: "metadata", "name"] == "tronpayouts.payments.lucid.io" })
            let schema = try #require(crd[path: "spec", "versions"]?[0]?[path: "schema", "openAPIV3Schema"])
            let specFields = Set(schema[path: "properties", "spec", "properties"]?.objectValue?.keys ?? [])
            #expect(specFields == ["sessionId", "recipient", "amount", "currency", "network", "signer"])
            #expect(schema[path: "properties", "spec", "x-kubernetes-preserve-unknown-fields"] == nil, "unknown spec fields are pruned")
            #expect(crd[path: "spec", "versions"]?[0]?[path: "subresources", "status"] != nil, "status only through tronpayouts/status")
            // And the decision names its approver in its own, immutable resource.
            let approvalCRD = try #require(CRDs.all.first { $0[path: "metadata", "name"] == "tronpayoutapprovals.payments.lucid.io" })
            let approvalSpec = approvalCRD[path: "spec", "versions"]?[0]?[path: "schema", "openAPIV3Schema", "properties", "spec"]
            #expect(Set(approvalSpec?["required"]?.arrayValue?.compactMap(\.stringValue) ?? []) == ["payoutName", "decision", "approver"])
            #expect(approvalSpec?["x-kubernetes-validations"]?.arrayValue?.contains { $0["rule"] == "self == oldSelf" } == true)
        }
    }

    @Test(.timeLimit(.minutes(4))) func aJobThatNeverRanBeforeTheExpirationLeadsToASecondAttemptAndTheFirstIsNeverPaid() async throws {
        try await PayoutCluster.with { cluster in
            cluster.runner.hold(true)
            try await cluster.withOperator { _ in
                try await cluster.create(payoutsResource, payoutObject("late", amount: "7", currency: "TRX"))
                try await waitUntil(.seconds(30), "the first Job to wait unscheduled") {
                    cluster.runner.waiting.map(\.name) == ["payout-late-1"]
                }
                let first = try #require(try await cluster.payout("late").status?.attempts?.first)
                // The chain moves past the expiration plus the margin; the Job still has not run.
                cluster.fake.advance(by: .milliseconds(testSettings.expirationWindow + testSettings.expirationMargin + 60_000))
                let second = try await waitFor("a second attempt") {
                    let attempts = try await cluster.payout("late").status?.attempts ?? []
                    return attempts.count == 2 ? attempts : nil
                }
                #expect(second[0].outcome == "Expired" && second[0].outcomeMessage?.contains("can never land") == true)
                #expect(second[1].txID != first.txID && second[1].jobName == "payout-late-2")
                #expect((second[1].referenceBlock ?? 0) > (first.referenceBlock ?? 0))
                try await waitUntil(.seconds(30), "the second Job to wait too") { cluster.runner.waiting.count == 2 }

                cluster.runner.hold(false)  // both Jobs run now: the first one finds its transaction expired
                let paid = try await cluster.wait("late", .completed)
                #expect(paid.status?.txID == second[1].txID && paid.status?.confirmation?.txID == second[1].txID)
                #expect(cluster.fake.broadcasts(of: first.txID) == 0, "the expired transaction was never sent")
                #expect(cluster.fake.broadcasts(of: second[1].txID) == 1)
                #expect(cluster.transfers("7", .trx).map(\.txID) == [second[1].txID])
                let firstJob = try await waitFor("the first Job to finish") {
                    let job = try await cluster.client.get(.jobs, namespace: namespace, name: "payout-late-1")
                    return (job[path: "status", "conditions"]?.arrayValue ?? []).contains { $0["type"] == "Failed" && $0["status"] == "True" } ? job : nil
                }
                #expect(firstJob[path: "status", "failed"] == 1, "lucid-payout refused the expired transaction (exit 3)")
                #expect(paid.status?.attempts?.first?.job == nil, "what a superseded attempt's Job did is not written back")
                #expect(Set(try await cluster.events(about: "late").compactMap { $0["reason"]?.stringValue }).contains("AttemptExpired"))
            }
        }
    }

    @Test(.timeLimit(.minutes(4))) func theTronGridAPIKeyIsReadOnceFromItsSecretAndPassedToJobsByReference() async throws {
        try await PayoutCluster.with { cluster in
            let key = "tg-key-5d1c0e7a"
            try cluster.server.install([
                ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "lucid-system"]],
                ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "trongrid", "namespace": "lucid-system"], "stringData": ["api-key": .string(key)]],
                ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "trongrid", "namespace": .string(namespace)], "stringData": ["api-key": .string(key)]],
            ])
            try await cluster.withOperator(apiKeySecret: TronAPIKeySecret(namespace: "lucid-system", name: "trongrid")) { _ in
                try await cluster.create(payoutsResource, payoutObject("keyed", amount: "4.25"))
                try await cluster.wait("keyed", .completed)
            }
            #expect(cluster.fake.apiKeysSeen == [key], "the operator's reads and the Job's requests carry the key")
            let job = try #require(try await cluster.jobs(of: "keyed").first)
            let container = job[path: "spec", "template", "spec", "containers"]?[0]
            #expect(container?["env"] == [["name": "TRON_PRO_API_KEY", "valueFrom": ["secretKeyRef": ["name": "trongrid", "key": "api-key", "optional": true]]]])
            #expect(!job.jsonText.contains(key), "the key is in no Job")
            let command = container?["command"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(command.split(separator: "--tron-url").count == 2 && command.contains(cluster.fake.baseURL), "--tron-url goes to the Job")

            // A Secret that is not there stops the start with a message naming it.
            await #expect(throws: (any Error).self) {
                try await cluster.withOperator(apiKeySecret: TronAPIKeySecret(namespace: "lucid-system", name: "missing")) { _ in }
            }
        }
    }
}

struct WaitTimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Polls `produce` until it gives a value; throws after `limit`.
func waitFor<T: Sendable>(_ what: String, within limit: Duration = .seconds(30), _ produce: @Sendable () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + limit
    while true {
        if let value = try await produce() { return value }
        guard ContinuousClock.now < deadline else { throw WaitTimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(20))
    }
}
