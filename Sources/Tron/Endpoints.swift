/// Which TronGrid URL each network is reached at: the public endpoints, unless the operator
/// was told otherwise (`--tron-url NETWORK=URL`, e.g. a private node or a simulated chain).
public struct TronEndpoints: Sendable, Equatable {
    /// network name → base URL, for the networks given explicitly.
    public private(set) var overrides: [String: String]

    public init(overrides: [String: String] = [:]) {
        self.overrides = overrides.mapValues { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// Parses `NETWORK=URL` entries (each value may hold several, comma-separated). The network
    /// must be one the operator pays on, the URL http(s), and no network may be given twice.
    public static func parse(_ values: [String]) throws(TronEndpointsError) -> TronEndpoints {
        var overrides: [String: String] = [:]
        for entry in values.flatMap({ $0.split(separator: ",") }).map({ String($0).trimmingWhitespace() }) where !entry.isEmpty {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TronEndpointsError(description: "--tron-url \"\(entry)\" is not NETWORK=URL (e.g. nile=http://127.0.0.1:8090)")
            }
            let name = parts[0].lowercased()
            guard TronNetwork.named(name) != nil else {
                throw TronEndpointsError(description: "--tron-url \"\(entry)\": \"\(parts[0])\" is not one of \(TronNetwork.all.map(\.name).joined(separator: ", "))")
            }
            let url = parts[1]
            guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 else {
                throw TronEndpointsError(description: "--tron-url \"\(entry)\": \"\(url)\" is not an http:// or https:// URL")
            }
            guard overrides[name] == nil else { throw TronEndpointsError(description: "--tron-url names \(name) twice") }
            overrides[name] = url
        }
        return TronEndpoints(overrides: overrides)
    }

    /// The network called `name`, at its overridden URL if there is one.
    public func network(_ name: String) -> TronNetwork? {
        guard let network = TronNetwork.named(name) else { return nil }
        return overrides[network.name].map { network.at($0) } ?? network
    }

    /// The base URL for `network`.
    public func url(for network: TronNetwork) -> String { overrides[network.name] ?? network.baseURL }
}

public struct TronEndpointsError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
