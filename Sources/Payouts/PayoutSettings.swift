import LucidAPI
import Tron

/// How payouts are run, from the operator's flags. Chain times are in milliseconds of chain
/// time, never the operator's clock.
public struct PayoutSettings: Sendable, Equatable {
    /// At or above these amounts a payout waits for a `TronPayoutApproval`; a currency missing
    /// here never needs one.
    public var approvalThresholds: [Currency: Amount]
    /// Attempts (txIDs) per payout before it is `Failed`.
    public var maxAttempts: Int
    /// How far a solid block's time must be past an attempt's expiration, with its txID still
    /// absent, to prove the attempt can never land. It must exceed the solid-height skew
    /// between the nodes behind the TronGrid endpoint (a load balancer may answer the block and
    /// the receipt from different nodes).
    public var expirationMargin: Int64
    /// How long a prepared transaction stays valid after its reference block.
    public var expirationWindow: Int64
    /// Fee limit of a TRC20 transfer, in sun.
    public var feeLimit: Int64
    /// How often to look at the chain while a transaction may still land.
    public var chainPollInterval: Duration
    public var job: JobSettings

    public init(approvalThresholds: [Currency: Amount] = [:], maxAttempts: Int = 3, expirationMargin: Int64 = 120_000,
                expirationWindow: Int64 = TransactionBuilder.defaultExpirationWindow, feeLimit: Int64 = TransactionBuilder.defaultFeeLimit,
                chainPollInterval: Duration = .seconds(5), job: JobSettings = JobSettings()) {
        self.approvalThresholds = approvalThresholds
        self.maxAttempts = maxAttempts
        self.expirationMargin = expirationMargin
        self.expirationWindow = expirationWindow
        self.feeLimit = feeLimit
        self.chainPollInterval = chainPollInterval
        self.job = job
    }

    /// Whether `amount` of `currency` needs an approval.
    public func needsApproval(_ amount: Amount, _ currency: Currency) -> Bool {
        approvalThresholds[currency].map { amount >= $0 } ?? false
    }

    /// Parses `--approval-threshold USDT=1000,TRX=20000` (entries may also come as separate values).
    public static func parseThresholds(_ values: [String]) throws(SettingsError) -> [Currency: Amount] {
        var result: [Currency: Amount] = [:]
        for entry in values.flatMap({ $0.split(separator: ",") }).map({ $0.trimmingSpaces() }) where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw SettingsError("approval threshold \"\(entry)\" is not CURRENCY=AMOUNT (e.g. USDT=1000)") }
            guard let currency = Currency(rawValue: parts[0].uppercased()) else {
                throw SettingsError("approval threshold \"\(entry)\": \"\(parts[0])\" is not USDT or TRX")
            }
            guard result[currency] == nil else { throw SettingsError("approval threshold for \(currency.rawValue) is given twice") }
            do { result[currency] = try Amount(decimal: parts[1], currency: currency) } catch {
                throw SettingsError("approval threshold \"\(entry)\": \(error.description)")
            }
        }
        return result
    }
}

/// A flag value that cannot be used, in words.
public struct SettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What goes into a payout Job besides the attempt itself.
public struct JobSettings: Sendable, Equatable {
    /// The image holding `lucid-payout` (non-root, read-only root file system).
    public var image: String
    /// Where `lucid-payout` is in the image.
    public var command: String
    /// The Job's deadline: its pod is killed after this long.
    public var activeDeadlineSeconds: Int
    /// The container's resources (`requests`/`limits` → `cpu`/`memory` → quantity).
    public var resources: [String: [String: String]]
    /// TronGrid URLs the operator was told to use (`--tron-url NETWORK=URL`), passed on as
    /// `--tron-url`; a network missing here uses its public endpoint.
    public var tronURLs: [String: String]
    /// The Secret key holding a TronGrid API key, given to the Job as `TRON_PRO_API_KEY` from the
    /// Secret of that name in the payout's namespace (optional: without it the Job runs keyless).
    public var apiKeySecret: SecretKeyRef?
    /// Seconds `lucid-payout` waits for each TronGrid answer.
    public var tronTimeoutSeconds: Int
    /// The non-root user and group the container runs as.
    public var runAsUser: Int64

    public init(image: String = "ghcr.io/lucid/lucid-payout:0.1.0", command: String = "/usr/local/bin/lucid-payout",
                activeDeadlineSeconds: Int = 300,
                resources: [String: [String: String]] = ["requests": ["cpu": "50m", "memory": "32Mi"], "limits": ["cpu": "500m", "memory": "128Mi"]],
                tronURLs: [String: String] = [:], apiKeySecret: SecretKeyRef? = nil, tronTimeoutSeconds: Int = 15, runAsUser: Int64 = 65532) {
        self.image = image
        self.command = command
        self.activeDeadlineSeconds = activeDeadlineSeconds
        self.resources = resources
        self.tronURLs = tronURLs
        self.apiKeySecret = apiKeySecret
        self.tronTimeoutSeconds = tronTimeoutSeconds
        self.runAsUser = runAsUser
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
