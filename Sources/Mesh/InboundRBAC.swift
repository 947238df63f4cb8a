import YAML

/// Which filter chain of the inbound listener a config is for.
enum InboundChain: String, Sendable {
    /// Callers that present a mesh certificate.
    case mtls
    /// Everyone else: anonymous.
    case plaintext
}

/// Compiles a `SecurityProgram` into the inbound `rbac` filter of one filter chain.
///
/// Envoy's RBAC matches policies without order, so the first-match program becomes exclusive
/// regions: each step's "decides here" condition minus those of the earlier steps that can
/// overlap it. The enforced rules (action DENY) hold the regions where a step, or the plane
/// default, denies, named by that step, so a denied request's `%RESPONSE_CODE_DETAILS%` reads
/// `rbac_access_denied_matched_policy[<policy>/rules[<i>]]`. The shadow rules (action ALLOW)
/// hold the regions that allow, so `shadow_effective_policy_id` in the dynamic metadata names
/// the step that allowed. Both go to the access log.
struct InboundRBAC {
    static let jwtFilter = "envoy.filters.http.jwt_authn"

    var program: SecurityProgram
    var chain: InboundChain
    /// Identities of the Services policies name as sources.
    var identities: [String: String]
    var planePrefix: String

    func source(_ entry: SecurityEntry) -> SecurityPrincipal {
        guard let name = entry.source else { return .yes }
        guard chain == .mtls, let id = identities[name] else { return .no }
        return .peer(id)
    }

    func match(_ entry: SecurityEntry) -> SecurityPrincipal {
        .and([.pathPrefix(entry.match.path), entry.match.method.map { .method($0) } ?? .yes])
    }

    func credential(_ credential: Credential) -> SecurityPrincipal {
        switch credential {
        case .mtls:
            return .constant(chain == .mtls)
        case .apiKey(_, let secret):
            return .headerPrefix(name: InboundFilters.apiKeyClientHeader, value: secret + "/")
        case .jwt(let check):
            guard let provider = program.providerNames[check.provider] else { return .no }
            var parts: [SecurityPrincipal] = [.metadataPresent(filter: Self.jwtFilter, path: [provider])]
            if !check.audiences.isEmpty {
                parts.append(.or(check.audiences.map { .metadataHolds(filter: Self.jwtFilter, path: [provider, "aud"], value: $0) }))
            }
            if !check.roles.isEmpty {
                parts.append(.or(check.roles.map { .metadataHolds(filter: Self.jwtFilter, path: [provider] + check.rolesClaim, value: $0) }))
            }
            parts += check.permissions.map { .metadataHolds(filter: Self.jwtFilter, path: [provider] + check.permissionsClaim, value: $0) }
            return .and(parts)
        }
    }

    func credentials(_ list: [Credential]) -> SecurityPrincipal { .or(list.map(credential)) }

    /// Where the step decides.
    func decides(_ entry: SecurityEntry) -> SecurityPrincipal {
        switch entry.kind {
        case .allow(let list): .and([source(entry), match(entry), list.map(credentials) ?? .yes])
        case .deny: .and([source(entry), match(entry)])
        case .require(let list): .and([source(entry), match(entry), .negate(credentials(list))])
        }
    }

    /// Where a requirement of a policy naming its source holds.
    func requirementHolds(_ entry: SecurityEntry) -> SecurityPrincipal {
        guard case .require(let list) = entry.kind, entry.source != nil else { return .no }
        return .and([source(entry), match(entry), credentials(list)])
    }

    /// (denying regions, allowing regions), by name.
    func regions() -> (deny: [(String, SecurityPrincipal)], allow: [(String, SecurityPrincipal)]) {
        let entries = program.entries
        let decide = entries.map(decides)
        var deny: [(String, SecurityPrincipal)] = []
        var allow: [(String, SecurityPrincipal)] = []
        for (i, entry) in entries.enumerated() where decide[i] != .no {
            var parts = [decide[i]]
            for j in 0..<i where decide[j] != .no && SecurityProgram.overlap(entries[j], entry) { parts.append(.negate(decide[j])) }
            let region = SecurityPrincipal.and(parts)
            guard region != .no else { continue }
            if case .allow = entry.kind { allow.append((entry.label, region)) } else { deny.append((entry.label, region)) }
        }
        let undecided = SecurityPrincipal.and(decide.map(SecurityPrincipal.negate))
        var earlier: [SecurityPrincipal] = []
        var policies: [String] = []
        var holds: [String: [SecurityPrincipal]] = [:]
        for entry in entries {
            let h = requirementHolds(entry)
            guard h != .no else { continue }
            if holds[entry.policy] == nil { policies.append(entry.policy) }
            holds[entry.policy, default: []].append(h)
        }
        for policy in policies {
            let mine = SecurityPrincipal.or(holds[policy] ?? [])
            let region = SecurityPrincipal.and([undecided, mine] + earlier.map(SecurityPrincipal.negate))
            if region != .no { allow.append(("\(policy)/requirements", region)) }
            earlier.append(mine)
        }
        let rest = SecurityPrincipal.and([undecided] + earlier.map(SecurityPrincipal.negate))
        let samePlane: SecurityPrincipal = chain == .mtls ? .peerPrefix(planePrefix) : .no
        let same = SecurityPrincipal.and([rest, samePlane])
        let other = SecurityPrincipal.and([rest, .negate(samePlane)])
        if same != .no { allow.append((SecurityProgram.sameplane, same)) }
        if other != .no {
            if program.isolation == .off { allow.append((SecurityProgram.isolationOff, other)) } else { deny.append((SecurityProgram.isolationDeny, other)) }
        }
        return (deny, allow)
    }

    /// The filter's `typed_config`.
    var config: JSON {
        let (deny, allow) = regions()
        func policies(_ list: [(String, SecurityPrincipal)]) -> JSON {
            var o = JSONObject()
            for (name, principal) in list { o[name] = ["permissions": [["any": true]], "principals": [principal.json]] }
            return .object(o)
        }
        return ["@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
                "rules": ["action": "DENY", "policies": policies(deny)],
                "shadow_rules": ["action": "ALLOW", "policies": policies(allow)]]
    }
}
