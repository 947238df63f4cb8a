import LucidAPI
@testable import Mesh
import Testing
import YAML

/// The decision for one request, as the rendered RBAC makes it; it must also be the reference
/// evaluation's (the definition who-can-call explains).
private func decide(_ e: Evaluation, _ request: SecurityRequest, sourceLocation: SourceLocation = #_sourceLocation) throws -> SecurityDecision {
    let envoy = try e.envoy(request)
    #expect(envoy == e.reference(request), "\(request)", sourceLocation: sourceLocation)
    return envoy
}

private func inputs(_ policies: [SecurityPolicyInput], secrets: [String: SecretData] = [:],
                    isolation: PlaneIsolation = .strict) -> InboundInputs {
    inputs(payments, policies, secrets: secrets, isolation: isolation)
}

private func inputs(_ destination: MeshService, _ policies: [SecurityPolicyInput], secrets: [String: SecretData] = [:],
                    isolation: PlaneIsolation = .strict) -> InboundInputs {
    InboundInputs(destination: destination, services: allServices, policies: policies,
                  secrets: certificates(allServices).merging(secrets) { a, _ in a }, settings: SecuritySettings(planeIsolation: isolation))
}

private let fromGateway = CallerIdentity.service(name: "api-gateway", plane: "ops")
private let fromSessions = CallerIdentity.service(name: "session-management", plane: "ops")
private let fromChain = CallerIdentity.service(name: "blockchain-core", plane: "chain")
private let fromPayments = CallerIdentity.service(name: "tron-payment", plane: "wallet")

private func token(_ e: Evaluation, aud: [String] = ["tron-payment"], roles: [String] = [], permissions: [String] = [], claim: String = "roles") -> [String: JSON] {
    [e.providerNames[0]: ["iss": .string(issuer), "sub": "svc", "aud": .array(aud.map { .string($0) }),
                          claim: .array(roles.map { .string($0) }), "permissions": .array(permissions.map { .string($0) })]]
}

@Suite struct PlaneIsolationTests {
    @Test func crossPlaneCallsAreDeniedWithoutAPolicyAndSamePlaneCallsAllowed() throws {
        let e = Evaluation(inputs(chain, []))
        #expect(try decide(e, SecurityRequest(caller: fromGateway)) == SecurityDecision(allowed: false, decidedBy: "default/plane-isolation"))
        let peer = Evaluation(inputs(gateway, []))
        #expect(try decide(peer, SecurityRequest(caller: fromSessions)) == SecurityDecision(allowed: true, decidedBy: "default/same-plane"))
        try e.expectAgreement()
        try peer.expectAgreement()
    }

    @Test func anonymousCallersAndOtherNamespacesAreOtherPlanes() throws {
        let e = Evaluation(inputs(gateway, []))
        #expect(try !decide(e, SecurityRequest(caller: .anonymous)).allowed)
        #expect(try !decide(e, SecurityRequest(caller: .otherMeshIdentity)).allowed)
    }

    @Test func aPolicyNamingTheSourceOpensThePlane() throws {
        let e = Evaluation(inputs(chain, [policy("p", source: "session-management", destination: "blockchain-core", [
            SecurityRule(action: .allow, match: SecurityMatch(path: "/api/v1/sessions")),
        ])]))
        #expect(try decide(e, SecurityRequest(caller: fromSessions, path: "/api/v1/sessions/42")) == SecurityDecision(allowed: true, decidedBy: "p/rules[0]"))
        #expect(try !decide(e, SecurityRequest(caller: fromSessions, path: "/admin")).allowed)
        #expect(try !decide(e, SecurityRequest(caller: fromSessions, path: "/api/v1/sessionsx")).allowed, "prefixes match whole segments")
        #expect(try !decide(e, SecurityRequest(caller: fromGateway, path: "/api/v1/sessions")).allowed, "only the named source")
        try e.expectAgreement()
    }

    @Test func offAllowsEverythingNotDenied() throws {
        let e = Evaluation(inputs(chain, [policy("p", source: "api-gateway", destination: "blockchain-core", [
            SecurityRule(action: .deny, match: SecurityMatch(path: "/admin")),
        ])], isolation: .off))
        #expect(try decide(e, SecurityRequest(caller: fromGateway)) == SecurityDecision(allowed: true, decidedBy: "default/plane-isolation-off"))
        #expect(try decide(e, SecurityRequest(caller: .anonymous)).allowed)
        #expect(try decide(e, SecurityRequest(caller: fromGateway, path: "/admin")) == SecurityDecision(allowed: false, decidedBy: "p/rules[0]"))
        try e.expectAgreement()
    }

    @Test func withinAPlaneADenyHolds() throws {
        let e = Evaluation(inputs(gateway, [policy("p", source: "session-management", destination: "api-gateway", [
            SecurityRule(action: .deny, match: SecurityMatch(path: "/internal", method: "DELETE")),
        ])]))
        #expect(try !decide(e, SecurityRequest(caller: fromSessions, path: "/internal/x", method: "DELETE")).allowed)
        #expect(try decide(e, SecurityRequest(caller: fromSessions, path: "/internal/x", method: "GET")).allowed)
        try e.expectAgreement()
    }
}

@Suite struct StarSourceTests {
    @Test func starAppliesToEveryCallerIncludingAnonymous() throws {
        let e = Evaluation(inputs([policy("open", source: "*", destination: "tron-payment", [
            SecurityRule(action: .allow, match: SecurityMatch(path: "/healthz", method: "GET")),
        ])]))
        for caller in [fromGateway, fromChain, .otherMeshIdentity, .anonymous] {
            #expect(try decide(e, SecurityRequest(caller: caller, path: "/healthz")) == SecurityDecision(allowed: true, decidedBy: "open/rules[0]"))
            #expect(try !decide(e, SecurityRequest(caller: caller, path: "/healthz", method: "POST")).allowed || caller == fromPayments)
        }
        try e.expectAgreement()
    }

    @Test func aNamedSourceDoesNotApplyToAnonymousCallers() throws {
        let e = Evaluation(inputs([policy("p", source: "api-gateway", destination: "tron-payment", [SecurityRule(action: .allow)])]))
        #expect(try decide(e, SecurityRequest(caller: fromGateway)).allowed)
        #expect(try decide(e, SecurityRequest(caller: .anonymous)) == SecurityDecision(allowed: false, decidedBy: "default/plane-isolation"))
    }

    @Test func starRequirementsConstrainButDoNotOpenPlanes() throws {
        let e = Evaluation(inputs([policy("mtls-everywhere", source: "*", destination: "tron-payment", [SecurityRule(action: .requireMTLS)])]))
        #expect(try decide(e, SecurityRequest(caller: .anonymous)) == SecurityDecision(allowed: false, decidedBy: "mtls-everywhere/rules[0]"))
        #expect(try decide(e, SecurityRequest(caller: fromGateway)) == SecurityDecision(allowed: false, decidedBy: "default/plane-isolation"))
        try e.expectAgreement()
    }
}

@Suite struct ActionTests {
    @Test func denyDecidesWhateverFollows() throws {
        let e = Evaluation(inputs([
            policy("first", source: "api-gateway", destination: "tron-payment", priority: 10, [SecurityRule(action: .deny, match: SecurityMatch(path: "/internal"))]),
            policy("second", source: "*", destination: "tron-payment", [SecurityRule(action: .allow)]),
        ]))
        #expect(try decide(e, SecurityRequest(caller: fromGateway, path: "/internal")) == SecurityDecision(allowed: false, decidedBy: "first/rules[0]"))
        #expect(try decide(e, SecurityRequest(caller: fromGateway, path: "/public")) == SecurityDecision(allowed: true, decidedBy: "second/rules[0]"))
        #expect(try decide(e, SecurityRequest(caller: .anonymous, path: "/internal")).allowed, "the deny names api-gateway only")
        try e.expectAgreement()
    }

    @Test func requireMTLSLetsIdentifiedCallersOnAndRefusesAnonymousOnes() throws {
        let e = Evaluation(inputs([policy("p", source: "*", destination: "tron-payment", [
            SecurityRule(action: .requireMTLS), SecurityRule(action: .allow),
        ])]))
        #expect(try decide(e, SecurityRequest(caller: fromChain)) == SecurityDecision(allowed: true, decidedBy: "p/rules[1]"))
        #expect(try decide(e, SecurityRequest(caller: .anonymous)) == SecurityDecision(allowed: false, decidedBy: "p/rules[0]"))
        try e.expectAgreement()
    }

    @Test func requireAuthWithJWTChecksIssuerAudienceRolesAndPermissions() throws {
        let e = Evaluation(inputs([policy("p", source: "api-gateway", destination: "tron-payment", [
            SecurityRule(action: .requireMTLS),
            jwtRule(audiences: ["tron-payment"], roles: ["payments-service", "admin"], permissions: ["payouts:create", "payouts:read"]),
        ])]))
        let good = token(e, roles: ["admin"], permissions: ["payouts:read", "payouts:create", "extra:x"])
        #expect(try decide(e, SecurityRequest(caller: fromGateway, jwt: good)) == SecurityDecision(allowed: true, decidedBy: "p/requirements"))
        #expect(try decide(e, SecurityRequest(caller: fromGateway)) == SecurityDecision(allowed: false, decidedBy: "p/rules[1]"), "no token")
        #expect(try !decide(e, SecurityRequest(caller: fromGateway, jwt: token(e, roles: ["intern"], permissions: ["payouts:create", "payouts:read"]))).allowed,
                "no listed role")
        #expect(try !decide(e, SecurityRequest(caller: fromGateway, jwt: token(e, roles: ["admin"], permissions: ["payouts:create"]))).allowed,
                "every permission is needed")
        #expect(try !decide(e, SecurityRequest(caller: fromGateway, jwt: token(e, aud: ["other"], roles: ["admin"], permissions: ["payouts:create", "payouts:read"]))).allowed,
                "audience")
        #expect(try !decide(e, SecurityRequest(caller: fromChain, jwt: good)).allowed, "the policy names api-gateway")
        try e.expectAgreement()
    }

    @Test func rolesComeFromTheConfiguredClaimAndMayBeAString() throws {
        let e = Evaluation(inputs([policy("p", source: "*", destination: "tron-payment", [
            jwtRule(.allow, roles: ["admin"], rolesClaim: "realm_access.roles"),
        ])]))
        let provider = e.providerNames[0]
        let nested: [String: JSON] = [provider: ["iss": .string(issuer), "realm_access": ["roles": ["admin"]]]]
        let flat: [String: JSON] = [provider: ["iss": .string(issuer), "realm_access": ["roles": "admin"]]]
        let wrong: [String: JSON] = [provider: ["iss": .string(issuer), "roles": ["admin"]]]
        #expect(try decide(e, SecurityRequest(caller: fromChain, jwt: nested)).allowed)
        #expect(try decide(e, SecurityRequest(caller: .anonymous, jwt: flat)).allowed)
        #expect(try !decide(e, SecurityRequest(caller: fromChain, jwt: wrong)).allowed)
    }

    @Test func requireAuthWithAPIKeyWantsAKeyFromTheNamedSecret() throws {
        let e = Evaluation(inputs([policy("p", source: "*", destination: "tron-payment", [
            apiKeyRule(secret: "admin-keys"), SecurityRule(action: .allow),
        ])], secrets: ["admin-keys": keys(["ops": "0123456789abcdef-ops"]), "other-keys": keys(["x": "0123456789abcdef-xxx"])]))
        #expect(try decide(e, SecurityRequest(caller: .anonymous, apiKeyClient: "admin-keys/ops")) == SecurityDecision(allowed: true, decidedBy: "p/rules[1]"))
        #expect(try decide(e, SecurityRequest(caller: .anonymous)) == SecurityDecision(allowed: false, decidedBy: "p/rules[0]"))
        #expect(try !decide(e, SecurityRequest(caller: fromGateway, apiKeyClient: "other-keys/x")).allowed)
        try e.expectAgreement()
    }

    @Test func requireAuthWithMTLSMethodIsTheCertificate() throws {
        let e = Evaluation(inputs([policy("p", source: "*", destination: "tron-payment", [
            SecurityRule(action: .requireAuth, authentication: Authentication(methods: [.mtls, .apiKey],
                apiKey: APIKeySource(secretRef: LocalSecretReference(name: "k")))), SecurityRule(action: .allow),
        ])], secrets: ["k": keys(["a": "0123456789abcdef-aaa"])]))
        #expect(try decide(e, SecurityRequest(caller: fromChain)).allowed)
        #expect(try decide(e, SecurityRequest(caller: .anonymous, apiKeyClient: "k/a")).allowed, "either method")
        #expect(try !decide(e, SecurityRequest(caller: .anonymous)).allowed)
        try e.expectAgreement()
    }

    @Test func anAllowWithCredentialsOnlyAllowsThoseWhoHaveThem() throws {
        let e = Evaluation(inputs(gateway, [policy("admins", source: "*", destination: "api-gateway", [
            jwtRule(.allow, roles: ["admin"]),
        ])]))
        #expect(try decide(e, SecurityRequest(caller: fromChain, jwt: token(e, roles: ["admin"]))) == SecurityDecision(allowed: true, decidedBy: "admins/rules[0]"))
        #expect(try decide(e, SecurityRequest(caller: fromChain)) == SecurityDecision(allowed: false, decidedBy: "default/plane-isolation"), "others go on to the default")
        #expect(try decide(e, SecurityRequest(caller: fromSessions)) == SecurityDecision(allowed: true, decidedBy: "default/same-plane"))
        try e.expectAgreement()
    }

    @Test func requirementsOfANamedSourceLetItInOnlyWhenTheyHold() throws {
        let e = Evaluation(inputs([
            policy("gw", source: "api-gateway", destination: "tron-payment", [SecurityRule(action: .requireMTLS)]),
        ]))
        #expect(try decide(e, SecurityRequest(caller: fromGateway)) == SecurityDecision(allowed: true, decidedBy: "gw/requirements"))
        #expect(try decide(e, SecurityRequest(caller: fromSessions)) == SecurityDecision(allowed: false, decidedBy: "default/plane-isolation"))
    }
}

@Suite struct OrderTests {
    @Test func priorityThenCreationTimeThenName() {
        let ordered = InboundRenderer.ordered([
            policy("c", source: "*", destination: "d", priority: 1, created: "2025-01-01T00:00:00Z", [SecurityRule(action: .allow)]),
            policy("b", source: "*", destination: "d", priority: 5, created: "2025-03-01T00:00:00Z", [SecurityRule(action: .allow)]),
            policy("a", source: "*", destination: "d", priority: 1, created: "2025-01-01T00:00:00Z", [SecurityRule(action: .allow)]),
            policy("z", source: "*", destination: "d", priority: 1, created: "2024-12-31T00:00:00Z", [SecurityRule(action: .allow)]),
        ])
        #expect(ordered.map(\.name) == ["b", "z", "a", "c"])
    }

    @Test func theFirstMatchingPolicyDecides() throws {
        let low = policy("low", source: "api-gateway", destination: "tron-payment", priority: 1, [SecurityRule(action: .deny)])
        let high = policy("high", source: "api-gateway", destination: "tron-payment", priority: 9, [SecurityRule(action: .allow, match: SecurityMatch(method: "GET"))])
        let e = Evaluation(inputs([low, high]))
        #expect(try decide(e, SecurityRequest(caller: fromGateway, method: "GET")) == SecurityDecision(allowed: true, decidedBy: "high/rules[0]"))
        #expect(try decide(e, SecurityRequest(caller: fromGateway, method: "POST")) == SecurityDecision(allowed: false, decidedBy: "low/rules[0]"))
        try e.expectAgreement()
    }

    @Test func rulesInOrderWithinAPolicy() throws {
        let e = Evaluation(inputs(chain, [policy("p", source: "session-management", destination: "blockchain-core", [
            SecurityRule(action: .deny, match: SecurityMatch(path: "/api/v1/sessions/admin")),
            SecurityRule(action: .allow, match: SecurityMatch(path: "/api/v1/sessions")),
        ])]))
        #expect(try decide(e, SecurityRequest(caller: fromSessions, path: "/api/v1/sessions/admin/x")) == SecurityDecision(allowed: false, decidedBy: "p/rules[0]"))
        #expect(try decide(e, SecurityRequest(caller: fromSessions, path: "/api/v1/sessions/1")) == SecurityDecision(allowed: true, decidedBy: "p/rules[1]"))
        try e.expectAgreement()
    }
}

/// The rendered RBAC and the reference evaluation agree on every combination of caller, path,
/// method and credentials, over a mix of policies, with and without certificates.
@Suite struct AgreementTests {
    static let mixed = [
        policy("gw", source: "api-gateway", destination: "tron-payment", priority: 100, [
            SecurityRule(action: .deny, match: SecurityMatch(path: "/internal")),
            SecurityRule(action: .requireMTLS),
            jwtRule(match: SecurityMatch(path: "/api/v1/payments", method: "POST"), audiences: ["tron-payment"], roles: ["payments"], permissions: ["payouts:create"]),
        ]),
        policy("ops", source: "*", destination: "tron-payment", priority: 50, [
            apiKeyRule(match: SecurityMatch(path: "/ops"), secret: "ops-keys"),
            SecurityRule(action: .allow, match: SecurityMatch(path: "/ops")),
            jwtRule(.allow, match: SecurityMatch(method: "GET"), roles: ["auditor"], issuer: "https://other.issuer", jwksUri: "https://other.issuer:8443/keys"),
        ]),
        policy("chain", source: "blockchain-core", destination: "tron-payment", [
            SecurityRule(action: .allow, match: SecurityMatch(path: "/api/v1/receipts", method: "POST")),
            SecurityRule(action: .deny),
        ]),
    ]

    @Test(arguments: [PlaneIsolation.strict, .off])
    func mixedPolicies(isolation: PlaneIsolation) async throws {
        let e = Evaluation(inputs(Self.mixed, secrets: ["ops-keys": keys(["bot": "0123456789abcdef-bot"])], isolation: isolation))
        #expect(e.requests().count > 1000)
        try e.expectAgreement()
        try await checkEnvoy(e.render, "agreement-\(isolation)")
    }

    @Test func withoutCertificatesEveryCallerIsAnonymous() async throws {
        var i = inputs(Self.mixed, secrets: ["ops-keys": keys(["bot": "0123456789abcdef-bot"])])
        i.secrets = i.secrets.filter { !$0.key.hasSuffix("-mesh-tls") }
        let e = Evaluation(i)
        #expect(e.chain("mtls") == nil)
        try e.expectAgreement()
        try await checkEnvoy(e.render, "agreement-uncertified")
    }
}
