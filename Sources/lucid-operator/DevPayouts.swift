import ArgumentParser
import DevJobRunner
import FakeTronGrid
import Foundation
import KubeClient
import Logging
import LoopbackServer
import ServiceLifecycle
import Tron

/// `dev`'s own payout flags.
struct DevPayoutOptions: ParsableArguments {
    @Option(help: "The lucid-payout the dev Job runner runs (default: the one beside lucid-operator).")
    var payoutBinary: String?
}

/// DEVELOPMENT ONLY (`lucid-operator dev`; never on `run`'s path): pays for real on one machine.
/// Unless `--tron-url` names endpoints, a simulated chain (`FakeTronGrid`) serves every network
/// on a loopback port, so nothing in dev ever reaches a public TRON network; the dev-only Job
/// runner runs the payout Jobs created in the embedded API server with the built `lucid-payout`.
struct DevPayouts: Sendable {
    /// The simulated chain's port; nil when `--tron-url` was given.
    let fakeChainPort: Int?
    let payoutBinary: String

    /// Chooses the chain and the binary; `tronURLs` are the `--tron-url` values.
    init(tronURLs: [String], payoutBinary: String?) throws {
        fakeChainPort = tronURLs.isEmpty ? try LoopbackPort.unused() : nil
        let binary = payoutBinary ?? Self.besideThisExecutable("lucid-payout")
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ValidationError("no lucid-payout at \(binary): build it (swift build) or give --payout-binary")
        }
        self.payoutBinary = binary
    }

    /// The `--tron-url` values that point every network at the simulated chain (none without one).
    var tronURLs: [String] {
        guard let port = fakeChainPort else { return [] }
        return TronNetwork.all.map { "\($0.name)=http://127.0.0.1:\(port)" }
    }

    /// What `dev` prints about payouts.
    func banner(kubeconfig: String) -> String {
        let chain = fakeChainPort.map { "a simulated TRON chain (FakeTronGrid) on http://127.0.0.1:\($0) for \(TronNetwork.all.map(\.name).joined(separator: ", "))" }
            ?? "the TronGrid endpoints given with --tron-url"
        return """
            Payouts: paid on \(chain); payout Jobs run on this machine by the dev-only Job runner with \(payoutBinary).
              kubectl --kubeconfig \(kubeconfig) get tronpayouts -A -w
              kubectl --kubeconfig \(kubeconfig) wait --for=condition=Ready tronpayouts --all -n lucid-treasury --timeout=60s

            """
    }

    /// The simulated chain (if any) and the Job runner, against the server at `serverURL`.
    func services(config: KubeConfig, logger: Logger) throws -> [any Service] {
        let client = try KubeClient(config: config, retry: RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(50)))
        let runner = DevJobRunner(client: client, configuration: DevJobRunner.Configuration(payoutBinary: payoutBinary), logger: logger)
        return (fakeChainPort.map { [FakeChain(port: $0)] } ?? []) + [runner]
    }

    static func besideThisExecutable(_ name: String) -> String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent(name).path
    }
}

/// The simulated chain as a lifecycle service: blocks every 100 ms, solid 5 blocks behind.
struct FakeChain: Service {
    let port: Int

    func run() async throws {
        try await FakeTronGrid.run(port: port, blockInterval: .milliseconds(100), solidLag: 5) { _ in
            try? await gracefulShutdown()
        }
    }
}
