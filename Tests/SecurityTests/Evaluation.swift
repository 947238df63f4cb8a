import EnvoyCheck
import LucidAPI
@testable import Mesh
import Testing
import YAML

/// Runs a concrete request through the rendered listener's RBAC filters (through
/// `RBACInterpreter`) and through the reference evaluation, for comparison.
struct Evaluation {
    var inputs: InboundInputs
    var render: InboundRender
    var analysis: SecurityAnalysis

    init(_ inputs: InboundInputs) {
        self.inputs = inputs
        render = InboundRenderer.render(inputs)
        analysis = SecurityAnalysis(inputs)
    }

    var providerNames: [String] { analysis.providers.map(\.name) }

    func chain(_ name: String) -> JSON? {
        render.listener?["filter_chains"]?.arrayValue?.first { $0["name"]?.stringValue == "inbound-\(name)" }
    }

    static func httpFilters(_ chain: JSON) -> [JSON] {
        chain["filters"]?[0]?[path: "typed_config", "http_filters"]?.arrayValue ?? []
    }

    func rbac(_ chainName: String) -> JSON? {
        chain(chainName).flatMap { Self.httpFilters($0).first { $0["name"] == "envoy.filters.http.rbac" }?["typed_config"] }
    }

    func peer(_ caller: CallerIdentity) -> String? {
        switch caller {
        case .service(let name, _):
            return inputs.services.first { $0.name == name }.map { MeshIdentity.of($0, trustDomain: inputs.settings.trustDomain) }
        case .otherMeshIdentity:
            return "spiffe://\(inputs.settings.trustDomain)/ns/elsewhere/plane/\(inputs.destination.plane)/svc/intruder"
        case .anonymous:
            return nil
        }
    }

    /// What Envoy decides: (allowed, the one policy whose region matched).
    func envoy(_ request: SecurityRequest) throws -> SecurityDecision {
        let useTLS = request.caller != .anonymous
        let rbac = try #require(self.rbac(useTLS ? "mtls" : "plaintext"), "no \(useTLS ? "mtls" : "plaintext") chain")
        var headers = [":method": request.method]
        if let client = request.apiKeyClient { headers[InboundFilters.apiKeyClientHeader] = client }
        let r = RBACRequest(peer: useTLS ? peer(request.caller) : nil, path: request.path, headers: headers,
                            metadata: [InboundRBAC.jwtFilter: .object(JSONObject(request.jwt))])
        #expect(rbac[path: "rules", "action"] == "DENY" && rbac[path: "shadow_rules", "action"] == "ALLOW")
        let denied = try RBACInterpreter.matching(rbac["rules"] ?? .null, r)
        let allowed = try RBACInterpreter.matching(rbac["shadow_rules"] ?? .null, r)
        #expect(denied.count + allowed.count == 1, "\(request): regions \(denied) / \(allowed) are not exclusive")
        return SecurityDecision(allowed: denied.isEmpty, decidedBy: (denied + allowed).first ?? "none")
    }

    func reference(_ request: SecurityRequest) -> SecurityDecision { analysis.program.decide(request) }

    /// Callers, paths, methods and credentials that exercise every rule of the inputs.
    func requests() -> [SecurityRequest] {
        let entries = analysis.program.entries
        var callers: [CallerIdentity] = inputs.services.map { .service(name: $0.name, plane: $0.plane) }
        callers += [.otherMeshIdentity, .anonymous]
        var paths: Set<String> = ["/", "/other"]
        for p in entries.compactMap(\.match.path) { paths.formUnion([p, p + "/deeper", p + "x"]) }
        let methods = Set(["GET", "POST"] + entries.compactMap(\.match.method))
        var clients: [String?] = [nil, "unknown-secret/x"]
        var payloads: [[String: JSON]] = [[:]]
        for entry in entries {
            let credentials: [Credential]
            switch entry.kind {
            case .allow(let c?): credentials = c
            case .require(let c): credentials = c
            default: credentials = []
            }
            for credential in credentials {
                switch credential {
                case .apiKey(_, let secret): clients.append("\(secret)/client")
                case .jwt(let check):
                    guard let name = analysis.program.providerNames[check.provider] else { continue }
                    func payload(aud: [String], roles: [String], permissions: [String]) -> [String: JSON] {
                        var p: JSON = ["iss": .string(check.provider.issuer), "sub": "caller", "aud": .array(aud.map { .string($0) })]
                        p = set(p, check.rolesClaim, .array(roles.map { .string($0) }))
                        p = set(p, check.permissionsClaim, .array(permissions.map { .string($0) }))
                        return [name: p]
                    }
                    payloads.append(payload(aud: check.audiences.prefix(1) + ["other"], roles: check.roles.suffix(1), permissions: check.permissions))
                    payloads.append(payload(aud: ["other"], roles: check.roles, permissions: check.permissions))
                    payloads.append(payload(aud: check.audiences, roles: ["nobody"], permissions: check.permissions))
                    payloads.append(payload(aud: check.audiences, roles: check.roles, permissions: Array(check.permissions.dropLast())))
                case .mtls: break
                }
            }
        }
        var out: [SecurityRequest] = []
        for caller in callers {
            for path in paths.sorted() {
                for method in methods.sorted() {
                    for client in clients {
                        for jwt in payloads { out.append(SecurityRequest(caller: caller, path: path, method: method, apiKeyClient: client, jwt: jwt)) }
                    }
                }
            }
        }
        return out
    }

    /// Every request decides the same in Envoy's RBAC as in the reference evaluation.
    func expectAgreement(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let hasTLS = chain("mtls") != nil
        var mismatches: [String] = []
        for request in requests() {
            var expected = request
            if !hasTLS { expected.caller = .anonymous }
            let want = reference(expected)
            let got = try envoy(expected)
            if want != got { mismatches.append("\(request) → reference \(want), envoy \(got)") }
        }
        let count = mismatches.count
        #expect(count == 0, "disagreements, e.g. \(mismatches.prefix(3))", sourceLocation: sourceLocation)
    }
}

private func set(_ value: JSON, _ path: [String], _ leaf: JSON) -> JSON {
    guard let first = path.first else { return leaf }
    var v = value
    v[first] = set(value[first] ?? [:], Array(path.dropFirst()), leaf)
    return v
}

extension JSONObject {
    init(_ dictionary: [String: JSON]) {
        self.init()
        for key in dictionary.keys.sorted() { self[key] = dictionary[key] }
    }
}
