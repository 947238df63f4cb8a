import ArgumentParser
import Payouts
import Reconcilers
import Tron

/// The payout controller's flags, shared by `run` and `dev`.
struct PayoutOptions: ParsableArguments {
    @Option(name: .customLong("approval-threshold"),
            help: "At or above these amounts a payout waits for a TronPayoutApproval: CURRENCY=AMOUNT, comma-separated or repeated (a currency left out never needs one).")
    var approvalThresholds: [String] = ["USDT=1000,TRX=20000"]

    @Option(help: "Attempts (transactions) per payout before it is Failed; a new one is made only when the last provably can never land.")
    var maxPayoutAttempts = 3

    @Option(name: .customLong("tron-url"),
            help: "TronGrid endpoint of a network, NETWORK=URL (mainnet, nile, shasta; repeatable); the payout Jobs get it too. Others use their public endpoint.")
    var tronURLs: [String] = []

    @Option(name: .customLong("tron-api-key-secret"),
            help: "The Secret holding the TronGrid API key, [NAMESPACE/]NAME[:KEY] (key: api-key); read once at start, never logged. Payout Jobs take it from the Secret of that name in their own namespace.")
    var tronAPIKeySecret: String?

    @Option(help: "The image payout Jobs run (it holds lucid-payout; non-root, read-only root file system).")
    var payoutImage = JobSettings().image

    @Option(help: "Seconds between looks at the solid chain while a payout's transaction may still land (default: 5; dev: 1).")
    var payoutChainPollInterval: Double?

    /// The controller's configuration. `namespace` is where a Secret named without one is read.
    func configuration(namespace: String, pollInterval defaultPoll: Double = 5) throws -> PayoutConfiguration {
        var settings = PayoutSettings()
        do {
            settings.approvalThresholds = try PayoutSettings.parseThresholds(approvalThresholds)
        } catch {
            throw ValidationError("--approval-threshold: \(error.description)")
        }
        guard (1...20).contains(maxPayoutAttempts) else { throw ValidationError("--max-payout-attempts must be between 1 and 20") }
        settings.maxAttempts = maxPayoutAttempts
        let poll = payoutChainPollInterval ?? defaultPoll
        guard poll >= 0.05, poll <= 3600 else { throw ValidationError("--payout-chain-poll-interval must be between 0.05 and 3600 seconds") }
        settings.chainPollInterval = .milliseconds(Int64(poll * 1000))
        settings.job.image = payoutImage
        let endpoints: TronEndpoints
        do { endpoints = try TronEndpoints.parse(tronURLs) } catch { throw ValidationError(error.description) }
        var apiKey: TronAPIKeySecret?
        if let tronAPIKeySecret {
            do { apiKey = try TronAPIKeySecret.parse(tronAPIKeySecret, defaultNamespace: namespace) } catch {
                throw ValidationError(error.description)
            }
        }
        return PayoutConfiguration(settings: settings, endpoints: endpoints, apiKeySecret: apiKey)
    }
}
