import YAML

/// A condition on a request as Envoy RBAC states it (`config.rbac.v3.Principal`), built with
/// constant folding so that what cannot happen on a filter chain disappears from its config.
indirect enum SecurityPrincipal: Hashable, Sendable {
    case constant(Bool)
    case all([SecurityPrincipal])
    case any([SecurityPrincipal])
    case not(SecurityPrincipal)
    /// The peer certificate's URI SAN equals this identity.
    case peer(String)
    /// The peer certificate's URI SAN starts with this.
    case peerPrefix(String)
    /// The (normalised) path is this prefix, by whole segments.
    case path(String)
    case method(String)
    /// A request header starts with a value.
    case headerPrefix(name: String, value: String)
    /// Dynamic metadata exists at `path` under `filter` (`sourced_metadata`, dynamic by default).
    case metadataPresent(filter: String, path: [String])
    /// Dynamic metadata at `path` is this string, or a list holding it.
    case metadataHolds(filter: String, path: [String], value: String)

    static let yes = SecurityPrincipal.constant(true)
    static let no = SecurityPrincipal.constant(false)

    static func and(_ parts: [SecurityPrincipal]) -> SecurityPrincipal {
        var out: [SecurityPrincipal] = []
        for p in parts {
            switch p {
            case .constant(true): continue
            case .constant(false): return .no
            case .all(let inner): out.append(contentsOf: inner)
            default: if !out.contains(p) { out.append(p) }
            }
        }
        return out.isEmpty ? .yes : out.count == 1 ? out[0] : .all(out)
    }

    static func or(_ parts: [SecurityPrincipal]) -> SecurityPrincipal {
        var out: [SecurityPrincipal] = []
        for p in parts {
            switch p {
            case .constant(false): continue
            case .constant(true): return .yes
            case .any(let inner): out.append(contentsOf: inner)
            default: if !out.contains(p) { out.append(p) }
            }
        }
        return out.isEmpty ? .no : out.count == 1 ? out[0] : .any(out)
    }

    static func negate(_ p: SecurityPrincipal) -> SecurityPrincipal {
        switch p {
        case .constant(let b): .constant(!b)
        case .not(let inner): inner
        default: .not(p)
        }
    }

    static func pathPrefix(_ prefix: String?) -> SecurityPrincipal {
        guard let prefix, prefix != "/" else { return .yes }
        return .path(prefix)
    }

    var json: JSON {
        switch self {
        case .constant(true): return ["any": true]
        case .constant(false): return ["not_id": ["any": true]]
        case .all(let parts): return ["and_ids": ["ids": .array(parts.map(\.json))]]
        case .any(let parts): return ["or_ids": ["ids": .array(parts.map(\.json))]]
        case .not(let inner): return ["not_id": inner.json]
        case .peer(let id): return ["authenticated": ["principal_name": ["exact": .string(id)]]]
        case .peerPrefix(let prefix): return ["authenticated": ["principal_name": ["prefix": .string(prefix)]]]
        case .path(let prefix):
            if prefix.hasSuffix("/") { return ["url_path": ["path": ["prefix": .string(prefix)]]] }
            return ["or_ids": ["ids": [["url_path": ["path": ["exact": .string(prefix)]]],
                                       ["url_path": ["path": ["prefix": .string(prefix + "/")]]]]]]
        case .method(let method):
            return ["header": ["name": ":method", "string_match": ["exact": .string(method)]]]
        case .headerPrefix(let name, let value):
            return ["header": ["name": .string(name), "string_match": ["prefix": .string(value)]]]
        case .metadataPresent(let filter, let path):
            return ["sourced_metadata": ["metadata_matcher": ["filter": .string(filter), "path": .array(path.map { ["key": .string($0)] }),
                                                              "value": ["present_match": true]]]]
        case .metadataHolds(let filter, let path, let value):
            return ["sourced_metadata": ["metadata_matcher": [
                "filter": .string(filter), "path": .array(path.map { ["key": .string($0)] }),
                "value": ["or_match": ["value_matchers": [
                    ["string_match": ["exact": .string(value)]],
                    ["list_match": ["one_of": ["string_match": ["exact": .string(value)]]]],
                ]]],
            ]]]
        }
    }
}
