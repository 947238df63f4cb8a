import LucidAPI
@testable import Mesh
import Testing
import YAML

private let adminKey = "dev-admin-key-3f9a2c71e4b8d605"

private func apiKeyInputs(key: String = adminKey, secrets extra: [String: SecretData]? = nil) -> InboundInputs {
    InboundInputs(destination: payments, services: allServices,
                  policies: [policy("admin", source: "*", destination: "tron-payment", [apiKeyRule(header: "X-Lucid-Admin-Key", secret: "admin-keys"), SecurityRule(action: .allow)])],
                  secrets: certificates(allServices).merging(extra ?? ["admin-keys": keys(["ops-console": key])]) { a, _ in a })
}

private func filterNames(_ render: InboundRender, chain: String = "inbound-mtls") -> [String] {
    let c = render.listener?["filter_chains"]?.arrayValue?.first { $0["name"]?.stringValue == chain }
    return (c.map(Evaluation.httpFilters) ?? []).compactMap { $0["name"]?.stringValue }
}

@Suite struct InboundListenerTests {
    @Test func listenerFrontsTheTargetPortWithAnMTLSAndAPlaintextChain() async throws {
        let render = InboundRenderer.render(InboundInputs(destination: chain, services: allServices, policies: [], secrets: certificates(allServices)))
        let listener = try #require(render.listener)
        #expect(listener["name"] == "inbound")
        #expect(listener[path: "address", "socket_address", "port_value"] == 15006)
        let chains = listener["filter_chains"]?.arrayValue ?? []
        #expect(chains.map { $0["name"] } == ["inbound-mtls", "inbound-plaintext"])
        #expect(chains.map { $0[path: "filter_chain_match", "transport_protocol"] } == ["tls", "raw_buffer"])
        let tls = try #require(chains[0][path: "transport_socket", "typed_config"])
        #expect(tls["require_client_certificate"] == true)
        #expect(tls[path: "common_tls_context", "combined_validation_context", "default_validation_context", "match_typed_subject_alt_names"]?[0]?[path: "matcher", "prefix"]
                == "spiffe://cluster.local/")
        #expect(chains[1]["transport_socket"] == nil)
        #expect(render.clusters.map { $0["name"] } == ["inbound|8545||"])
        #expect(render.clusters[0][path: "load_assignment", "endpoints"]?[0]?["lb_endpoints"]?[0]?[path: "endpoint", "address", "socket_address"]
                == ["address": "127.0.0.1", "port_value": 8545])
        #expect(filterNames(render) == ["lucid.strip-api-key-client", "envoy.filters.http.rbac", "envoy.filters.http.router"])
        let hcm = try #require(chains[0]["filters"]?[0]?["typed_config"])
        #expect(hcm["forward_client_cert_details"] == "SANITIZE_SET" && hcm["normalize_path"] == true && hcm["merge_slashes"] == true)
        #expect(chains[1]["filters"]?[0]?[path: "typed_config", "forward_client_cert_details"] == "SANITIZE")
        try await checkEnvoy(render, "listener-no-policies")
    }

    @Test func withoutItsCertificateTheServiceServesOnlyPlaintext() async throws {
        let render = InboundRenderer.render(InboundInputs(destination: chain, services: allServices, policies: [], secrets: [:]))
        #expect(render.listener?["filter_chains"]?.arrayValue?.map { $0["name"] } == ["inbound-plaintext"])
        try await checkEnvoy(render, "listener-uncertified")
    }

    @Test func theAccessLogRecordsCallerAndDecision() async throws {
        let render = InboundRenderer.render(InboundInputs(destination: payments, services: allServices,
            policies: [policy("p", source: "api-gateway", destination: "tron-payment", [jwtRule(roles: ["payments"])])], secrets: certificates(allServices)))
        let hcm = try #require(render.listener?["filter_chains"]?[0]?["filters"]?[0]?["typed_config"])
        let format = try #require(hcm["access_log"]?[0]?[path: "typed_config", "log_format", "json_format"])
        #expect(format["caller"] == "%DOWNSTREAM_PEER_URI_SAN%")
        #expect(format["details"] == "%RESPONSE_CODE_DETAILS%", "a denial names its policy: rbac_access_denied_matched_policy[...]")
        #expect(format["allowed_by"] == "%DYNAMIC_METADATA(envoy.filters.http.rbac:shadow_effective_policy_id)%")
        #expect(format["api_key_client"] == "%REQ(X-LUCID-API-KEY-CLIENT)%")
        #expect(format["jwt_subject.auth.lucid.internal"] == "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:auth.lucid.internal:sub)%")
        #expect(format["destination"] == "lucid-payment/tron-payment")
        try await checkEnvoy(render, "access-log")
    }

    @Test func jwtAuthnVerifiesTokensFromARemoteJWKSWithItsOwnCluster() async throws {
        let render = InboundRenderer.render(InboundInputs(destination: payments, services: allServices, policies: [
            policy("p", source: "api-gateway", destination: "tron-payment", [jwtRule(audiences: ["tron-payment"])]),
            policy("q", source: "*", destination: "tron-payment", [jwtRule(.allow, roles: ["ops"], issuer: "https://login.example.com/realms/lucid",
                                                                           jwksUri: "https://login.example.com:8443/realms/lucid/certs")]),
            policy("r", source: "*", destination: "tron-payment", [jwtRule(.allow, permissions: ["x:y"], issuer: "https://auth.lucid.internal",
                                                                           jwksUri: "http://10.0.0.7/keys")]),
        ], secrets: certificates(allServices)))
        #expect(filterNames(render) == ["lucid.strip-api-key-client", "envoy.filters.http.jwt_authn", "envoy.filters.http.rbac", "envoy.filters.http.router"])
        let jwt = try #require(render.listener?["filter_chains"]?[0]?["filters"]?[0]?[path: "typed_config", "http_filters"]?[1]?["typed_config"])
        let providers = try #require(jwt["providers"]?.objectValue)
        #expect(providers.keys == ["auth.lucid.internal", "login.example.com_realms_lucid", "auth.lucid.internal-2"])
        #expect(providers["auth.lucid.internal"]?[path: "remote_jwks", "http_uri"] ==
                ["uri": .string(jwksUri), "cluster": "jwks|auth.lucid.internal:443", "timeout": "5s"])
        #expect(providers["auth.lucid.internal"]?["payload_in_metadata"] == "auth.lucid.internal")
        #expect(providers["auth.lucid.internal"]?["audiences"] == nil, "audiences are checked per rule, in RBAC")
        #expect(jwt["rules"]?[0]?[path: "requires", "requires_any", "requirements"]?.arrayValue?.last == ["allow_missing_or_failed": [:]])
        #expect(render.clusters.map { $0["name"] } == ["inbound|8080||", "jwks|auth.lucid.internal:443", "jwks|login.example.com:8443", "jwks|10.0.0.7:80"])
        let tls = try #require(render.clusters[2][path: "transport_socket", "typed_config"])
        #expect(tls["sni"] == "login.example.com")
        #expect(tls[path: "common_tls_context", "validation_context", "match_typed_subject_alt_names"]?[0] == ["san_type": "DNS", "matcher": ["exact": "login.example.com"]])
        #expect(render.clusters[3]["transport_socket"] == nil && render.clusters[3]["type"] == "STATIC")
        try await checkEnvoy(render, "jwt-providers")
    }

    @Test func removingAPolicyRemovesItsFilters() async throws {
        var inputs = apiKeyInputs()
        inputs.policies.append(policy("jwt", source: "api-gateway", destination: "tron-payment", [jwtRule(roles: ["payments"])]))
        let before = InboundRenderer.render(inputs)
        #expect(filterNames(before).contains("envoy.filters.http.jwt_authn"))
        #expect(filterNames(before).contains("lucid.api_key_auth.x-lucid-admin-key"))
        #expect(before.secretFiles.keys.sorted() == ["api-keys-x-lucid-admin-key.json"])
        inputs.policies.removeAll()
        let after = InboundRenderer.render(inputs)
        #expect(filterNames(after) == ["lucid.strip-api-key-client", "envoy.filters.http.rbac", "envoy.filters.http.router"])
        #expect(after.secretFiles.isEmpty && after.clusters.count == 1)
        let rbac = try #require(after.listener?["filter_chains"]?[0]?["filters"]?[0]?[path: "typed_config", "http_filters"]?[1]?["typed_config"])
        #expect(rbac[path: "rules", "policies"]?.objectValue?.keys == ["default/plane-isolation"])
        #expect(!after.listener!.jsonText.contains("admin") && !after.listener!.jsonText.contains("jwt"))
        try await checkEnvoy(before, "remove-before")
        try await checkEnvoy(after, "remove-after")
    }

    @Test func aNamedTargetPortLeavesNoListener() {
        var destination = payments
        destination.targetPort = nil
        let render = InboundRenderer.render(InboundInputs(destination: destination, services: allServices,
            policies: [policy("p", source: "*", destination: "tron-payment", [SecurityRule(action: .allow)])], secrets: certificates(allServices)))
        #expect(render.listener == nil && render.clusters.isEmpty)
        #expect(render.outcomes["p"]?.reason == "InvalidDestination")
        #expect(render.outcomes["p"]?.message.contains("targetPort") == true)
    }

    @Test func namedAndNumericTargetPortsFromAServiceObject() throws {
        func object(_ target: JSON?) -> JSON {
            var port: JSON = ["port": 80]
            if let target { port["targetPort"] = target }
            return ["metadata": ["name": "s", "namespace": "n", "labels": ["mesh.lucid.io/cluster": "c", "mesh.lucid.io/plane": "ops"]],
                    "spec": ["selector": ["app": "s"], "ports": [port]]]
        }
        #expect(MeshService(object(8080))?.targetPort == 8080)
        #expect(MeshService(object(nil))?.targetPort == 80)
        #expect(MeshService(object("http"))?.targetPort == nil)
        #expect(MeshService(object(8080))?.selector == ["app": "s"])
    }
}

@Suite struct KeyMaterialTests {
    @Test func apiKeysGoOnlyIntoSecretFiles() async throws {
        let render = InboundRenderer.render(apiKeyInputs())
        let configMapSide = [render.listener ?? .null] + render.clusters
        for text in configMapSide.map(\.jsonText) + Array(render.configMapFiles.values) {
            #expect(!text.contains(adminKey), "key material in a ConfigMap file")
        }
        for outcome in render.outcomes.values {
            #expect(!outcome.message.contains(adminKey) && !outcome.conflicts.joined().contains(adminKey))
        }
        let file = try #require(render.secretFiles["api-keys-x-lucid-admin-key.json"])
        #expect(file.contains(adminKey))
        #expect(render.secretName == "tron-payment-sidecar-keys")
        let ecds = try #require(try JSON.parse(file)["resources"]?[0])
        #expect(ecds["name"] == "lucid.api_key_auth.x-lucid-admin-key")
        let auth = try #require(ecds[path: "typed_config", "extension_config", "typed_config"])
        #expect(auth["credentials"] == [["key": .string(adminKey), "client": "admin-keys/ops-console"]])
        #expect(auth["key_sources"] == [["header": "x-lucid-admin-key"]])
        #expect(auth["forwarding"] == ["header": "x-lucid-api-key-client", "hide_credentials": true])
        let discovery = try #require(render.listener?["filter_chains"]?[0]?["filters"]?[0]?[path: "typed_config", "http_filters"]?[1]?["config_discovery"])
        #expect(discovery[path: "config_source", "path_config_source", "path"] == "/etc/lucid/sidecar-keys/api-keys-x-lucid-admin-key.json")
        try await checkEnvoy(render, "api-keys")
    }

    @Test func rotatingAKeyChangesOnlyTheSecretSide() {
        let a = InboundRenderer.render(apiKeyInputs())
        let b = InboundRenderer.render(apiKeyInputs(key: "another-key-0123456789abcdef"))
        #expect(a.listener == b.listener && a.clusters == b.clusters && a.configMapFiles == b.configMapFiles)
        #expect(a.secretFiles != b.secretFiles)
    }

    @Test func aForgedClientHeaderIsDroppedBeforeAnyFilterTrustsIt() throws {
        let render = InboundRenderer.render(apiKeyInputs())
        let filters = try #require(render.listener?["filter_chains"]?[1]?["filters"]?[0]?[path: "typed_config", "http_filters"]?.arrayValue)
        #expect(filters.first?[path: "typed_config", "mutations", "request_mutations"] == [["remove": "x-lucid-api-key-client"]])
        let ecds = try JSON.parse(render.secretFiles.values.first ?? "")
        let skip = ecds["resources"]?[0]?[path: "typed_config", "xds_matcher", "matcher_list", "matchers"]?[0]
        #expect(skip?[path: "predicate", "not_matcher", "single_predicate", "input", "typed_config", "header_name"] == "x-lucid-admin-key")
        #expect(skip?[path: "on_match", "action", "typed_config", "@type"] == "type.googleapis.com/envoy.extensions.filters.common.matcher.action.v3.SkipFilter")
    }

    @Test func badKeysAreReportedWithoutTheirValue() throws {
        let secret = "trailing-newline-key-0123456789\n"
        let render = InboundRenderer.render(apiKeyInputs(secrets: ["admin-keys": keys(["ops-console": secret, "bot": "short", "ok": "fine-key-0123456789abcdef"])]))
        let outcome = try #require(render.outcomes["admin"])
        #expect(outcome.reason == "Invalid" && !outcome.ready && outcome.enforced)
        #expect(outcome.message.contains("Secret admin-keys entry ops-console: the key ends with a newline"))
        #expect(outcome.message.contains("Secret admin-keys entry bot: the key is shorter than 16 characters"))
        #expect(!outcome.message.contains("trailing-newline-key") && !outcome.message.contains("short\""))
        #expect(render.secretFiles.values.first?.contains("fine-key-0123456789abcdef") == true)
        #expect(render.secretFiles.values.first?.contains("trailing-newline-key") == false)
    }

    @Test func oneKeyNamesOneClient() throws {
        let same = "the-same-key-0123456789abcdef"
        var inputs = apiKeyInputs(secrets: ["admin-keys": keys(["a": same]), "more-keys": keys(["b": same])])
        inputs.policies.append(policy("more", source: "*", destination: "tron-payment", [apiKeyRule(header: "x-lucid-admin-key", secret: "more-keys")]))
        let render = InboundRenderer.render(inputs)
        #expect(render.outcomes["more"]?.message.contains("Secret more-keys entry b holds the same key as admin-keys/a") == true)
        #expect(!(render.outcomes["more"]?.message.contains(same) ?? true))
    }

    @Test func secretDataDecodesBase64AndStringData() {
        let s = SecretData(secret: ["data": ["a": "ZGV2LWFkbWluLWtleQ==", "bad": "!!"], "stringData": ["b": "plain"]])
        #expect(s.entries == ["a": Array("dev-admin-key".utf8), "b": Array("plain".utf8)])
    }
}

@Suite struct OutcomeTests {
    @Test func aMissingSecretIsNamedAndItsRuleFailsClosed() async throws {
        let e = Evaluation(apiKeyInputs(secrets: [:]))
        let outcome = try #require(e.render.outcomes["admin"])
        #expect(outcome.reason == "SecretNotFound" && !outcome.ready && outcome.enforced)
        #expect(outcome.message.hasPrefix("Secret \"admin-keys\" not found in namespace lucid-payment: create it"))
        #expect(e.render.secretsRead.contains("admin-keys"))
        // No key can be verified: no api_key_auth filter exists to set the client header, and a
        // client-sent one is dropped first.
        #expect(e.render.secretFiles.isEmpty && !filterNames(e.render, chain: "inbound-plaintext").contains { $0.hasPrefix("lucid.api_key_auth") })
        #expect(try e.envoy(SecurityRequest(caller: .anonymous)) == SecurityDecision(allowed: false, decidedBy: "admin/rules[0]"))
        try e.expectAgreement()
        try await checkEnvoy(e.render, "secret-not-found")
    }

    @Test func certificateNotReadyNamesTheSecret() throws {
        let p = policy("p", source: "api-gateway", destination: "tron-payment", [SecurityRule(action: .allow)])
        let noDestination = InboundRenderer.render(InboundInputs(destination: payments, services: allServices, policies: [p],
            secrets: certificates([gateway])))
        #expect(noDestination.outcomes["p"]?.reason == "CertificateNotReady")
        #expect(noDestination.outcomes["p"]?.message.hasPrefix("Secret \"tron-payment-mesh-tls\" (the certificate of tron-payment) is not ready") == true)
        let noSource = InboundRenderer.render(InboundInputs(destination: payments, services: allServices, policies: [p],
            secrets: certificates([payments])))
        #expect(noSource.outcomes["p"]?.reason == "CertificateNotReady")
        #expect(noSource.outcomes["p"]?.message.hasPrefix("Secret \"api-gateway-mesh-tls\"") == true)
        let both = InboundRenderer.render(InboundInputs(destination: payments, services: allServices, policies: [p], secrets: certificates(allServices)))
        #expect(both.outcomes["p"] == .applied())
        #expect(both.secretsRead == ["api-gateway-mesh-tls", "tron-payment-mesh-tls"])
    }

    @Test func aStarPolicyWithoutCertificatesIsStillReady() {
        let p = policy("p", source: "*", destination: "tron-payment", [SecurityRule(action: .allow, match: SecurityMatch(path: "/healthz"))])
        let render = InboundRenderer.render(InboundInputs(destination: payments, services: allServices, policies: [p], secrets: [:]))
        #expect(render.outcomes["p"]?.ready == true)
    }

    @Test func anInvalidPolicyDeniesItsSourceUntilFixed() throws {
        let bad = policy("bad", source: "api-gateway", destination: "tron-payment", [
            SecurityRule(action: .allow, authorization: Authorization(roles: ["admin"])),
        ])
        let open = policy("open", source: "*", destination: "tron-payment", [SecurityRule(action: .allow)])
        let e = Evaluation(InboundInputs(destination: payments, services: allServices, policies: [bad, open], secrets: certificates(allServices)))
        let outcome = try #require(e.render.outcomes["bad"])
        #expect(outcome.reason == "Invalid" && outcome.enforced)
        #expect(outcome.message.contains("spec.rules[0].authorization") && outcome.message.contains("denied (fail closed)"))
        #expect(try e.envoy(SecurityRequest(caller: .service(name: "api-gateway", plane: "ops"))) == SecurityDecision(allowed: false, decidedBy: "bad"))
        #expect(try e.envoy(SecurityRequest(caller: .service(name: "blockchain-core", plane: "chain"))).allowed)
        #expect(e.render.outcomes["open"]?.ready == true)
        try e.expectAgreement()
    }

    @Test func sourceNotFoundDisabledAndDestinationNotFound() {
        let render = InboundRenderer.render(InboundInputs(destination: payments, services: allServices, policies: [
            policy("ghost", source: "nobody", destination: "tron-payment", [SecurityRule(action: .allow)]),
            policy("off", source: "*", destination: "tron-payment", enabled: false, [SecurityRule(action: .deny)]),
            policy("elsewhere", source: "*", destination: "blockchain-core", [SecurityRule(action: .deny)]),
        ], secrets: certificates(allServices)))
        #expect(render.outcomes["ghost"]?.reason == "SourceNotFound")
        #expect(render.outcomes["ghost"]?.message.contains("use \"*\" for any caller") == true)
        #expect(render.outcomes["off"]?.reason == "Disabled")
        #expect(render.outcomes["elsewhere"] == nil, "another destination's policy")
        let missing = SecurityOutcome.destinationNotFound(policy("x", source: "*", destination: "nope", [SecurityRule(action: .allow)]), namespace: namespace)
        #expect(missing.reason == "DestinationNotFound" && missing.message.hasPrefix("destination \"nope\" is not a mesh Service in namespace lucid-payment"))
    }

    @Test func shadowedRulesAreConflicts() throws {
        let render = InboundRenderer.render(InboundInputs(destination: payments, services: allServices, policies: [
            policy("wide", source: "*", destination: "tron-payment", priority: 10, [SecurityRule(action: .deny, match: SecurityMatch(path: "/api"))]),
            policy("narrow", source: "api-gateway", destination: "tron-payment", [
                SecurityRule(action: .allow, match: SecurityMatch(path: "/api/v1", method: "GET")),
                SecurityRule(action: .allow, match: SecurityMatch(path: "/public")),
                SecurityRule(action: .deny, match: SecurityMatch(path: "/public/x")),
            ]),
        ], secrets: certificates(allServices)))
        let narrow = try #require(render.outcomes["narrow"])
        #expect(narrow.reason == "Conflict" && !narrow.ready && narrow.enforced)
        #expect(narrow.conflicts == [
            "rules[0] (allow) is shadowed by policy wide rules[0] (deny), which decides first for every call rules[0] applies to: raise this policy's priority or narrow wide",
            "rules[2] (deny) is never reached: rules[1] (allow) decides first for every call it applies to; reorder or narrow them",
        ])
        #expect(render.outcomes["wide"]?.ready == true)
    }

    @Test func anOptionalAuthenticationIsReportedUnhonoured() {
        let render = InboundRenderer.render(InboundInputs(destination: payments, services: allServices, policies: [
            policy("p", source: "*", destination: "tron-payment", [SecurityRule(action: .allow, authentication: Authentication(required: false, methods: [.mtls]))]),
        ], secrets: certificates(allServices)))
        #expect(render.outcomes["p"]?.ready == true)
        #expect(render.outcomes["p"]?.unhonoured.map(\.field) == ["spec.rules[0].authentication"])
    }

    @Test func dependenciesNameEveryObjectTheRenderReads() {
        let policies = [
            policy("a", source: "api-gateway", destination: "tron-payment", [apiKeyRule(secret: "keys-a"), SecurityRule(action: .requireMTLS)]),
            policy("b", source: "*", destination: "tron-payment", [apiKeyRule(secret: "keys-b")]),
            policy("c", source: "session-management", destination: "blockchain-core", [SecurityRule(action: .allow)]),
        ]
        let d = InboundRenderer.dependencies(destination: "tron-payment", policies: policies)
        #expect(d.services == ["tron-payment", "api-gateway"])
        #expect(d.secrets == ["tron-payment-mesh-tls", "api-gateway-mesh-tls", "keys-a", "keys-b"])
        let render = InboundRenderer.render(InboundInputs(destination: payments, services: allServices, policies: policies, secrets: [:]))
        #expect(Set(render.secretsRead).isSubset(of: d.secrets))
    }
}
