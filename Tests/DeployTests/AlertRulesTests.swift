import Foundation
import Testing
import YAML

/// The PrometheusRule of manifests/monitoring, by promtool (Debian's `prometheus` package).
@Suite struct AlertRulesTests {
    /// The rule groups as Prometheus loads them: the PrometheusRule's spec.
    static func rules(_ scratch: Scratch) async throws -> JSON {
        let rule = try #require(try await kustomize("manifests/monitoring", scratch).first("PrometheusRule", "lucid-operator"))
        return try #require(rule["spec"])
    }

    @Test func theRulesAndTheirTemplatesAreValid() async throws {
        let scratch = try Scratch()
        let path = try scratch.write("rules.yaml", YAML.emit(try await Self.rules(scratch)))
        let check = try await run("promtool", ["check", "rules", path], in: scratch)
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("SUCCESS: 10 rules found"), "\(check.output)")
    }

    /// Every alert fires on series that should fire it, and stays quiet on those that should not
    /// (Tests/DeployTests/Fixtures/alerts.test.yaml). The annotations are left out here (promtool
    /// compares them whole); their templates are checked above.
    @Test func everyAlertFiresWhenItShouldAndOnlyThen() async throws {
        let scratch = try Scratch()
        var spec = try await Self.rules(scratch)
        var groups = spec["groups"]?.arrayValue ?? []
        for g in groups.indices {
            var rules = groups[g]["rules"]?.arrayValue ?? []
            for r in rules.indices { rules[r]["annotations"] = nil }
            groups[g]["rules"] = .array(rules)
        }
        spec["groups"] = .array(groups)
        try scratch.write("rules.yaml", YAML.emit(spec))
        let tests = try String(contentsOfFile: "\(fixtures)/alerts.test.yaml", encoding: .utf8)
        let testFile = try scratch.write("alerts.test.yaml", tests)
        let result = try await run("promtool", ["test", "rules", testFile], in: scratch)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("SUCCESS"), "\(result.output)")

        // Each alert has a case where it fires and one where it does not.
        let alerts = groups.flatMap { $0["rules"]?.arrayValue ?? [] }.compactMap { $0["alert"]?.stringValue }
        #expect(alerts.count == 10)
        let cases = (try YAML.parse(tests)["tests"]?.arrayValue ?? []).flatMap { $0["alert_rule_test"]?.arrayValue ?? [] }
        for alert in alerts {
            let mine = cases.filter { $0["alertname"]?.stringValue == alert }
            #expect(mine.contains { !($0["exp_alerts"]?.arrayValue ?? []).isEmpty }, "no case where \(alert) fires")
            #expect(mine.contains { ($0["exp_alerts"]?.arrayValue ?? []).isEmpty }, "no case where \(alert) stays quiet")
        }
    }
}
