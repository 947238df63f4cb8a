import LucidAPI
import Payouts
import Testing
import Tron
import YAML

@Suite struct PayoutJobTests {
    func prepared(_ payout: TronPayout = makePayout(), settings: PayoutSettings = defaultSettings) throws -> (TronPayout, PayoutAttempt, JSON) {
        var world = World(payout)
        world.settings = settings
        world.settle()
        let attempt = try #require(world.currentAttempt)
        let job = try #require(world.jobsCreated.first)
        return (world.payout, attempt, job)
    }

    @Test func namesAreDeterministicAndFitALabel() {
        #expect(PayoutJob.name(payout: "session-8f2c1e", attempt: 1) == "payout-session-8f2c1e-1")
        let long = String(repeating: "a", count: 80) + ".x"
        let one = PayoutJob.name(payout: long, attempt: 1), two = PayoutJob.name(payout: long, attempt: 12)
        #expect(one.count <= 63 && two.count <= 63)
        #expect(one.hasPrefix("payout-aaaa") && one.hasSuffix("-1") && two.hasSuffix("-12"))
        #expect(PayoutJob.name(payout: long + "y", attempt: 1) != one, "cut names stay distinct")
        #expect(PayoutJob.name(payout: long, attempt: 1) == one)
    }

    @Test func theJobRunsOncePerAttemptHardenedAndOwnedByThePayout() throws {
        let (payout, attempt, job) = try prepared()
        #expect(job["apiVersion"] == "batch/v1" && job["kind"] == "Job")
        #expect(job[path: "metadata", "name"]?.stringValue == "payout-session-1-1")
        #expect(job[path: "metadata", "namespace"] == "lucid-payment")
        #expect(job[path: "metadata", "labels", "app.kubernetes.io/managed-by"] == "lucid-operator")
        #expect(job[path: "metadata", "labels", PayoutJob.attemptLabel] == "1")
        #expect(job[path: "metadata", "annotations", PayoutJob.txIDAnnotation]?.stringValue == attempt.txID)
        let owner = try #require(job[path: "metadata", "ownerReferences"]?[0])
        #expect(owner == ["apiVersion": "payments.lucid.io/v1alpha1", "kind": "TronPayout", "name": "session-1",
                          "uid": .string(payout.metadata.uid ?? ""), "controller": true, "blockOwnerDeletion": true])
        let spec = try #require(job["spec"])
        #expect(spec["backoffLimit"] == 0)
        #expect(spec["podReplacementPolicy"] == "Failed")
        #expect(spec["activeDeadlineSeconds"] == 300)
        let pod = try #require(spec[path: "template", "spec"])
        #expect(pod["restartPolicy"] == "Never")
        #expect(pod["automountServiceAccountToken"] == false)
        #expect(pod[path: "securityContext", "runAsNonRoot"] == true)
        #expect(pod[path: "securityContext", "seccompProfile", "type"] == "RuntimeDefault")
        let container = try #require(pod["containers"]?[0])
        #expect(container["image"] == "lucid-payout:test")
        #expect(container[path: "securityContext", "readOnlyRootFilesystem"] == true)
        #expect(container[path: "securityContext", "allowPrivilegeEscalation"] == false)
        #expect(container[path: "securityContext", "capabilities", "drop"] == ["ALL"])
        #expect(container[path: "resources", "limits", "memory"] == "128Mi")
        #expect(container[path: "resources", "requests", "cpu"] == "50m")
        #expect(container["terminationMessagePath"] == "/dev/termination-log")
        #expect(container["volumeMounts"] == [["name": "signer", "mountPath": "/var/run/lucid/signer", "readOnly": true]])
        #expect(pod["volumes"] == [["name": "signer", "secret": ["secretName": "payout-signer", "items": [["key": "key", "path": "key"]],
                                                                "defaultMode": 0o440, "optional": true]]])
        #expect(container["env"] == [])
    }

    @Test func theCommandLineIsTheAttemptAndTheURLOnlyWhenGiven() throws {
        let (_, attempt, job) = try prepared()
        let command = job[path: "spec", "template", "spec", "containers"]?[0]?["command"]?.arrayValue?.compactMap(\.stringValue)
        #expect(command == [
            "/usr/local/bin/lucid-payout", "broadcast", "--raw-data-hex", attempt.rawDataHex, "--txid", attempt.txID,
            "--recipient", recipientAddress, "--amount", "125.50", "--currency", "USDT", "--network", "nile",
            "--key-file", "/var/run/lucid/signer/key", "--timeout", "15", "--termination-log", "/dev/termination-log",
            "--tron-url", "http://127.0.0.1:8090",
        ])
        var settings = defaultSettings
        settings.job.tronURLs = [:]
        settings.job.apiKeySecret = SecretKeyRef(name: "trongrid", key: "api-key")
        let (_, _, plain) = try prepared(settings: settings)
        let container = plain[path: "spec", "template", "spec", "containers"]?[0]
        #expect(container?["command"]?.arrayValue?.contains("--tron-url") == false)
        #expect(container?["env"] == [["name": "TRON_PRO_API_KEY", "valueFrom": ["secretKeyRef": ["name": "trongrid", "key": "api-key", "optional": true]]]])
    }

    // MARK: reading a Job

    let uid = "00000000-0000-0000-0000-000000000001"
    let txID = String(repeating: "ab", count: 32)

    func job(conditions: [JSON] = [], owner: String? = nil) -> JSON {
        ["metadata": ["name": "payout-session-1-1", "ownerReferences": [["kind": "TronPayout", "uid": .string(owner ?? uid), "controller": true]]],
         "status": ["conditions": .array(conditions), "completionTime": "2026-07-01T11:00:09Z"]]
    }

    func pod(exitCode: Int64, message: String?, created: String = "2026-07-01T11:00:00Z") -> JSON {
        var terminated: JSON = ["exitCode": .int(exitCode), "finishedAt": "2026-07-01T11:00:08Z", "reason": exitCode == 0 ? "Completed" : "Error"]
        if let message { terminated["message"] = .string(message) }
        return ["metadata": ["creationTimestamp": .string(created)],
                "status": ["containerStatuses": [["name": "lucid-payout", "state": ["terminated": terminated]]]]]
    }

    @Test func absentForeignAndActiveJobs() {
        #expect(PayoutJob.observe(job: nil, pods: [], payoutUID: uid, txID: txID) == .absent)
        #expect(PayoutJob.observe(job: job(owner: "someone-else"), pods: [], payoutUID: uid, txID: txID) == .foreign(ownerUID: "someone-else"))
        #expect(PayoutJob.observe(job: job(), pods: [], payoutUID: uid, txID: txID) == .active)
        let notYet = job(conditions: [["type": "FailureTarget", "status": "False"]])
        #expect(PayoutJob.observe(job: notYet, pods: [], payoutUID: uid, txID: txID) == .active)
    }

    @Test func aCompletedJobGivesTheExitCodeAndTheTerminationReport() {
        let done = job(conditions: [["type": "SuccessCriteriaMet", "status": "True"], ["type": "Complete", "status": "True"]])
        let message = #"{"outcome":"accepted","txID":"\#(txID)","detail":"broadcast accepted"}"#
        let seen = PayoutJob.observe(job: done, pods: [pod(exitCode: 0, message: message)], payoutUID: uid, txID: txID)
        #expect(seen == .finished(JobResult(succeeded: true, exitCode: 0,
                                            report: TerminationReport(outcome: "accepted", txID: txID, detail: "broadcast accepted"),
                                            finishedAt: "2026-07-01T11:00:09Z")))
    }

    @Test func aPodWithoutItsSignerKeyReportsSignerMissing() {
        let failed = job(conditions: [["type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"]])
        let message = #"{"outcome":"signerMissing","txID":"\#(txID)","detail":"no signer key at /var/run/lucid/signer/key"}"#
        guard case .finished(let result) = PayoutJob.observe(job: failed, pods: [pod(exitCode: 64, message: message)], payoutUID: uid, txID: txID) else {
            Issue.record("expected a finished Job")
            return
        }
        #expect(result.report?.outcome == TerminationReport.signerMissing)
        #expect(result.exitCode == 64)
    }

    @Test func aFailedJobGivesItsReasonAndNoReportUnlessItNamesTheTxID() {
        let failed = job(conditions: [["type": "FailureTarget", "status": "True", "reason": "DeadlineExceeded"],
                                      ["type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                                       "message": "Job was active longer than specified deadline", "lastTransitionTime": "2026-07-01T11:05:00Z"]])
        let other = #"{"outcome":"notSent","txID":"\#(String(repeating: "cd", count: 32))","detail":"x"}"#
        let pods = [pod(exitCode: 137, message: nil, created: "2026-07-01T11:00:00Z"), pod(exitCode: 3, message: other, created: "2026-07-01T10:00:00Z")]
        guard case .finished(let result) = PayoutJob.observe(job: failed, pods: pods, payoutUID: uid, txID: txID) else {
            Issue.record("expected a finished Job")
            return
        }
        #expect(!result.succeeded)
        #expect(result.reason == "DeadlineExceeded")
        #expect(result.exitCode == 137, "the newest pod")
        #expect(result.report == nil)
        let withBadMessage = PayoutJob.observe(job: failed, pods: [pod(exitCode: 3, message: "not json")], payoutUID: uid, txID: txID)
        if case .finished(let r) = withBadMessage { #expect(r.report == nil && r.exitCode == 3) } else { Issue.record("\(withBadMessage)") }
        #expect(PayoutJob.observe(job: failed, pods: [], payoutUID: uid, txID: txID)
                == .finished(JobResult(succeeded: false, reason: "DeadlineExceeded", message: "Job was active longer than specified deadline",
                                       finishedAt: "2026-07-01T11:00:09Z")))
    }
}

@Suite struct PayoutSettingsTests {
    @Test func thresholdsParse() throws {
        let t = try PayoutSettings.parseThresholds(["USDT=1000,TRX=20000.5"])
        #expect(t == [.usdt: try Amount(decimal: "1000", currency: .usdt), .trx: try Amount(decimal: "20000.5", currency: .trx)])
        #expect(try PayoutSettings.parseThresholds(["usdt=1", "trx=2"]).count == 2)
        #expect(try PayoutSettings.parseThresholds([]).isEmpty)
        for (bad, words) in [("USDT", "CURRENCY=AMOUNT"), ("EUR=5", "not USDT or TRX"), ("USDT=1,USDT=2", "twice"), ("TRX=-1", "decimal")] {
            #expect(throws: SettingsError.self, "\(bad)") { _ = try PayoutSettings.parseThresholds([bad]) }
            do { _ = try PayoutSettings.parseThresholds([bad]) } catch { #expect(error.description.contains(words), "\(error)") }
        }
    }

    @Test func theThresholdIsInclusive() throws {
        let settings = PayoutSettings(approvalThresholds: [.usdt: try Amount(decimal: "1000", currency: .usdt)])
        #expect(settings.needsApproval(try Amount(decimal: "1000", currency: .usdt), .usdt))
        #expect(!settings.needsApproval(try Amount(decimal: "999.999999", currency: .usdt), .usdt))
        #expect(!settings.needsApproval(try Amount(decimal: "1000000", currency: .trx), .trx), "no threshold, no approval")
    }
}

@Suite struct SessionClaimTests {
    @Test func oneNamePerSessionAndItReadsBack() {
        let payout = makePayout(session: "Session.With_Odd-Chars.1")
        let object = SessionClaim.object(for: payout)
        let name = object[path: "metadata", "name"]?.stringValue ?? ""
        #expect(name == SessionClaim.name(sessionId: "Session.With_Odd-Chars.1"))
        #expect(name.count <= 63 && name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" })
        #expect(SessionClaim.name(sessionId: "a") != SessionClaim.name(sessionId: "b"))
        #expect(object[path: "metadata", "ownerReferences"] == nil, "the claim outlives its payout")
        #expect(SessionClaim.state(of: object) == .held(payoutName: "session-1", payoutUID: "00000000-0000-0000-0000-000000000001"))
        #expect(SessionClaim.state(of: nil) == .absent)
    }
}
