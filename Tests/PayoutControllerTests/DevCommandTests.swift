import FakeTronGrid
import Foundation
import LoopbackServer
import Testing
import Tron

#if canImport(Glibc)
import Glibc
#endif

/// `lucid-operator dev --samples` pays the sample payouts on one machine.
@Suite struct DevCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Runs `lucid-operator dev --samples` with `extra` arguments for the duration of `body`, then
    /// stops it with SIGTERM and expects a clean exit.
    func withDev(_ extra: [String], _ body: @Sendable (_ kubeconfig: String, _ output: @Sendable () -> String) async throws -> Void) async throws {
        let binary = try #require(builtBinary("lucid-operator"), "lucid-operator is not built")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-dev-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let kubeconfig = "\(folder)/kubeconfig", log = "\(folder)/dev.log"
        let dev = try ChildProcess(binary, ["dev", "--samples", "--samples-path", "\(Self.repository)/manifests/samples", "--kubeconfig", kubeconfig] + extra,
                                   outputPath: log, lifetime: .seconds(120))
        let output: @Sendable () -> String = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        do {
            try await waitUntil(.seconds(30), "dev to write its kubeconfig") { output().contains("Payouts: paid on") }
            try await body(kubeconfig, output)
        } catch {
            dev.stop()
            throw error
        }
        let children = (try? String(contentsOfFile: "/proc/\(dev.pid)/task/\(dev.pid)/children", encoding: .utf8)) ?? ""
        for child in children.split(separator: " ").compactMap({ Int32($0) }) { kill(child, SIGTERM) }
        #expect(await dev.exit() == 0, "dev did not stop cleanly: \(output().suffix(800))")
    }

    func kubectl(_ kubeconfig: String, _ arguments: [String]) async throws -> (Int32, String) {
        let out = kubeconfig + ".kubectl-\(UUID().uuidString)"
        let status = try await ChildProcess.run("kubectl", ["--kubeconfig", kubeconfig] + arguments, outputPath: out)
        return (status, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    @Test(.timeLimit(.minutes(4))) func theSamplePayoutsComplete() async throws {
        try await withDev([]) { kubeconfig, output in
            #expect(output().contains("a simulated TRON chain (FakeTronGrid)"))
            let (status, text) = try await kubectl(kubeconfig, ["wait", "--for=condition=Ready", "tronpayouts", "--all", "-n", "lucid-treasury", "--timeout=60s"])
            #expect(status == 0, "\(text)")
            let (_, approver) = try await kubectl(kubeconfig, ["get", "tronpayout", "session-3b9d40", "-n", "lucid-treasury", "-o", "jsonpath={.status.approval.approver}"])
            #expect(approver == "treasury-admin", "the approval sample records its approver")
        }
    }

    @Test(.timeLimit(.minutes(4))) func withTronURLTheOperatorAndTheJobsUseThatEndpoint() async throws {
        try await FakeTronGrid.run { fake in
            try await withDev(["--tron-url", "nile=\(fake.baseURL)"]) { kubeconfig, output in
                #expect(output().contains("the TronGrid endpoints given with --tron-url"))
                let (status, text) = try await kubectl(kubeconfig, ["wait", "--for=condition=Ready", "tronpayouts", "--all", "-n", "lucid-treasury", "--timeout=60s"])
                #expect(status == 0, "\(text)")
                #expect(fake.transfers.count == 2, "both sample payouts (on nile) were paid on the given endpoint")
                #expect(fake.transfers(to: "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru", amount: "125.50", token: TronNetwork.nile.usdtContract).count == 1)
            }
        }
    }
}
