import Foundation
import LucidAPI
@testable import Mesh
import Testing
import YAML

@Suite struct WhoCanCallTests {
    /// Who-can-call for every mesh Service of the samples, certificates issued. Regenerate with
    /// LUCID_UPDATE_GOLDEN=1 after a deliberate change, and read the diff.
    @Test func goldenOnTheSamples() async throws {
        let samples = try Samples.load()
        var text = ""
        for s in samples.services.sorted(by: { $0.name < $1.name }) {
            let inputs = try #require(samples.inputs(for: s.name))
            text += WhoCanCall.format(WhoCanCall.analyze(inputs)) + "\n"
            try await checkEnvoy(InboundRenderer.render(inputs), "samples-\(s.name)")
        }
        let golden = repositoryRoot.appendingPathComponent("Tests/SecurityTests/Golden/who-can-call-samples.txt")
        if ProcessInfo.processInfo.environment["LUCID_UPDATE_GOLDEN"] != nil {
            try text.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(text == expected, "who-can-call output changed; LUCID_UPDATE_GOLDEN=1 rewrites the golden file")
    }

    @Test func theSamplesAreReadyOnceCertificatesAreIssued() throws {
        let samples = try Samples.load()
        var seen: Set<String> = []
        for s in samples.services {
            let render = InboundRenderer.render(try #require(samples.inputs(for: s.name)))
            for (name, outcome) in render.outcomes {
                #expect(outcome.ready, "\(name): \(outcome.reason): \(outcome.message)")
                seen.insert(name)
            }
        }
        #expect(seen == Set(samples.policies.map(\.name)))
    }

    @Test func withoutCertificatesTheSamplesSayWhichSecretIsMissing() throws {
        let samples = try Samples.load()
        let render = InboundRenderer.render(try #require(samples.inputs(for: "tron-payment", certified: false)))
        #expect(render.outcomes["tron-payment-callers"]?.reason == "CertificateNotReady")
        #expect(render.outcomes["tron-payment-callers"]?.message.contains("\"tron-payment-mesh-tls\"") == true)
        let report = WhoCanCall.analyze(try #require(samples.inputs(for: "tron-payment", certified: false)))
        #expect(report.callers.first { $0.caller == "api-gateway" }?.note?.contains("api-gateway-mesh-tls") == true)
        #expect(report.notes.contains { $0.hasPrefix("tron-payment-callers: CertificateNotReady") })
    }

    /// Every line who-can-call prints is what the evaluation decides for a request of that line.
    @Test func linesAgreeWithTheEvaluation() throws {
        let samples = try Samples.load()
        for s in samples.services {
            let inputs = try #require(samples.inputs(for: s.name))
            let analysis = SecurityAnalysis(inputs)
            let report = WhoCanCall.analyze(inputs)
            for caller in report.callers {
                let identity: CallerIdentity = switch caller.caller {
                case WhoCanCall.anonymous: .anonymous
                case WhoCanCall.otherIdentities: .otherMeshIdentity
                default: .service(name: caller.caller, plane: caller.plane ?? "")
                }
                #expect(!caller.lines.isEmpty)
                for line in caller.lines where line.authentication == "mtls" || line.authentication == "none" || line.authentication == "-" {
                    let request = SecurityRequest(caller: identity, path: line.path, method: line.method ?? "PATCH")
                    let decision = analysis.program.decide(request)
                    #expect(decision == SecurityDecision(allowed: line.allowed, decidedBy: line.decidedBy), "\(s.name) \(caller.caller) \(line)")
                }
            }
        }
    }

    @Test func aCallerAllowedOnlyWithCredentialsSeesThem() throws {
        let samples = try Samples.load()
        let report = WhoCanCall.analyze(try #require(samples.inputs(for: "tron-payment")))
        let gateway = try #require(report.callers.first { $0.caller == "api-gateway" })
        #expect(gateway.lines.count == 1)
        #expect(gateway.lines[0].authentication
                == "mtls + jwt from https://auth.lucid.internal for tron-payment with role payments-service with permissions payouts:create, payouts:read")
        #expect(gateway.lines[0].allowed && gateway.lines[0].decidedBy == "tron-payment-callers/requirements")
        let admin = WhoCanCall.analyze(try #require(samples.inputs(for: "admin-interface")))
        let anonymous = try #require(admin.callers.first { $0.caller == WhoCanCall.anonymous })
        #expect(anonymous.lines.map(\.authentication) == ["api-key in x-lucid-admin-key (Secret admin-api-keys)"])
    }
}
