import ControllerRuntime
import Foundation
import HTTP
import KubeClient
import Logging
import LucidAPI
import Payouts
import Tron
import YAML

/// The operator's read access to each TRON network: one `TronGridClient` per network, at its
/// public endpoint or the `--tron-url` override, with the TronGrid API key when one is given.
/// Only the solidity endpoints are read (`TronGridClient.solidView`).
public final class PayoutChains: Sendable {
    let clients: [String: TronGridClient]
    public let endpoints: TronEndpoints

    public init(endpoints: TronEndpoints, apiKey: String?, http: HTTPClient, timeout: Duration = .seconds(10)) {
        self.endpoints = endpoints
        var clients: [String: TronGridClient] = [:]
        for network in TronNetwork.all {
            clients[network.name] = TronGridClient(baseURL: endpoints.url(for: network), apiKey: apiKey, http: http, timeout: timeout)
        }
        self.clients = clients
    }

    /// The TronGrid URL `network` is read at.
    public func url(network: String) -> String { clients[network.lowercased()]?.baseURL ?? "(no such network)" }

    /// What the machine asked to know of `network`'s solid chain.
    public func view(network: String, _ need: ChainNeed) async throws(TronGridError) -> SolidChainView {
        guard let client = clients[network.lowercased()] else {
            throw TronGridError(kind: .decoding, message: "no TRON network named \(network)", path: "")
        }
        switch need {
        case .solidHead: return try await client.solidView()
        case .solidView(let txID): return try await client.solidView(of: txID)
        }
    }
}

/// The Secret holding the TronGrid API key (`--tron-api-key-secret NAMESPACE/NAME[:KEY]`). The
/// operator reads it once at start; payout Jobs get it as `TRON_PRO_API_KEY` from the Secret of
/// the same name and key in their own namespace.
public struct TronAPIKeySecret: Sendable, Equatable, CustomStringConvertible {
    public static let defaultKey = "api-key"

    public var namespace: String
    public var name: String
    public var key: String

    public init(namespace: String, name: String, key: String = TronAPIKeySecret.defaultKey) {
        self.namespace = namespace
        self.name = name
        self.key = key
    }

    public var description: String { "\(namespace)/\(name):\(key)" }

    /// Reads `NAMESPACE/NAME[:KEY]`; `defaultNamespace` stands in for a missing `NAMESPACE/`.
    public static func parse(_ text: String, defaultNamespace: String) throws(SettingsError) -> TronAPIKeySecret {
        let (ref, key) = text.firstIndex(of: ":").map { (String(text[..<$0]), String(text[text.index(after: $0)...])) } ?? (text, defaultKey)
        let parts = ref.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let (namespace, name) = parts.count == 2 ? (parts[0], parts[1]) : (defaultNamespace, parts[0])
        let dnsName = #/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/#
        guard parts.count <= 2, namespace.wholeMatch(of: dnsName) != nil, name.wholeMatch(of: dnsName) != nil,
              !key.isEmpty, key.wholeMatch(of: #/[-._a-zA-Z0-9]+/#) != nil else {
            throw SettingsError("--tron-api-key-secret \"\(text)\" is not NAMESPACE/NAME[:KEY] (e.g. lucid-system/trongrid:api-key)")
        }
        return TronAPIKeySecret(namespace: namespace, name: name, key: key)
    }

    /// The key's value, read once. Errors name the Secret, never its content.
    public func read(_ client: KubeClient) async throws -> String {
        let secret: JSON
        do { secret = try await client.get(.secrets, namespace: namespace, name: name) } catch {
            throw SettingsError("cannot read the TronGrid API key Secret \(namespace)/\(name): \(error.isNotFound ? "it does not exist" : error.message)")
        }
        if let text = secret[path: "data", key]?.stringValue, let bytes = Data(base64Encoded: text) {
            let value = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !value.isEmpty { return value }
        }
        throw SettingsError("the TronGrid API key Secret \(namespace)/\(name) has no non-empty key \"\(key)\"")
    }

    /// Where payout Jobs find it.
    public var jobReference: SecretKeyRef { SecretKeyRef(name: name, key: key) }
}

/// How the payout controller is set up, from the operator's flags.
public struct PayoutConfiguration: Sendable, Equatable {
    public var settings: PayoutSettings
    /// `--tron-url` overrides: read by the operator and passed to the Jobs.
    public var endpoints: TronEndpoints
    public var apiKeySecret: TronAPIKeySecret?

    public init(settings: PayoutSettings = PayoutSettings(), endpoints: TronEndpoints = TronEndpoints(), apiKeySecret: TronAPIKeySecret? = nil) {
        self.settings = settings
        self.endpoints = endpoints
        self.apiKeySecret = apiKeySecret
    }
}

extension PayoutReconciler {
    /// The reconciler as the operator runs it: the API key read once (when a Secret is named),
    /// the chain clients, and the Jobs told the same URLs and where their API key is.
    public static func make(manager: Manager, events: EventRecorder, configuration: PayoutConfiguration, http: HTTPClient,
                            namespace: String?, logger: Logger) async throws -> PayoutReconciler {
        var settings = configuration.settings
        settings.job.tronURLs = configuration.endpoints.overrides
        var apiKey: String?
        if let secret = configuration.apiKeySecret {
            apiKey = try await secret.read(manager.client)
            settings.job.apiKeySecret = secret.jobReference
            logger.info("payouts: TronGrid API key read", metadata: ["secret": "\(secret)"])
        }
        let chains = PayoutChains(endpoints: configuration.endpoints, apiKey: apiKey, http: http)
        for network in TronNetwork.all {
            logger.info("payouts: chain access", metadata: ["network": "\(network.name)", "url": "\(chains.url(network: network.name))"])
        }
        return PayoutReconciler(manager: manager, events: events, chains: chains, settings: settings, namespace: namespace, logger: logger)
    }
}
