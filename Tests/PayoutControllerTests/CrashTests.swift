import APIServer
import DevJobRunner
import FakeTronGrid
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import LucidAPI
import Payouts
import Testing
import Tron
import YAML

#if canImport(Glibc)
import Glibc
#endif

/// One `lucid-operator run` process against the cluster, paying on its simulated chain.
struct OperatorProcess: Sendable {
    let process: ChildProcess
    let log: String

    init(_ cluster: PayoutCluster, _ name: String) throws {
        let binary = try #require(builtBinary("lucid-operator"), "lucid-operator is not built")
        log = "\(cluster.folder)/operator-\(name).log"
        let urls = TronNetwork.all.flatMap { ["--tron-url", "\($0.name)=\(cluster.fake.baseURL)"] }
        process = try ChildProcess(binary, ["run", "--kubeconfig", cluster.kubeconfig, "--namespace", namespace, "--no-leader-elect", "--identity", name,
                                            "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0",
                                            "--payout-chain-poll-interval", "0.2"] + urls,
                                   outputPath: log, lifetime: .seconds(180))
    }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// The ports it announced: (metrics, probes).
    var ports: (Int, Int)? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("metrics on ") }) else { return nil }
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.filter { $0 > 1000 }
        return numbers.count >= 2 ? (numbers[0], numbers[1]) : nil
    }

    /// Waits until its `/readyz` answers 200 (every cache listed).
    func waitReady() async throws {
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await waitUntil(.seconds(30), "the operator's caches to sync", interval: .milliseconds(20)) {
            guard let (_, probes) = ports else { return false }
            return (try? await http.execute(HTTPRequest(url: "http://127.0.0.1:\(probes)/readyz")).status) == 200
        }
    }

    func metrics() async throws -> String {
        let (port, _) = try #require(ports)
        let http = try HTTPClient()
        defer { http.shutdown() }
        return try await http.execute(HTTPRequest(url: "http://127.0.0.1:\(port)/metrics")).bodyText
    }

    /// SIGKILL to the operator itself (it runs under `timeout`): no chance to finish anything.
    func kill() async {
        // Right after the start `timeout` may not have forked the operator yet: wait for it.
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let children = (try? String(contentsOfFile: "/proc/\(process.pid)/task/\(process.pid)/children", encoding: .utf8)) ?? ""
            let pids = children.split(separator: " ").compactMap { Int32($0) }
            if !pids.isEmpty || !process.isRunning {
                for child in pids { _ = Glibc.kill(child, SIGKILL) }
                break
            }
            try? await Task.sleep(for: .milliseconds(2))
        }
        _ = await process.exit()
    }
}

/// At most once with the process that decides killed after every step: the real binary, the
/// real `lucid-payout`, the simulated chain counting broadcasts per txID and transfers.
@Suite(.serialized) struct CrashTests {
    @Test(.timeLimit(.minutes(3))) func eachPayoutReachesTheChainExactlyOnceWhateverIsKilled() async throws {
        try await PayoutCluster.with(blockInterval: .milliseconds(20), solidLag: 5) { cluster in
            let survivor = try await crashRound(cluster, tag: "clean", usdt: "61.5", trx: "6")

            // Metrics of the last process: it saw both payouts complete; one more payout goes all the way through it.
            try await cluster.create(payoutsResource, payoutObject("metered", amount: "1.25", currency: "TRX"))
            try await cluster.wait("metered", .completed)
            try await waitUntil(.seconds(30), "the finalizers of the paid payouts to go") {
                try await cluster.client.list(payoutsResource, namespace: namespace).items.allSatisfy { $0[path: "metadata", "finalizers"] == nil }
            }
            let metrics = try await survivor.metrics()
            for line in [#"lucid_payouts_total{phase="Completed"} 3"#, #"lucid_payouts_total{phase="Prepared"} 1"#, "lucid_payout_attempts_total 1",
                         "lucid_payout_confirmation_seconds_count 3"] {
                #expect(metrics.contains(line), "metrics lack \(line)")
            }
            await survivor.kill()

            // A restart over terminal payouts writes nothing.
            let idle = try OperatorProcess(cluster, "idle")
            try await idle.waitReady()
            let before = cluster.server.writes.total
            try await Task.sleep(for: .seconds(3))
            #expect(cluster.server.writes.total == before, "the restarted operator wrote: \(cluster.server.writes.byResource)")
            await idle.kill()

            // Again with 10 % of API requests failing and every watch cut after a second.
            cluster.server.setFaults {
                $0.errorRate["*"] = 0.1
                $0.dropWatchesAfter = .seconds(1)
            }
            let last = try await crashRound(cluster, tag: "faults", usdt: "62.5", trx: "7")
            await last.kill()
            cluster.server.setFaults { $0 = APIServer.Faults() }
            #expect(cluster.fake.totalBroadcasts == 5, "one broadcast per payout, five payouts")
            #expect(cluster.fake.transfers.count == 5)
        }
    }

    /// One round: a USDT and a TRX payout, the operator SIGKILLed after each step and started
    /// again; the TRX payout's Job is also killed mid-broadcast. Returns the last operator, running.
    func crashRound(_ cluster: PayoutCluster, tag: String, usdt: String, trx: String) async throws -> OperatorProcess {
        let (u, t) = ("crash-\(tag)-usdt", "crash-\(tag)-trx")
        let runner = cluster.runner
        runner.hold(true)

        // 1. Prepared and persisted, and no further: every create fails, so no Job can follow (the
        // payouts and their session claims are put in place beside the API; the claims as the
        // operator makes them).
        cluster.server.setFaults { $0.errorRate["create"] = 1 }
        try cluster.server.install([payoutObject(u, amount: usdt), payoutObject(t, amount: trx, currency: "TRX")])
        for name in [u, t] { try cluster.server.install([SessionClaim.object(for: try await cluster.payout(name))]) }
        var op = try OperatorProcess(cluster, "\(tag)-1")
        let attempts: [PayoutAttempt] = try await waitFor("both payouts prepared") { () async throws -> [PayoutAttempt]? in
            let a = try await cluster.payout(u).status?.attempts?.first
            let b = try await cluster.payout(t).status?.attempts?.first
            guard let a, let b else { return nil }
            return [a, b]
        }
        let (au, at) = (attempts[0], attempts[1])
        await op.kill()
        #expect(try await cluster.client.list(.jobs, namespace: namespace, options: ListOptions(labelSelector: PayoutJob.payoutLabel)).items
            .filter { [u, t].contains($0[path: "metadata", "labels", PayoutJob.payoutLabel]?.stringValue ?? "") }.isEmpty)

        // 2. The Jobs created, and no further: every update (the status) fails. Held: not running yet.
        cluster.server.setFaults {
            $0.errorRate["create"] = nil
            $0.errorRate["update"] = 1
        }
        op = try OperatorProcess(cluster, "\(tag)-2")
        try await waitUntil(.seconds(30), "both Jobs created") { runner.waiting.count == 2 }
        await op.kill()
        cluster.server.setFaults { $0.errorRate["update"] = nil }
        #expect(try await cluster.payout(u).status?.phase == .prepared)

        // 3. The Jobs running: caught as their processes start, and stopped there.
        cluster.fake.setFaults { $0.acceptThenStallTxIDs = [au.txID: .seconds(3), at.txID: .seconds(3)] }
        cluster.fake.holdSolid(true)
        op = try OperatorProcess(cluster, "\(tag)-3")
        try await op.waitReady()
        let (ju, jt) = (DevJobRunner.JobKey(namespace: namespace, name: au.jobName), DevJobRunner.JobKey(namespace: namespace, name: at.jobName))
        runner.hold(false)
        try await waitUntil(.seconds(30), "both Job processes to start", interval: .milliseconds(1)) {
            for job in [ju, jt] where runner.pid(of: job) != nil { runner.pause(job) }
            return runner.pid(of: ju) != nil && runner.pid(of: jt) != nil
        }
        await op.kill()

        // 4. The broadcasts accepted (their answers stall): a new operator sees them, and is killed.
        op = try OperatorProcess(cluster, "\(tag)-4")
        try await op.waitReady()
        runner.resume(ju)
        runner.resume(jt)
        try await waitUntil(.seconds(30), "both broadcasts accepted") {
            cluster.fake.broadcasts(of: au.txID) == 1 && cluster.fake.broadcasts(of: at.txID) == 1
        }
        await op.kill()
        // The TRX Job's process dies mid-broadcast: no exit report, only the chain can tell.
        #expect(runner.kill(jt))

        // 5. The Jobs finished, the transactions not yet solid: killed before the confirmation.
        op = try OperatorProcess(cluster, "\(tag)-5")
        try await waitUntil(.seconds(30), "both payouts confirming") {
            let phases = [try await cluster.payout(u).status?.phase, try await cluster.payout(t).status?.phase]
            return phases == [.confirming, .confirming]
        }
        await op.kill()

        // 6. Finality resumes; a last operator confirms.
        cluster.fake.holdSolid(false)
        op = try OperatorProcess(cluster, "\(tag)-6")
        let paidU = try await cluster.wait(u, .completed)
        let paidT = try await cluster.wait(t, .completed)

        for (paid, attempt, amount, currency) in [(paidU, au, usdt, Currency.usdt), (paidT, at, trx, Currency.trx)] {
            let name = paid.metadata.name ?? ""
            #expect(paid.status?.attempts?.count == 1 && paid.status?.attempts?.first?.txID == attempt.txID, "\(name): one attempt, its txID unchanged")
            #expect(paid.status?.confirmation?.txID == attempt.txID)
            #expect(cluster.fake.broadcasts(of: attempt.txID) == 1, "\(name): broadcast \(cluster.fake.broadcasts(of: attempt.txID)) times")
            #expect(cluster.transfers(amount, currency).map(\.txID) == [attempt.txID], "\(name): paid \(cluster.transfers(amount, currency).count) times")
            #expect(try await cluster.jobs(of: name).count == 1)
            #expect(try await cluster.client.list(.pods, namespace: namespace,
                                                  options: ListOptions(labelSelector: "batch.kubernetes.io/job-name=\(attempt.jobName)")).items.count == 1)
        }
        #expect(paidU.status?.attempts?.first?.job?.outcome == "accepted")
        #expect(paidT.status?.attempts?.first?.job?.outcome == "unknown" && paidT.status?.attempts?.first?.job?.exitCode == 137,
                "the killed Job left no report")
        #expect(runner.started.filter { $0 == ju || $0 == jt }.count == 2, "each Job ran once")
        return op
    }
}
