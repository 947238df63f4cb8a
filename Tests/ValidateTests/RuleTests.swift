import ManifestValidation
import Testing

/// The schema, the CEL rules and the semantic rules together, as the API server and the
/// operator apply them.
@Suite struct RuleTests {
    static func traffic(_ spec: String, extra: String = "") -> String {
        "{apiVersion: mesh.lucid.io/v1alpha1, kind: TrafficPolicy, metadata: {name: t, namespace: shop}, spec: \(spec)\(extra)}"
    }

    func errors(_ documents: [String]) -> [String] {
        validate(documents).problems.filter { $0.severity == .error }.map(\.line)
    }

    @Test func celRulesSpeakWithTheServersWords() {
        let report = validate([Self.traffic("{source: a, destination: b, rules: [{action: allow, match: {path: /a}, weight: 60}, {action: allow, match: {path: /b}, weight: 50}]}")])
        let errors = report.problems.filter { $0.severity == .error }
        #expect(errors.map(\.line) == [#"m.yaml:1: spec.rules: Invalid value: "object": the weights of a policy's rules add up to at most 100"#])
        #expect(errors.map(\.check) == [.rule])
    }

    @Test func aBlockingSchemaErrorKeepsTheRulesFromRunningAndOthersDoNot() {
        // A type error blocks CEL (as apiextensions' hasBlockingErr): the redirect rule is not judged.
        let blocked = validate([Self.traffic("{source: a, destination: b, priority: high, rules: [{action: redirect}]}")])
        #expect(blocked.problems.filter { $0.severity == .error }.map(\.field) == ["spec.priority"])
        #expect(blocked.problems.contains { $0.severity == .warning && $0.check == .rule && $0.field == nil })
        // A pattern error does not: both are reported, and the semantic rules wait for a clean schema.
        let both = validate([Self.traffic("{source: Bad_Name, destination: b, rules: [{action: redirect}]}")])
        #expect(both.problems.filter { $0.severity == .error }.map(\.check) == [.schema, .rule])
        #expect(both.problems.filter { $0.severity == .error }.map(\.field) == ["spec.source", "spec.rules[0].redirect"])
    }

    @Test func aSemanticErrorOnAFieldTheRulesReportedAddsNothing() {
        // The CEL rule and the semantic rule both catch a redirect without a target: one line.
        #expect(errors([Self.traffic("{source: a, destination: b, rules: [{action: redirect}]}")])
                == [#"m.yaml:1: spec.rules[0].redirect: Invalid value: "object": a redirect rule needs redirect.host or redirect.path"#])
        // What only the semantic rules see is reported by them.
        let semantic = validate([Self.traffic("{source: a, destination: b, rules: [{action: deny, timeout: 5}]}")])
        #expect(semantic.problems.filter { $0.severity == .error }.map(\.line)
                == ["m.yaml:1: spec.rules[0].timeout: Forbidden: a deny rule answers 403 itself; timeout has no meaning"])
        #expect(semantic.problems.first?.check == .semantic)
    }

    @Test func unknownFieldsAreRefusedAsWithStrictFieldValidation() {
        #expect(errors([Self.traffic("{source: a, destination: b, rules: [{action: allow, colour: red}]}")])
                == [#"m.yaml:1: spec.rules[0].colour: unknown field "spec.rules[0].colour""#])
        // Root fields are always allowed; status is the server's to set and is not checked.
        #expect(errors([Self.traffic("{source: a, destination: b, rules: [{action: allow}]}", extra: ", status: {bogus: 1}")]).isEmpty)
        #expect(errors([Self.traffic("{source: a, destination: b, rules: [{action: allow}]}", extra: ", extra: 1")])
                == [#"m.yaml:1: extra: unknown field "extra""#])
    }

    @Test func defaultsApplyBeforeTheRules() {
        // halfOpenMaxCalls defaults to 3: a successThreshold of 4 exceeds it.
        let breaker = "{apiVersion: mesh.lucid.io/v1alpha1, kind: CircuitBreakerConfig, metadata: {name: b}, spec: {service: s, failureThreshold: 5, recoveryTimeout: 60000, successThreshold: 4}}"
        #expect(errors([breaker]) == [#"m.yaml:1: spec.successThreshold: Invalid value: "object": successThreshold cannot exceed halfOpenMaxCalls"#])
    }

    @Test func aNullWhereTheSchemaAllowsNoneIsAbsentAsOnTheServer() {
        // apiextensions' defaulting: a non-nullable null takes the default, or is dropped.
        #expect(errors([Self.traffic("{source: a, destination: b, priority: null, rules: [{action: allow, retries: null}]}")]).isEmpty)
        let rejection = "{apiVersion: payments.lucid.io/v1alpha1, kind: TronPayoutApproval, metadata: {name: a}, spec: {payoutName: p, decision: Rejected, approver: x, reason: null}}"
        #expect(errors([rejection]) == [#"m.yaml:1: spec.reason: Invalid value: "object": a rejection needs a reason"#])
        // In a list a null stays, and is refused.
        #expect(errors([Self.traffic("{source: a, destination: b, rules: [null]}")]) == [#"m.yaml:1: spec.rules[0]: Invalid value: "null": spec.rules[0] in body must be of type object: "null""#])
    }

    @Test func semanticRulesOfThePayouts() {
        let payout = Manifest.payout("p").replacingOccurrences(of: "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru", with: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HD")
        #expect(errors([payout, Manifest.secret("signer")]) == [#"m.yaml:1: spec.recipient: Invalid value: "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HD" has a wrong base58check checksum"#])
    }
}
