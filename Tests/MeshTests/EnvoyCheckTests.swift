import EnvoyCheck
import Foundation
import LoopbackServer
import Mesh
import Testing
import YAML

/// The Envoy v3 check itself: it accepts what the renderer makes and refuses each kind of mistake.
@Suite struct EnvoyCheckTests {
    /// A sidecar with a canary split, a second destination and a breaker: every part the
    /// mistakes below break.
    static func base() throws -> [String: String] {
        let services = [service("gateway", plane: "ops"), service("payments"), service("payments-canary", cluster: "payments"),
                        service("ledger", plane: "chain")]
        let inputs = SidecarInputs(service: services[0], policies: [
            try policy("main", [["action": "allow", "match": ["path": "/pay"], "weight": 90, "timeout": 1000]]),
            try policy("canary", to: "payments-canary", [["action": "allow", "match": ["path": "/pay"], "weight": 10]]),
            try policy("books", to: "ledger", [["action": "allow"]]),
        ], breakers: [try breaker("cb", ["service": "payments", "failureThreshold": 5, "recoveryTimeout": 30000])], resolving: services)
        return SidecarRenderer.render(inputs).files
    }

    struct Mistake: Sendable, CustomTestStringConvertible {
        var testDescription: String
        /// Part of the problem the check must report.
        var expected: String
        var apply: @Sendable ([String: String]) -> [String: String]
    }

    static func replace(_ file: String, _ old: String, _ new: String) -> @Sendable ([String: String]) -> [String: String] {
        { files in
            var changed = files
            changed[file] = files[file]?.replacingOccurrences(of: old, with: new)
            return changed
        }
    }

    static let ledger = "outbound|80||ledger.shop.svc.cluster.local"
    static let payments = "outbound|80||payments.shop.svc.cluster.local"
    static let mistakes: [Mistake] = [
        Mistake(testDescription: "an unknown field", expected: "lb_polcy",
                apply: replace("cds.json", #""lb_policy":"ROUND_ROBIN""#, #""lb_policy":"ROUND_ROBIN","lb_polcy":"RANDOM""#)),
        Mistake(testDescription: "a wrong type", expected: "port_value",
                apply: replace("lds.json", #""port_value":15001"#, #""port_value":"fifteen""#)),
        Mistake(testDescription: "a bad duration", expected: "connect_timeout",
                apply: replace("cds.json", #""connect_timeout":"1s""#, #""connect_timeout":"1 second""#)),
        Mistake(testDescription: "a negative duration", expected: "negative",
                apply: replace("cds.json", #""interval":"30.000s""#, #""interval":"-30.000s""#)),
        Mistake(testDescription: "an unknown enum value", expected: "ROUND_ROBINS",
                apply: replace("cds.json", #""lb_policy":"ROUND_ROBIN""#, #""lb_policy":"ROUND_ROBINS""#)),
        Mistake(testDescription: "an unknown @type", expected: "Routers",
                apply: replace("lds.json", #"router.v3.Router""#, #"router.v3.Routers""#)),
        Mistake(testDescription: "a value out of the definition's bounds", expected: "65535",
                apply: replace("lds.json", #""port_value":15001"#, #""port_value":70000"#)),
        Mistake(testDescription: "a deprecated field", expected: "deprecated field",
                apply: replace("cds.json", #""lb_policy":"ROUND_ROBIN""#, #""lb_policy":"ROUND_ROBIN","max_requests_per_connection":2"#)),
        Mistake(testDescription: "a required oneof left out", expected: "is required",
                apply: replace("cds.json", #","explicit_http_config":{"http_protocol_options":{}}"#, "")),
        Mistake(testDescription: "weights that add up to 0", expected: "sum to 0",
                apply: { files in replace("lds.json", #""weight":10"#, #""weight":0"#)(replace("lds.json", #""weight":90"#, #""weight":0"#)(files)) }),
        Mistake(testDescription: "a route to a cluster not in cds", expected: "not in cds",
                apply: replace("lds.json", ledger, "outbound|80||ledgers.shop.svc.cluster.local")),
        Mistake(testDescription: "a filter after the router", expected: "must be the last HTTP filter",
                apply: replace("lds.json", #""http_filters":["#,
                               #""http_filters":[{"name":"envoy.filters.http.router","typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}},"#)),
        Mistake(testDescription: "two clusters with one name", expected: "duplicate cluster name",
                apply: replace("cds.json", #""name":"\#(ledger)""#, #""name":"\#(payments)""#)),
        Mistake(testDescription: "a domain in two virtual hosts", expected: "Envoy permits each domain once",
                apply: replace("lds.json", #""domains":["ledger""#, #""domains":["payments""#)),
        Mistake(testDescription: "a resource of the wrong type", expected: "must be type.googleapis.com/envoy.config.cluster.v3.Cluster",
                apply: { files in var f = files; f["cds.json"] = files["lds.json"]; return f }),
        Mistake(testDescription: "a file the bootstrap loads left out", expected: "which is not in this config",
                apply: { files in var f = files; f["lds.json"] = nil; return f }),
        Mistake(testDescription: "text that is not JSON", expected: "lds.json",
                apply: { files in var f = files; f["lds.json"] = String(files["lds.json"]?.dropLast() ?? ""); return f }),
    ]

    @Test func theRenderedBaseIsValid() async throws {
        try await EnvoyCheck.validate(try Self.base())
    }

    @Test(arguments: mistakes)
    func eachKindOfMistakeIsRefused(_ mistake: Mistake) async throws {
        let base = try Self.base()
        let broken = mistake.apply(base)
        try #require(broken != base, "the mistake must change the config")
        let problems = try await EnvoyCheck.problems([broken])[0]
        #expect(problems.contains { $0.contains(mistake.expected) }, "expected a problem with \"\(mistake.expected)\", got \(problems)")
        await #expect(throws: EnvoyCheck.Failure.self) { try await EnvoyCheck.validate(broken) }
    }

    @Test func hundredsOfRendersAreCheckedInOneRoundTrip() async throws {
        let services = [service("gateway", plane: "ops"), service("payments"), service("ledger", plane: "chain")]
        let cb = try breaker("cb", ["service": "payments", "failureThreshold": 5, "recoveryTimeout": 30000])
        var configs: [[String: String]] = []
        for i in 0..<300 {
            let rules: JSON = [
                ["action": "allow", "match": ["path": .string("/v\(i)")], "timeout": .int(Int64(100 + i))],
                ["action": "mirror", "match": ["path": "/m"], "mirror": ["service": "ledger", "percent": .int(Int64(i % 100))]],
            ]
            let inputs = SidecarInputs(service: services[0], policies: [try policy("p", rules)], breakers: [cb], resolving: services)
            configs.append(SidecarRenderer.render(inputs).files)
        }
        var mixed = configs
        mixed[150] = EnvoyCheckTests.replace("cds.json", #""connect_timeout":"1s""#, #""connect_timeout":"1""#)(configs[150])
        _ = try await EnvoyCheck.problems([configs[0]])  // the checker is up
        let started = ContinuousClock.now
        let results = try await EnvoyCheck.problems(mixed)
        let elapsed = ContinuousClock.now - started
        #expect(results.count == 300)
        #expect(results.indices.filter { !results[$0].isEmpty } == [150])
        print("EnvoyCheck: 300 sidecar configs checked in \(elapsed)")
        #expect(elapsed < .seconds(60))
    }

    @Test func theScriptChecksFilesFromAShellAndExitsOneOnProblems() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("envoy-check-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = try Self.base()
        for (name, text) in files { try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        let paths = files.keys.sorted().map { folder.appendingPathComponent($0).path }
        let log = folder.appendingPathComponent("out.log").path
        #expect(try await ChildProcess.run(EnvoyCheck.python, [EnvoyCheck.script] + paths, outputPath: log) == 0)
        let broken = Self.replace("cds.json", #""lb_policy":"ROUND_ROBIN""#, #""lb_policy":"LEAST""#)(files)
        try broken["cds.json"]?.write(to: folder.appendingPathComponent("cds.json"), atomically: true, encoding: .utf8)
        #expect(try await ChildProcess.run(EnvoyCheck.python, [EnvoyCheck.script] + paths, outputPath: log) == 1)
        let output = try String(contentsOfFile: log, encoding: .utf8)
        #expect(output.contains("cds.json: ") && output.contains("LEAST"))
    }
}
