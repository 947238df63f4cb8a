import LucidAPI
import Mesh
import Testing
import YAML

/// The outbound routes: one behaviour each, every config checked against Envoy's v3 API.
@Suite struct RouteTests {
    let payments = service("payments").clusterName

    @Test func eachActionBecomesItsRouteAndUnmatchedRequestsGoToTheDestination() async throws {
        let r = try await render([try policy("p", [
            ["action": "allow", "match": ["path": "/api", "method": "POST", "headers": ["X-Tenant": "a"]], "timeout": 2500,
             "retries": ["attempts": 2, "perTryTimeout": 1000, "retryOn": ["reset"]]],
            ["action": "deny", "match": ["path": "/internal"]],
            ["action": "redirect", "match": ["path": "/old"], "redirect": ["path": "/new", "responseCode": 308]],
        ])])
        #expect(r.outcome("p") == .applied)
        let routes = try #require(try r.routes()["payments"])
        #expect(routes.map { $0["name"]?.stringValue } == ["p/rules[0]", "p/rules[1]", "p/rules[2]", "default"])
        let headers: JSON = [["name": ":method", "string_match": ["exact": "POST"]], ["name": "x-tenant", "string_match": ["exact": "a"]]]
        #expect(routes[0][path: "match", "headers"] == headers)
        #expect(routes[0][path: "route", "cluster"] == .string(payments))
        #expect(routes[0][path: "route", "timeout"] == "2.500s")
        #expect(routes[0][path: "route", "retry_policy"] == ["retry_on": "reset", "num_retries": 2, "per_try_timeout": "1.000s"])
        #expect(routes[1][path: "direct_response", "status"] == 403)
        #expect(routes[2][path: "redirect"] == ["path_redirect": "/new", "response_code": "PERMANENT_REDIRECT"])
        #expect(routes[3][path: "route", "cluster"] == .string(payments))
        #expect(r.policies["p"]?.appliedTo == ["shop/gateway-sidecar"])
    }

    @Test func aMirrorRuleAddsItsMirrorToTheAllowRouteForTheSameRequests() async throws {
        let r = try await render([try policy("p", [
            ["action": "allow", "match": ["path": "/pay"], "timeout": 1000],
            ["action": "mirror", "match": ["path": "/pay"], "mirror": ["service": "ledger", "percent": 10]],
        ])])
        #expect(r.outcome("p") == .applied)
        let route = try #require(try r.routes()["payments"]?.first)
        let mirror: JSON = [["cluster": .string(service("ledger").clusterName),
                             "runtime_fraction": ["default_value": ["numerator": 10, "denominator": "HUNDRED"]]]]
        #expect(route[path: "route", "request_mirror_policies"] == mirror)
        #expect(try r.clusters()[service("ledger").clusterName] != nil)
    }

    @Test func twoPoliciesMirroringTheSameRequestsToOneTargetMirrorOnce() async throws {
        let rules: JSON = [["action": "mirror", "match": ["path": "/pay"], "mirror": ["service": "ledger", "percent": 10]]]
        let r = try await render([try policy("a", priority: 10, rules), try policy("b", rules)])
        #expect(r.outcome("b") == .applied)
        #expect(try r.routes()["payments"]?.first?[path: "route", "request_mirror_policies"]?.arrayValue?.count == 1)
    }

    @Test func aMirrorRuleWhoseOwnTimeoutLosesToTheRouteItJoinsSaysSo() async throws {
        let r = try await render([try policy("p", [
            ["action": "allow", "match": ["path": "/pay"], "timeout": 1000],
            ["action": "mirror", "match": ["path": "/pay"], "timeout": 5000, "mirror": ["service": "ledger"]],
        ])])
        #expect(r.outcome("p")?.message.contains("rules[1] (mirror) for path /pay adds its mirror to rules[0] of this policy, whose timeout and retries apply") == true)
        #expect(try r.routes()["payments"]?.first?[path: "route", "timeout"] == "1.000s")
    }

    @Test func weightsThatAddUpToZeroMakeEveryPolicyOfTheSplitInvalid() async throws {
        let services = [service("gateway", plane: "ops"), service("payments"), service("payments-canary", cluster: "payments")]
        let r = try await render([
            try policy("main", [["action": "allow", "match": ["path": "/pay"], "weight": 0]]),
            try policy("canary", to: "payments-canary", [["action": "allow", "match": ["path": "/pay"], "weight": 0]]),
        ], services: services)
        for name in ["main", "canary"] {
            #expect(r.outcome(name)?.reason == "Invalid")
            #expect(r.outcome(name)?.message.contains("add up to 0") == true)
            #expect(r.outcome(name)?.message.contains("spec.rules[0].weight") == true)
        }
        #expect(try r.routes().isEmpty)
    }

    @Test func aLoneWeightOfZeroIsInvalidNotAllTheTraffic() async throws {
        let r = try await render([try policy("p", [["action": "allow", "match": ["path": "/pay"], "weight": 0]])])
        #expect(r.outcome("p")?.reason == "Invalid")
        #expect(r.outcome("p")?.message.contains("add up to 0 (p rules[0])") == true)
        #expect(try r.routes().isEmpty)
    }

    @Test func aLoneWeightedAllowRuleKeepsItsRouteAndSaysItTakesAllTheTraffic() async throws {
        let r = try await render([try policy("p", [["action": "allow", "match": ["path": "/pay"], "weight": 30, "timeout": 500]])])
        #expect(r.outcome("p") == .applied)
        let route = try #require(try r.routes()["payments"]?.first)
        #expect(route["name"] == "p/rules[0]")
        #expect(route[path: "route", "cluster"] == .string(payments))
        #expect(route[path: "route", "timeout"] == "0.500s")
        let note = try #require(r.policies["p"]?.unhonoured.first)
        #expect(note.field == "spec.rules[0].weight")
        #expect(note.reason.contains("gets all of it, not 30%"))
    }

    @Test func weightedRulesToServicesOfOneLucidClusterSplitTheTraffic() async throws {
        let canary = service("payments-canary", cluster: "payments")
        let r = try await render([
            try policy("main", priority: 10, [["action": "allow", "match": ["path": "/pay"], "weight": 90]]),
            try policy("canary", to: "payments-canary", [["action": "allow", "match": ["path": "/pay"], "weight": 10]]),
        ], services: [service("gateway", plane: "ops"), service("payments"), canary])
        #expect(r.outcome("main") == .applied)
        #expect(r.outcome("canary") == .applied)
        #expect(r.policies["main"]?.unhonoured == [])
        let split: JSON = ["clusters": [["name": .string(payments), "weight": 90], ["name": .string(canary.clusterName), "weight": 10]]]
        #expect(try r.routes()["payments"]?.first?[path: "route", "weighted_clusters"] == split)
        #expect(try Set(r.clusters().keys) == [payments, canary.clusterName])
    }

    @Test func weightsThatDoNotAddUpTo100AreReportedWithTheSharesEnvoyGives() async throws {
        let r = try await render([
            try policy("main", priority: 10, [["action": "allow", "match": ["path": "/pay"], "weight": 80]]),
            try policy("canary", to: "payments-canary", [["action": "allow", "match": ["path": "/pay"], "weight": 80]]),
        ], services: [service("gateway", plane: "ops"), service("payments"), service("payments-canary", cluster: "payments")])
        let reason = try #require(r.policies["canary"]?.unhonoured.first?.reason)
        #expect(reason.contains("add up to 160, not 100"))
        #expect(reason.contains("payments 50%, payments-canary 50%"))
    }

    @Test func aSecondAllowRuleForTheSameRequestsFromAnotherPolicyIsAConflict() async throws {
        let r = try await render([
            try policy("first", priority: 10, [["action": "allow", "match": ["path": "/pay"], "timeout": 1000]]),
            try policy("second", [["action": "allow", "match": ["path": "/pay"], "timeout": 9000]]),
        ])
        #expect(r.outcome("first") == .applied)
        guard case .conflicted(let note)? = r.outcome("second") else { Issue.record("second is \(String(describing: r.outcome("second")))"); return }
        #expect(note.contains("rules[0] (allow) for path /pay is shadowed by policy first rules[0]"))
        #expect(r.policies["second"]?.conflicts == [note])
        #expect(try r.routes()["payments"]?.first?[path: "route", "timeout"] == "1.000s")
    }

    @Test func aRuleThatDeclaresWhatIsAlreadyRoutedIsNoConflict() async throws {
        let r = try await render([
            try policy("first", priority: 10, [["action": "allow", "match": ["path": "/pay"]]]),
            try policy("second", [["action": "allow", "match": ["path": "/pay"]]]),
        ])
        #expect(r.outcome("second") == .applied)
    }

    @Test func aDenyForRequestsAnotherPolicyAllowsIsAConflict() async throws {
        let r = try await render([
            try policy("allow", priority: 10, [["action": "allow", "match": ["path": "/pay"]]]),
            try policy("deny", [["action": "deny", "match": ["path": "/pay"]]]),
        ])
        #expect(r.outcome("deny")?.message.contains("shadowed by policy allow rules[0] (allow)") == true)
    }

    @Test func aRuleHiddenByAnEarlierBroaderMatchIsAConflictAndNotRendered() async throws {
        let r = try await render([
            try policy("broad", priority: 10, [["action": "allow", "match": ["path": "/api"]]]),
            try policy("narrow", [["action": "deny", "match": ["path": "/api/admin", "method": "GET"]]]),
        ])
        #expect(r.outcome("narrow")?.message.contains("never matches: policy broad rules[0] (allow, path /api) takes those requests first") == true)
        #expect(try r.routes()["payments"]?.map { $0["name"]?.stringValue } == ["broad/rules[0]", "default"])
    }

    @Test func aCatchAllRuleReplacesTheDefaultRoute() async throws {
        let r = try await render([try policy("p", [["action": "allow", "match": ["path": "/pay"]], ["action": "deny", "match": ["path": "/"]]])])
        let routes = try #require(try r.routes()["payments"])
        #expect(routes.map { $0["name"]?.stringValue } == ["p/rules[0]", "p/rules[1]"])
        #expect(routes[1][path: "direct_response", "status"] == 403)
    }

    @Test func theRouteTableLoadsWhileNewClustersWarm() async throws {
        let r = try await render([try policy("p", [["action": "allow"]])])
        #expect(try r.connectionManager()[path: "route_config", "validate_clusters"] == false)
    }

    @Test func aHostNoPolicyNamesGetsA404SayingWhichPolicyIsMissing() async throws {
        let r = try await render([])
        #expect(try r.routes().isEmpty)
        let mapper = try #require(try r.connectionManager()[path: "local_reply_config", "mappers"]?[0])
        #expect(mapper[path: "filter", "response_flag_filter", "flags"] == ["NR"])
        #expect(mapper["status_code"] == 404)
        let body = mapper[path: "body_format_override", "text_format_source", "inline_string"]?.stringValue ?? ""
        #expect(body.contains("no TrafficPolicy routes gateway to %REQ(:AUTHORITY)%"))
        #expect(body.contains("namespace shop with spec.source gateway"))
    }

    static let skippedAdmission: [(String, JSON, String)] = [
        ("weight", ["action": "allow", "weight": -5] as JSON, "spec.rules[0].weight"),
        ("timeout", ["action": "allow", "timeout": 0] as JSON, "spec.rules[0].timeout"),
        ("retries", ["action": "allow", "retries": ["attempts": -1]] as JSON, "spec.rules[0].retries.attempts"),
        ("responseCode", ["action": "redirect", "redirect": ["path": "/x", "responseCode": 300]] as JSON, "spec.rules[0].redirect.responseCode"),
        ("mirror percent", ["action": "mirror", "mirror": ["service": "ledger", "percent": 101]] as JSON, "spec.rules[0].mirror.percent"),
    ]

    @Test(arguments: skippedAdmission)
    func aSpecThatSkippedAdmissionIsInvalidAndNotRendered(_ what: String, _ rule: JSON, _ field: String) async throws {
        let r = try await render([try policy("p", [rule])])
        #expect(r.outcome("p")?.reason == "Invalid", "\(what)")
        #expect(r.outcome("p")?.message.contains(field) == true, "\(what): \(r.outcome("p")?.message ?? "")")
        #expect(try r.routes().isEmpty)
    }

    @Test func missingReferencesAndDisabledPoliciesSaySo() async throws {
        let r = try await render([
            try policy("off", enabled: false, [["action": "allow"]]),
            try policy("nowhere", to: "ledgers", [["action": "allow"]]),
            try policy("no-mirror", [["action": "mirror", "mirror": ["service": "audit"]]]),
        ])
        #expect(r.outcome("off")?.reason == "Disabled")
        #expect(r.outcome("nowhere")?.reason == "DestinationNotFound")
        #expect(r.outcome("nowhere")?.message.contains("\"ledgers\" is not a mesh Service in namespace shop") == true)
        #expect(r.outcome("no-mirror")?.reason == "MirrorTargetNotFound")
        #expect(try r.routes().isEmpty)
    }

    @Test func aPolicyOfAnotherSourceIsNotRendered() async throws {
        let r = try await render([try policy("theirs", from: "ledger", [["action": "allow"]])])
        #expect(r.policies.isEmpty)
        #expect(try r.routes().isEmpty)
    }

    @Test func anUpstreamTransportSocketGoesOnItsDestinationsClusterOnly() async throws {
        let tls: JSON = ["name": "envoy.transport_sockets.tls", "typed_config": [
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", "sni": "payments.shop.svc.cluster.local"]]
        let r = try await render([
            try policy("p", [["action": "mirror", "mirror": ["service": "ledger"]]]),
        ], transportSockets: ["payments": tls])
        let clusters = try r.clusters()
        #expect(clusters[payments]?["transport_socket"] == tls)
        #expect(clusters[service("ledger").clusterName]?["transport_socket"] == nil)
    }
}

/// What one sidecar depends on.
@Suite struct SidecarInputsTests {
    @Test func referencedServicesAreTheDestinationsAndMirrorTargetsOfEnabledPolicies() throws {
        let policies = [
            try policy("a", [["action": "mirror", "mirror": ["service": "audit"]]]),
            try policy("b", to: "ledger", [["action": "allow"]]),
            try policy("off", to: "vault", enabled: false, [["action": "allow"]]),
            try policy("other", to: "mint", from: "ledger", [["action": "allow"]]),
        ]
        #expect(SidecarInputs.referencedServices(of: "gateway", policies: policies) == ["payments", "audit", "ledger"])
    }

    @Test func theInputsHoldOnlyWhatTheSidecarDependsOnSoOtherChangesCannotChangeIt() throws {
        let policies = [try policy("p", [["action": "allow"]])]
        let few = [service("gateway", plane: "ops"), service("payments")]
        let many = few + (0..<50).map { service("other-\($0)") }
        let breakers = [try breaker("b", ["service": "other-3", "failureThreshold": 5, "recoveryTimeout": 30000])]
        let small = SidecarInputs(service: few[0], policies: policies, resolving: few)
        let large = SidecarInputs(service: few[0], policies: policies, breakers: breakers, resolving: many)
        #expect(Set(large.services.keys) == ["payments"])
        #expect(large.breakers.isEmpty)
        #expect(large == small)
        #expect(SidecarRenderer.render(large).hash == SidecarRenderer.render(small).hash)
    }

    @Test func theHashFollowsTheContent() throws {
        let few = [service("gateway", plane: "ops"), service("payments")]
        let a = SidecarRenderer.render(SidecarInputs(service: few[0], policies: [try policy("p", [["action": "allow"]])], resolving: few))
        let b = SidecarRenderer.render(SidecarInputs(service: few[0], policies: [try policy("p", [["action": "allow", "timeout": 10]])], resolving: few))
        #expect(a.hash.count == 64)
        #expect(a.hash != b.hash)
        #expect(a == SidecarRenderer.render(SidecarInputs(service: few[0], policies: [try policy("p", [["action": "allow"]])], resolving: few)))
    }
}
