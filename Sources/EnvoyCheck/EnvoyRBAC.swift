import YAML

/// A request as Envoy's RBAC filter sees it, for `RBACInterpreter`.
public struct RBACRequest: Sendable {
    /// The peer certificate's URI SAN; nil on a plaintext connection.
    public var peer: String?
    public var path: String
    public var headers: [String: String]
    /// Dynamic metadata by filter namespace.
    public var metadata: [String: JSON]

    public init(peer: String?, path: String, headers: [String: String] = [:], metadata: [String: JSON] = [:]) {
        self.peer = peer
        self.path = path
        self.headers = headers
        self.metadata = metadata
    }
}

/// Test support: evaluates a rendered `envoy.extensions.filters.http.rbac.v3.RBAC` config the
/// way Envoy's RBAC engine does (Principal and Permission trees, StringMatcher, SourcedMetadata
/// with ValueMatcher), for the subset the renderer emits. Anything else throws `Unsupported`, so
/// a test fails loudly rather than guessing.
public enum RBACInterpreter {
    public struct Unsupported: Error, CustomStringConvertible {
        public var what: JSON
        public var description: String { "unsupported RBAC node \(what.jsonText)" }
    }

    /// What the RBAC filter of one filter chain of a listener decides: allowed unless an
    /// enforced (DENY) policy matches; the policy that matched, enforced or shadow.
    public static func decide(listener: JSON, chain: String, _ request: RBACRequest) throws -> (allowed: Bool, policy: String?) {
        let chains = listener["filter_chains"]?.arrayValue ?? []
        guard let found = chains.first(where: { $0["name"]?.stringValue == chain }),
              let rbac = (found["filters"]?[0]?[path: "typed_config", "http_filters"]?.arrayValue ?? [])
                .first(where: { $0["name"] == "envoy.filters.http.rbac" })?["typed_config"] else {
            throw Unsupported(what: ["no RBAC filter on filter chain": .string(chain)])
        }
        let denied = try matching(rbac["rules"] ?? .null, request)
        let allowed = try matching(rbac["shadow_rules"] ?? .null, request)
        return (denied.isEmpty, (denied + allowed).first)
    }

    /// The names of the policies of `rules` that match.
    public static func matching(_ rules: JSON, _ request: RBACRequest) throws -> [String] {
        var names: [String] = []
        for (name, policy) in rules["policies"]?.objectValue ?? [:] {
            let permissions = policy["permissions"]?.arrayValue ?? []
            let principals = policy["principals"]?.arrayValue ?? []
            guard !permissions.isEmpty, !principals.isEmpty else { throw Unsupported(what: policy) }
            if try permissions.contains(where: { try permission($0) }), try principals.contains(where: { try principal($0, request) }) {
                names.append(name)
            }
        }
        return names
    }

    static func permission(_ p: JSON) throws -> Bool {
        guard p["any"] == true else { throw Unsupported(what: p) }
        return true
    }

    static func principal(_ p: JSON, _ r: RBACRequest) throws -> Bool {
        guard let o = p.objectValue, o.count == 1, let (key, value) = o.first(where: { _ in true }) else { throw Unsupported(what: p) }
        switch key {
        case "any": return value == true
        case "and_ids": return try (value["ids"]?.arrayValue ?? []).allSatisfy { try principal($0, r) }
        case "or_ids": return try (value["ids"]?.arrayValue ?? []).contains { try principal($0, r) }
        case "not_id": return try !principal(value, r)
        case "authenticated":
            guard let peer = r.peer else { return false }
            return try string(value["principal_name"] ?? .null, peer)
        case "url_path":
            let path = String(r.path.prefix { $0 != "?" })
            return try string(value["path"] ?? .null, path)
        case "header":
            guard let name = value["name"]?.stringValue, let header = r.headers[name] else { return false }
            return try string(value["string_match"] ?? .null, header)
        case "sourced_metadata":
            // Dynamic metadata unless metadata_source says ROUTE, which the renderer never does.
            guard value["metadata_source"] == nil, let value = value["metadata_matcher"], let filter = value["filter"]?.stringValue else {
                throw Unsupported(what: p)
            }
            var node: JSON? = r.metadata[filter]
            for segment in value["path"]?.arrayValue ?? [] {
                guard let k = segment["key"]?.stringValue else { throw Unsupported(what: p) }
                node = node?[k]
            }
            return try self.value(value["value"] ?? .null, node)
        default:
            throw Unsupported(what: p)
        }
    }

    static func string(_ m: JSON, _ s: String) throws -> Bool {
        if let e = m["exact"]?.stringValue { return s == e }
        if let prefix = m["prefix"]?.stringValue, !prefix.isEmpty { return s.hasPrefix(prefix) }
        throw Unsupported(what: m)
    }

    static func value(_ m: JSON, _ v: JSON?) throws -> Bool {
        if m["present_match"] == true { return v != nil && v != .null }
        if let or = m["or_match"]?["value_matchers"]?.arrayValue { return try or.contains { try value($0, v) } }
        if let s = m["string_match"] {
            guard let text = v?.stringValue else { return false }
            return try string(s, text)
        }
        if let one = m["list_match"]?["one_of"] {
            guard let list = v?.arrayValue else { return false }
            return try list.contains { try value(one, $0) }
        }
        throw Unsupported(what: m)
    }
}
