import APIServer
import DevJobRunner
import FakeTronGrid
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import LucidAPI
import Payouts
import Synchronization
import Testing
import Tron
import YAML

/// The built `lucid-payout`, beside the test bundle.
let payoutBinary: String? = {
    let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let candidates = [bundleDir, bundleDir.deletingLastPathComponent()].map { $0.appendingPathComponent("lucid-payout").path }
        + [URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/lucid-payout").path]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}()

let signerKeyHex = "8e812436a0e3323166e1f0e8ba79e19e217b2c4a53c970d4cca0cfb1078979df"
let signer = "THKrowiEfCe8evdbaBzDDvQjM5DGeB3s3F"
let recipient = "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru"
let namespace = "lucid-payment"
let payouts = GroupVersionResource(group: "payments.lucid.io", version: "v1alpha1", resource: "tronpayouts")

/// The embedded API server with the CRDs, the namespace and the signer Secret; a fake chain;
/// a runner to start and stop.
struct DevCluster: Sendable {
    let server: APIServer
    let client: KubeClient
    let fake: FakeTronGrid
    let binary: String
    let work: String

    func runner() -> DevJobRunner {
        DevJobRunner(client: client, configuration: DevJobRunner.Configuration(payoutBinary: binary, namespace: namespace, workDirectory: work))
    }

    /// Runs `runner` for the duration of `body`.
    func running<T: Sendable>(_ runner: DevJobRunner, _ body: @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await runner.run() }
            defer { group.cancelAll() }
            try await waitUntil(.seconds(30), "the runner's first list") { runner.hasListed }
            return try await body()
        }
    }

    /// A payout in the API server and the Job of its first attempt, prepared from the fake's
    /// solid head, as the operator will make them.
    func createJob(name: String, amount: String = "12.5", currency: Currency = .usdt, deadline: Int = 60,
                   command: String = "lucid-payout") async throws -> (key: DevJobRunner.JobKey, attempt: PayoutAttempt) {
        var meta = ObjectMeta(name: name, namespace: namespace)
        meta.labels = ["test": "dev-job-runner"]
        let payout = TronPayout(metadata: meta, spec: TronPayoutSpec(
            sessionId: name, recipient: recipient, amount: amount, currency: currency, network: "nile",
            signer: Signer(secretRef: SecretKeyRef(name: "payout-signer", key: "key"), address: signer)))
        let stored = try await client.create(payouts, namespace: namespace, try JSON.encode(payout))
        let created = try TronPayout.decode(stored)
        let intent = try PayoutIntent(recipient: recipient, amount: amount, currency: currency.rawValue, network: "nile")
        let raw = TransactionBuilder.build(intent, owner: try TronAddress(signer), reference: fake.solidBlock())
        let attempt = PayoutAttempt(attempt: 1, txID: raw.txID.hex, rawDataHex: raw.encoded().hex, expiration: raw.expiration,
                                    jobName: PayoutJob.name(payout: name, attempt: 1))
        let settings = JobSettings(image: "lucid-payout:dev", command: command, activeDeadlineSeconds: deadline,
                                   tronURLs: ["nile": fake.baseURL], tronTimeoutSeconds: 60)
        _ = try await client.create(.jobs, namespace: namespace, PayoutJob.build(payout: created, attempt: attempt, settings: settings))
        return (DevJobRunner.JobKey(namespace: namespace, name: attempt.jobName), attempt)
    }

    func job(_ key: DevJobRunner.JobKey) async throws -> JSON { try await client.get(.jobs, namespace: namespace, name: key.name) }

    func pods(_ key: DevJobRunner.JobKey) async throws -> [JSON] {
        try await client.list(.pods, namespace: namespace, options: ListOptions(labelSelector: "batch.kubernetes.io/job-name=\(key.name)")).items
    }

    func waitFinished(_ key: DevJobRunner.JobKey, within limit: Duration = .seconds(30)) async throws -> JSON {
        try await waitUntil(limit, "job \(key) to finish") {
            let conditions = try await job(key)[path: "status", "conditions"]?.arrayValue ?? []
            return conditions.contains { ["Complete", "Failed"].contains($0["type"]?.stringValue ?? "") && $0["status"] == "True" }
        }
        return try await job(key)
    }

    func observe(_ key: DevJobRunner.JobKey, _ attempt: PayoutAttempt) async throws -> JobObservation {
        let job = try await job(key)
        let uid = job[path: "metadata", "ownerReferences"]?[0]?["uid"]?.stringValue ?? ""
        return PayoutJob.observe(job: job, pods: try await pods(key), payoutUID: uid, txID: attempt.txID)
    }

    static func with(_ body: @Sendable (DevCluster) async throws -> Void) async throws {
        let binary = try #require(payoutBinary, "lucid-payout is not built (swift build --build-tests builds it)")
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-runner-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        try await APIServer.run { server in
            try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
            let client = try KubeClient(config: KubeConfig(server: server.url), retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(20)))
            _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]])
            _ = try await client.create(.secrets, namespace: namespace, [
                "apiVersion": "v1", "kind": "Secret", "metadata": ["name": "payout-signer"], "stringData": ["key": .string(signerKeyHex)],
            ])
            try await FakeTronGrid.run { fake in
                try await body(DevCluster(server: server, client: client, fake: fake, binary: binary, work: work))
            }
        }
    }
}

func condition(_ job: JSON, _ type: String) -> JSON? {
    job[path: "status", "conditions"]?.arrayValue?.first { $0["type"]?.stringValue == type }
}

@Suite struct DevJobRunnerTests {
    @Test func aJobPaysOnceAndIsWrittenBackAsKubernetesWould() async throws {
        try await DevCluster.with { cluster in
            let runner = cluster.runner()
            let (key, attempt) = try await cluster.running(runner) {
                let made = try await cluster.createJob(name: "pays-once")
                _ = try await cluster.waitFinished(made.key)
                return made
            }
            let job = try await cluster.job(key)
            #expect(condition(job, "SuccessCriteriaMet")?["status"] == "True")
            #expect(condition(job, "Complete")?["status"] == "True")
            #expect(condition(job, "Complete")?["reason"] == "CompletionsReached")
            #expect(job[path: "status", "succeeded"] == 1 && job[path: "status", "active"] == 0)
            #expect(job[path: "status", "startTime"]?.stringValue != nil && job[path: "status", "completionTime"]?.stringValue != nil)

            let pods = try await cluster.pods(key)
            let pod = try #require(pods.first)
            #expect(pods.count == 1)
            #expect(pod[path: "metadata", "labels", "job-name"]?.stringValue == key.name)
            #expect(pod[path: "metadata", "labels", "controller-uid"] == job[path: "metadata", "uid"])
            #expect(pod[path: "metadata", "ownerReferences"]?[0]?["kind"] == "Job")
            #expect(pod[path: "metadata", "ownerReferences"]?[0]?["controller"] == true)
            #expect(pod[path: "status", "phase"] == "Succeeded")
            let terminated = try #require(pod[path: "status", "containerStatuses"]?[0]?[path: "state", "terminated"])
            #expect(terminated["exitCode"] == 0)
            #expect(terminated["reason"] == "Completed")

            guard case .finished(let result) = try await cluster.observe(key, attempt) else {
                Issue.record("the Job does not read as finished")
                return
            }
            #expect(result.succeeded && result.exitCode == 0)
            #expect(result.report?.outcome == "accepted")
            #expect(result.report?.txID == attempt.txID)

            try await waitUntil(.seconds(30), "the transfer in a solid block") { cluster.fake.isSolid(attempt.txID) }
            #expect(cluster.fake.broadcasts(of: attempt.txID) == 1)
            #expect(cluster.fake.transfers(to: recipient, amount: "12.5", token: TronNetwork.nile.usdtContract).count == 1)
            #expect(runner.started == [key])

            // A new runner over the same cluster never runs it again.
            let second = cluster.runner()
            try await cluster.running(second) {}
            #expect(second.started.isEmpty)
            #expect(try await cluster.pods(key).count == 1)
            #expect(cluster.fake.totalBroadcasts == 1)
        }
    }

    @Test func aJobAnEarlierRunnerStartedIsFailedNotRunAgain() async throws {
        try await DevCluster.with { cluster in
            let (key, attempt) = try await cluster.createJob(name: "orphaned")
            // Claimed by a runner that died before its process ran.
            var job = try await cluster.job(key)
            job["status"] = ["startTime": "2026-07-01T10:00:00Z", "active": 1]
            _ = try await cluster.client.updateStatus(.jobs, namespace: namespace, job)
            let runner = cluster.runner()
            let finished = try await cluster.running(runner) { try await cluster.waitFinished(key) }
            #expect(condition(finished, "FailureTarget")?["status"] == "True")
            #expect(condition(finished, "Failed")?["reason"] == "BackoffLimitExceeded")
            #expect(runner.started.isEmpty)
            #expect(cluster.fake.broadcasts(of: attempt.txID) == 0)
            #expect(try await cluster.observe(key, attempt) == .finished(JobResult(
                succeeded: false, reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit",
                finishedAt: condition(finished, "Failed")?["lastTransitionTime"]?.stringValue)))
        }
    }

    @Test func theDeadlineKillsTheProcessAndTheJobFails() async throws {
        try await DevCluster.with { cluster in
            cluster.fake.setFaults { $0.acceptThenStall = .seconds(30) }
            let runner = cluster.runner()
            let (key, attempt) = try await cluster.running(runner) {
                // Long enough for the process to start and broadcast on a loaded machine; the
                // node then stalls its answer far past the deadline.
                let made = try await cluster.createJob(name: "too-slow", currency: .trx, deadline: 8)
                _ = try await cluster.waitFinished(made.key, within: .seconds(30))
                return made
            }
            let job = try await cluster.job(key)
            #expect(condition(job, "FailureTarget")?["reason"] == "DeadlineExceeded")
            #expect(condition(job, "Failed")?["reason"] == "DeadlineExceeded")
            #expect(job[path: "status", "failed"] == 1)
            #expect(job[path: "status", "completionTime"] == nil)
            let pod = try #require(try await cluster.pods(key).first)
            #expect(pod[path: "status", "phase"] == "Failed")
            #expect(pod[path: "status", "reason"] == "DeadlineExceeded")
            #expect(pod[path: "status", "containerStatuses"]?[0]?[path: "state", "terminated", "exitCode"] == 137)
            guard case .finished(let result) = try await cluster.observe(key, attempt) else {
                Issue.record("not finished")
                return
            }
            #expect(!result.succeeded && result.report == nil && result.exitCode == 137)
            // The node took the transaction before the process died: it lands, once.
            try await waitUntil(.seconds(30), "the transfer") { !cluster.fake.transfers.isEmpty }
            #expect(cluster.fake.transfers(to: recipient, amount: "12.5").count == 1)
            #expect(cluster.fake.broadcasts(of: attempt.txID) == 1)
        }
    }

    @Test func heldJobsWaitAndARunningOneCanBePausedAndKilled() async throws {
        try await DevCluster.with { cluster in
            let runner = cluster.runner()
            runner.hold(true)
            try await cluster.running(runner) {
                let (key, attempt) = try await cluster.createJob(name: "crash-me")
                try await waitUntil(.seconds(30), "the runner to see the Job") { runner.waiting == [key] }
                #expect(try await cluster.job(key)[path: "status", "startTime"] == nil, "a held Job has not started")
                #expect(try await cluster.pods(key).isEmpty)

                cluster.fake.setFaults { $0.acceptThenStall = .seconds(30) }
                runner.hold(false)
                try await waitUntil(.seconds(30), "the broadcast") { cluster.fake.broadcasts(of: attempt.txID) == 1 }
                let pid = try #require(runner.pid(of: key))
                #expect(runner.pause(key))
                try await waitUntil(.seconds(30), "the process to stop") { processState(pid) == "T" }
                #expect(runner.resume(key))
                try await waitUntil(.seconds(30), "the process to continue") { processState(pid) != "T" }
                #expect(runner.kill(key))  // mid-broadcast
                let job = try await cluster.waitFinished(key)
                #expect(condition(job, "Failed")?["reason"] == "BackoffLimitExceeded")
                let pod = try #require(try await cluster.pods(key).first)
                #expect(pod[path: "status", "containerStatuses"]?[0]?[path: "state", "terminated", "exitCode"] == 137)
                guard case .finished(let result) = try await cluster.observe(key, attempt) else {
                    Issue.record("not finished")
                    return
                }
                #expect(result.report == nil, "killed before writing its termination message")
                #expect(!runner.kill(key), "nothing left to kill")
                try await waitUntil(.seconds(30), "the transfer") { !cluster.fake.transfers.isEmpty }
                #expect(cluster.fake.transfers.count == 1)
            }
        }
    }

    @Test func aJobThatIsNotAPayoutIsRefused() async throws {
        try await DevCluster.with { cluster in
            let runner = cluster.runner()
            let (key, _) = try await cluster.createJob(name: "not-a-payout", command: "/bin/sh")
            let job = try await cluster.running(runner) { try await cluster.waitFinished(key) }
            #expect(condition(job, "Failed")?["status"] == "True")
            let terminated = try await cluster.pods(key).first?[path: "status", "containerStatuses"]?[0]?[path: "state", "terminated"]
            #expect(terminated?["reason"] == "ContainerCannotRun")
            #expect(terminated?["message"]?.stringValue?.contains("only runs lucid-payout") == true)
            #expect(runner.started.isEmpty)
        }
    }
}

/// The state letter of a process (R, S, T, Z, ...), from /proc.
func processState(_ pid: Int32) -> String? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init)
}
