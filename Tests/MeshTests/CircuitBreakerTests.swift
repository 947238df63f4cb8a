import LucidAPI
import Mesh
import Testing
import YAML

/// CircuitBreakerConfig → the called Service's cluster in the caller's sidecar.
@Suite struct CircuitBreakerTests {
    let payments = service("payments").clusterName
    let toPayments: () throws -> SidecarRenderer.Policy = { try policy("p", [["action": "allow"]]) }

    @Test func everyEnforcedFieldLandsOnTheCluster() async throws {
        let r = try await render([try toPayments()], breakers: [try breaker("cb", [
            "service": "payments", "failureThreshold": 7, "recoveryTimeout": 45000,
            "connectionPool": ["maxConnections": 10, "http1MaxPendingRequests": 20, "maxRequestsPerConnection": 3, "maxRetries": 4, "maxRequests": 40],
            "outlierDetection": ["interval": 15000, "maxEjectionPercent": 30],
        ])])
        let cluster = try #require(try r.clusters()[payments])
        #expect(cluster["outlier_detection"] == ["consecutive_5xx": 7, "interval": "15.000s", "base_ejection_time": "45.000s",
                                                 "max_ejection_time": "45.000s", "max_ejection_percent": 30])
        #expect(cluster[path: "circuit_breakers", "thresholds"] == [["priority": "DEFAULT", "max_connections": 10, "max_pending_requests": 20,
                                                                     "max_requests": 40, "max_retries": 4]])
        let options = cluster[path: "typed_extension_protocol_options", "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
        #expect(options?[path: "common_http_protocol_options", "max_requests_per_connection"] == 3)
        #expect(cluster["max_requests_per_connection"] == nil)  // the deprecated place
        #expect(r.breakers["cb"] == PolicyReport(outcome: .applied, appliedTo: ["shop/gateway-sidecar"]))
    }

    @Test func unsetLimitsTakeTheSeedDestinationRuleDefaults() async throws {
        let r = try await render([try toPayments()], breakers: [try breaker("cb", ["service": "payments", "failureThreshold": 5, "recoveryTimeout": 30000])])
        let cluster = try #require(try r.clusters()[payments])
        #expect(cluster["outlier_detection"] == ["consecutive_5xx": 5, "interval": "30.000s", "base_ejection_time": "30.000s",
                                                 "max_ejection_time": "30.000s", "max_ejection_percent": 50])
        #expect(cluster[path: "circuit_breakers", "thresholds"] == [["priority": "DEFAULT", "max_connections": 100, "max_pending_requests": 50,
                                                                     "max_requests": 1024, "max_retries": 3]])
        #expect(cluster[path: "typed_extension_protocol_options", "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                        "common_http_protocol_options", "max_requests_per_connection"] == 2)
    }

    @Test func theHalfOpenFieldsAreListedAsUnenforcedWithWhy() async throws {
        let r = try await render([try toPayments()], breakers: [try breaker("cb", [
            "service": "payments", "failureThreshold": 5, "recoveryTimeout": 60000, "halfOpenMaxCalls": 3, "successThreshold": 2])])
        let fields = try #require(r.breakers["cb"]?.unhonoured)
        #expect(fields.map(\.field) == ["spec.halfOpenMaxCalls", "spec.successThreshold"])
        #expect(fields[0].reason.contains("no half-open state"))
        #expect(fields[1].reason.contains("does not count successes"))
        #expect(r.breakers["cb"]?.outcome == .applied)
    }

    @Test func ofTwoConfigsForOneServiceTheOlderWinsAndTheOtherIsAConflict() async throws {
        let spec: (Int64) -> JSON = { ["service": "payments", "failureThreshold": .int($0), "recoveryTimeout": 30000] }
        let r = try await render([try toPayments()], breakers: [
            try breaker("newer", created: "2026-02-01T00:00:00Z", spec(9)),
            try breaker("older", created: "2026-01-01T00:00:00Z", spec(3)),
        ])
        #expect(try r.clusters()[payments]?[path: "outlier_detection", "consecutive_5xx"] == 3)
        #expect(r.breakers["older"]?.outcome == .applied)
        #expect(r.breakers["newer"]?.outcome.reason == "Conflict")
        #expect(r.breakers["newer"]?.outcome.message.contains("CircuitBreakerConfig older is older") == true)
        #expect(r.breakers["newer"]?.appliedTo == [])
    }

    @Test func atTheSameCreationTimeTheNameDecides() async throws {
        let spec: JSON = ["service": "payments", "failureThreshold": 5, "recoveryTimeout": 30000]
        let r = try await render([try toPayments()], breakers: [try breaker("b", spec), try breaker("a", spec)])
        #expect(r.breakers["a"]?.outcome == .applied)
        #expect(r.breakers["b"]?.outcome.reason == "Conflict")
    }

    @Test func anInvalidConfigTakesNoPartAndTheNextOneWins() async throws {
        let r = try await render([try toPayments()], breakers: [
            try breaker("broken", created: "2026-01-01T00:00:00Z", ["service": "payments", "failureThreshold": 5, "recoveryTimeout": 10]),
            try breaker("good", created: "2026-02-01T00:00:00Z", ["service": "payments", "failureThreshold": 4, "recoveryTimeout": 30000]),
        ])
        #expect(r.breakers["broken"]?.outcome.reason == "Invalid")
        #expect(r.breakers["broken"]?.outcome.message.contains("spec.recoveryTimeout") == true)
        #expect(r.breakers["good"]?.outcome == .applied)
        #expect(try r.clusters()[payments]?[path: "outlier_detection", "consecutive_5xx"] == 4)
    }

    @Test func aBreakerSetsOnlyItsOwnServicesClusterAndOnlyInItsCallers() async throws {
        let policies = [try toPayments(), try policy("q", to: "ledger", [["action": "allow"]])]
        let cb = try breaker("cb", ["service": "payments", "failureThreshold": 5, "recoveryTimeout": 30000])
        let caller = try await render(policies, breakers: [cb])
        #expect(try caller.clusters()[payments]?["outlier_detection"] != nil)
        #expect(try caller.clusters()[service("ledger").clusterName]?["outlier_detection"] == nil)
        // ledger calls nobody: payments has no cluster there, and the breaker is not its input.
        let services = [service("gateway", plane: "ops"), service("payments"), service("ledger", plane: "chain")]
        let bystander = try await render([], breakers: [cb], services: services, source: "ledger")
        #expect(bystander.breakers.isEmpty)
        #expect(try bystander.clusters().isEmpty)
    }

    @Test func aMirrorTargetsBreakerAppliesToItsClusterToo() async throws {
        let r = try await render([try policy("p", [["action": "mirror", "mirror": ["service": "ledger", "percent": 5]]])],
                                 breakers: [try breaker("cb", ["service": "ledger", "failureThreshold": 2, "recoveryTimeout": 5000])])
        #expect(try r.clusters()[service("ledger").clusterName]?[path: "outlier_detection", "consecutive_5xx"] == 2)
    }

    @Test func reportsFromSeveralCallersMergeIntoOne() {
        let a = PolicyReport(outcome: .applied, appliedTo: ["shop/b-sidecar"], unhonoured: [UnhonouredField(field: "spec.successThreshold", reason: "r")])
        let b = PolicyReport(outcome: .applied, appliedTo: ["shop/a-sidecar"], unhonoured: [UnhonouredField(field: "spec.successThreshold", reason: "r")])
        #expect(PolicyReport.merged([a, b]) == PolicyReport(outcome: .applied, appliedTo: ["shop/a-sidecar", "shop/b-sidecar"],
                                                            unhonoured: [UnhonouredField(field: "spec.successThreshold", reason: "r")]))
        let conflict = PolicyReport(outcome: .notApplied(reason: "Conflict", message: "m"), conflicts: ["m"])
        #expect(PolicyReport.merged([a, conflict])?.outcome == .notApplied(reason: "Conflict", message: "m"))
        #expect(PolicyReport.merged([a, conflict])?.appliedTo == [])
        #expect(PolicyReport.merged([]) == nil)
    }
}
