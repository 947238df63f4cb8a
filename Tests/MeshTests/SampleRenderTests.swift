import EnvoyCheck
import Foundation
import LucidAPI
import Mesh
import Testing
import YAML

/// `manifests/samples/` rendered sidecar by sidecar, as the reconciler would, with no cluster.
@Suite struct SampleRenderTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("manifests/samples")

    @Test func everySampleSidecarIsValidEnvoyAndEveryPolicyAndBreakerIsApplied() async throws {
        var objects: [JSON] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.samples.path).filter({ $0.hasSuffix(".yaml") }).sorted() {
            objects += try YAML.parseAll(try String(contentsOf: Self.samples.appendingPathComponent(file), encoding: .utf8)).filter { $0 != .null }
        }
        let services = objects.filter { $0["kind"] == "Service" }.compactMap(MeshService.init)
        func named(_ object: JSON) -> (String, String) {
            (object[path: "metadata", "name"]?.stringValue ?? "", object[path: "metadata", "creationTimestamp"]?.stringValue ?? "")
        }
        let policies = try objects.filter { $0["kind"] == "TrafficPolicy" }.map { object in
            let (name, created) = named(object)
            return SidecarRenderer.Policy(name: name, creationTimestamp: created, spec: try TrafficPolicy.decode(object).spec)
        }
        let breakers = try objects.filter { $0["kind"] == "CircuitBreakerConfig" }.map { object in
            let (name, created) = named(object)
            return SidecarRenderer.Breaker(name: name, creationTimestamp: created, spec: try CircuitBreakerConfig.decode(object).spec)
        }
        #expect(services.count >= 6 && policies.count >= 2 && breakers.count >= 1)

        let renders = services.map { SidecarRenderer.render(SidecarInputs(service: $0, policies: policies, breakers: breakers, resolving: services)) }
        let problems = try await EnvoyCheck.problems(renders.map(\.files))
        for (service, found) in zip(services, problems) { #expect(found.isEmpty, "\(service.name): \(found)") }

        let policyReports = renders.flatMap { $0.policies }
        #expect(Set(policyReports.map(\.key)) == Set(policies.map(\.name)))
        for (name, report) in policyReports { #expect(report.outcome == .applied, "\(name): \(report.outcome)") }
        let breakerReport = try #require(PolicyReport.merged(renders.compactMap { $0.breakers["blockchain-core"] }))
        #expect(breakerReport.outcome == .applied)
        #expect(breakerReport.appliedTo == ["lucid-payment/session-management-sidecar"])
        #expect(breakerReport.unhonoured.map(\.field) == ["spec.halfOpenMaxCalls", "spec.successThreshold"])
    }
}
