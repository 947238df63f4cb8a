import LucidAPI
import YAML

/// The requests a rule applies to, normalised the way Envoy matches them: a path prefix ("/"
/// when none is given), an optional method, exact header values with names in lower case (HTTP
/// header names are case-insensitive). Two rules with equal matches take the same requests.
struct RouteMatch: Hashable, Sendable {
    var prefix: String
    var method: String?
    var headers: [String: String]

    init(_ match: TrafficMatch?) {
        prefix = match?.path ?? "/"
        method = match?.method
        headers = Dictionary((match?.headers ?? [:]).map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// Takes every request.
    var isCatchAll: Bool { prefix == "/" && method == nil && headers.isEmpty }

    /// Whether every request `other` takes is taken by this match too, so a route for `other`
    /// after one for this can never be reached (Envoy picks the first route that matches).
    func covers(_ other: RouteMatch) -> Bool {
        other.prefix.hasPrefix(prefix) && (method == nil || method == other.method)
            && headers.allSatisfy { other.headers[$0.key] == $0.value }
    }

    /// Envoy's `RouteMatch`.
    var json: JSON {
        var m: JSON = ["prefix": .string(prefix)]
        var matchers: [JSON] = []
        if let method { matchers.append(["name": ":method", "string_match": ["exact": .string(method)]]) }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            matchers.append(["name": .string(name), "string_match": ["exact": .string(value)]])
        }
        if !matchers.isEmpty { m["headers"] = .array(matchers) }
        return m
    }

    /// "path /api, method POST, header x-tenant=a" (or "every request"), for messages.
    var words: String {
        guard !isCatchAll else { return "every request" }
        var parts = ["path \(prefix)"]
        if let method { parts.append("method \(method)") }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { parts.append("header \(name)=\(value)") }
        return parts.joined(separator: ", ")
    }
}
