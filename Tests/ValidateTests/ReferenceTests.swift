import ManifestValidation
import Testing

/// The references between manifests: each rule, its warning, and `--strict-references`.
@Suite struct ReferenceTests {
    @Test func trafficPolicyServicesAreAmongTheManifestsOrWarned() {
        let policy = Manifest.traffic("p", source: "web", destination: "api", mirror: "shadow")
        let all = validate([Manifest.service("web"), Manifest.service("api"), Manifest.service("shadow"), policy])
        #expect(all.problems.isEmpty, "\(all.lines)")

        let alone = validate([policy])
        #expect(alone.errors == 0)
        #expect(alone.problems.map(\.field) == ["spec.source", "spec.destination", "spec.rules[1].mirror.service"])
        #expect(alone.lines[1] == "m.yaml:1: spec.destination: warning: Not found: Service \"api\" is not among the manifests in namespace shop; it must exist in the cluster, and until it does the policy reports DestinationNotFound")
        #expect(alone.problems[2].message.hasSuffix("the policy reports MirrorTargetNotFound"))

        let strict = validate([policy], ValidationOptions(strictReferences: true))
        #expect(strict.errors == 3 && strict.warnings == 0)
        #expect(strict.lines[1].hasPrefix("m.yaml:1: spec.destination: Not found:"))
    }

    @Test func aServiceOutsideTheMeshOrInAnotherNamespaceIsNamed() {
        let report = validate([
            Manifest.service("web", mesh: false), Manifest.service("api", namespace: "other"),
            Manifest.traffic("p", source: "web", destination: "api"),
        ])
        let problems = report.at(3)
        #expect(problems.map(\.severity) == [.error, .warning])
        #expect(problems[0].line == "m.yaml:3: spec.source: Invalid value: \"web\": Service shop/web (m.yaml:1) is not a mesh Service: label it with mesh.lucid.io/cluster and mesh.lucid.io/plane (chain, ops, wallet); until then the policy reports SourceNotFound")
        #expect(problems[1].message.contains("is not among the manifests in namespace shop (there is one in namespace other)"))
    }

    @Test func aDisabledPolicyNamesNothing() {
        #expect(validate([Manifest.traffic("p", source: "web", destination: "api", enabled: false)]).problems.isEmpty)
    }

    @Test func securityPolicyServicesAndAPIKeySecrets() {
        func policy(source: String) -> String {
            """
            apiVersion: mesh.lucid.io/v1alpha1
            kind: SecurityPolicy
            metadata: {name: s, namespace: shop}
            spec:
              source: "\(source)"
              destination: admin
              rules:
              - action: require-auth
                authentication: {methods: [api-key], apiKey: {secretRef: {name: admin-keys}}}
            """
        }
        let field = "spec.rules[0].authentication.apiKey.secretRef.name"
        #expect(validate([Manifest.service("admin"), Manifest.secret("admin-keys", entries: ["ops"]), policy(source: "*")]).problems.isEmpty)
        let missing = validate([Manifest.service("admin"), policy(source: "ops-console")])
        #expect(missing.problems.map(\.field) == ["spec.source", field])
        #expect(missing.problems[1].message.hasPrefix("Not found: Secret \"admin-keys\""))
        #expect(missing.problems[1].message.hasSuffix("the policy reports SecretNotFound and calls that need a key from it are denied"))
        let empty = validate([Manifest.service("admin"), Manifest.secret("admin-keys", entries: []), policy(source: "*")])
        #expect(empty.lines == ["m.yaml:3: \(field): Invalid value: \"admin-keys\": Secret shop/admin-keys (m.yaml:2) has no entries: add one per client, its value the API key; until then calls that need a key from it are denied"])
    }

    @Test func oneBreakerPerServiceTheOlderThenTheFirstByNameWins() {
        let byName = validate([Manifest.service("api"), Manifest.breaker("zeta", service: "api"), Manifest.breaker("alpha", service: "api")])
        #expect(byName.problems.map(\.line) == [
            "m.yaml:2: spec.service: Duplicate value: \"api\": CircuitBreakerConfig \"alpha\" (m.yaml:3) also sets the breaker for this Service and goes first (older, then by name): one config per service; this one would report Conflict: delete it, or move its settings into the other",
        ])
        let byAge = validate([Manifest.service("api"), Manifest.breaker("zeta", service: "api", created: "2025-01-01T00:00:00Z"),
                              Manifest.breaker("alpha", service: "api", created: "2025-06-01T00:00:00Z")])
        #expect(byAge.problems.map(\.document) == [3])
        // An invalid one takes no part.
        let invalid = Manifest.breaker("alpha", service: "api").replacingOccurrences(of: "recoveryTimeout: 60000", with: "recoveryTimeout: 60000, successThreshold: 5")
        #expect(validate([Manifest.service("api"), Manifest.breaker("zeta", service: "api"), invalid]).problems.map(\.check) == [.rule])
        // A breaker for a Service that is not there applies to no sidecar.
        #expect(validate([Manifest.breaker("b", service: "api")]).problems.first?.message.hasSuffix("the breaker applies to no sidecar") == true)
    }

    @Test func payoutSignerSecretsAndTheirKey() {
        #expect(validate([Manifest.secret("signer"), Manifest.payout("p")]).problems.isEmpty)
        let missing = validate([Manifest.payout("p")])
        #expect(missing.problems.map(\.field) == ["spec.signer.secretRef.name"])
        #expect(missing.problems.first?.severity == .warning)
        #expect(missing.problems.first?.message.hasSuffix("its Job signs nothing and the payout reports SignerSecretMissing") == true)
        // The key defaults to "key"; a Secret without that entry cannot be mounted.
        let noKey = validate([Manifest.secret("signer", entries: ["private"]), Manifest.payout("p")])
        #expect(noKey.lines == ["m.yaml:2: spec.signer.secretRef.key: Invalid value: \"key\": Secret shop/signer (m.yaml:1) has no entry \"key\" (it has private); the payout Job could not mount the signer key"])
        #expect(validate([Manifest.secret("signer", entries: ["private"]), Manifest.payout("p", key: "private")]).problems.isEmpty)
    }

    @Test func onePayoutPerSession() {
        let report = validate([Manifest.secret("signer"), Manifest.payout("b", session: "s1"), Manifest.payout("a", session: "s1"),
                               Manifest.payout("c", session: "s2")])
        #expect(report.problems.map(\.line) == [
            "m.yaml:2: spec.sessionId: Duplicate value: \"s1\": TronPayout \"a\" (m.yaml:3) pays this session and goes first (older, then by name): one payout per session; this one would fail with DuplicateSession",
        ])
    }

    @Test func approvalsNameTheirPayout() {
        let uid = "0b5e2f7a-3c1d-4e8f-9a6b-1c2d3e4f5a6b"
        #expect(validate([Manifest.secret("signer"), Manifest.payout("p"), Manifest.approval("a", payout: "p")]).problems.isEmpty)
        let missing = validate([Manifest.approval("a", payout: "p")])
        #expect(missing.lines == ["m.yaml:1: spec.payoutName: warning: Not found: TronPayout \"p\" is not among the manifests in namespace shop; it must exist in the cluster, and until it does the approval decides nothing"])
        let wrongUID = validate([Manifest.secret("signer"), Manifest.payout("p", uid: "11111111-2222-3333-4444-555555555555"),
                                 Manifest.approval("a", payout: "p", uid: uid)])
        #expect(wrongUID.problems.map(\.field) == ["spec.payoutUID"])
    }

    @Test func aNameUsedTwiceIsAnErrorOnTheSecond() {
        let report = validate([
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: shop}}",
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: other}}",
            "{apiVersion: v1, kind: Secret, metadata: {name: a, namespace: shop}}",
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}",
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: shop}}",
        ], ValidationOptions(defaultNamespace: "shop"))
        #expect(report.lines == [
            "m.yaml:4: metadata.name: Duplicate value: \"a\": ConfigMap shop/a is also defined at m.yaml:1; applying both keeps only the last",
            "m.yaml:5: metadata.name: Duplicate value: \"a\": ConfigMap shop/a is also defined at m.yaml:1; applying both keeps only the last",
        ])
        // Across files too, and a repeated object is one object: not also a second breaker.
        let files = validate(["a.yaml": Manifest.service("api") + "\n---\n" + Manifest.breaker("b", service: "api"),
                              "b.yaml": Manifest.breaker("b", service: "api")])
        #expect(files.lines.map { String($0.prefix(40)) } == ["b.yaml:1: metadata.name: Duplicate value"])
    }
}
