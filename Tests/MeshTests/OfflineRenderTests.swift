import EnvoyCheck
import Foundation
import LucidAPI
import Mesh
import Testing
import YAML

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Every object of `manifests/samples/`, in file order.
func sampleObjects() throws -> [JSON] {
    let folder = repositoryRoot.appendingPathComponent("manifests/samples")
    var objects: [JSON] = []
    for file in try FileManager.default.contentsOfDirectory(atPath: folder.path).filter({ $0.hasSuffix(".yaml") }).sorted() {
        objects += try YAML.parseAll(try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)).filter { $0 != .null }
    }
    return objects
}

/// Compares with a golden file; `LUCID_UPDATE_GOLDEN=1` rewrites it (read the diff).
func expectGolden(_ text: String, _ relativePath: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let golden = repositoryRoot.appendingPathComponent(relativePath)
    if ProcessInfo.processInfo.environment["LUCID_UPDATE_GOLDEN"] != nil {
        try FileManager.default.createDirectory(at: golden.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: golden, atomically: true, encoding: .utf8)
    }
    let expected = try String(contentsOf: golden, encoding: .utf8)
    #expect(text == expected, "\(relativePath) changed; LUCID_UPDATE_GOLDEN=1 rewrites it", sourceLocation: sourceLocation)
}

/// `lucid-operator render` and `who-can-call -f` as pure functions, on the samples.
@Suite struct OfflineRenderTests {
    static let options = OfflineRender.Options(certificates: CertificateBuilder.Settings(issuer: IssuerRef(name: "lucid-mesh-ca")))
    static let sampleKeys = ["dev-admin-key-3f9a2c71e4b8d605", "dev-admin-key-8d1e6b0a5c2f9e47"]

    @Test func renderGoldenOnTheSamples() async throws {
        let sources = ManifestSources(objects: try sampleObjects(), assumeCertificatesIssued: true)
        let documents = try await OfflineRender.documents(sources, Self.options)
        let text = try OfflineRender.format(documents, as: .yaml)
        try expectGolden(text, "Tests/MeshTests/Golden/render-samples.yaml")
        for key in Self.sampleKeys { #expect(!text.contains(key), "an API key in render's output") }

        // Every status Ready, as the samples mean to be; every resource reported once.
        let statuses = documents.filter { $0["status"] != nil }
        #expect(statuses.count == 7)
        for s in statuses { #expect(s[path: "status", "conditions"]?[0]?["status"] == "True", "\(s)") }
        // The JSON form is the same documents.
        let json = try JSON.parse(try OfflineRender.format(documents, as: .json))
        #expect(json["kind"] == "List" && json["items"]?.arrayValue == documents)
    }

    /// What the ConfigMaps of render hold is a config Envoy accepts, as the operator writes it.
    @Test func renderedSidecarsAreValidEnvoy() async throws {
        let sources = ManifestSources(objects: try sampleObjects(), assumeCertificatesIssued: true)
        var configs: [[String: String]] = []
        for service in sources.meshServices {
            let render = SidecarAssembly.render(try await SidecarAssembly.inputs(for: service, from: sources, settings: SecuritySettings()))
            configs.append(render.files.merging(render.secretFiles) { a, _ in a })
        }
        for (service, problems) in zip(sources.meshServices, try await EnvoyCheck.problems(configs)) { #expect(problems.isEmpty, "\(service.name): \(problems)") }
    }

    /// Without certificates (a cluster before cert-manager issued them) the mTLS policies say
    /// which Secret they wait for.
    @Test func withoutCertificatesTheStatusesNameTheSecrets() async throws {
        let sources = ManifestSources(objects: try sampleObjects())
        let documents = try await OfflineRender.documents(sources, OfflineRender.Options())
        let callers = try #require(documents.first { $0["kind"] == "SecurityPolicy" && $0[path: "metadata", "name"] == "tron-payment-callers" })
        #expect(callers[path: "status", "conditions"]?[0]?["reason"] == "CertificateNotReady")
        #expect(callers[path: "status", "conditions"]?[0]?["message"]?.stringValue?.contains("\"tron-payment-mesh-tls\"") == true)
        #expect(!documents.contains { $0["kind"] == "Certificate" })
    }

    @Test func oneServiceShowsItsSidecarAndTheResourcesItRenders() async throws {
        let sources = ManifestSources(objects: try sampleObjects(), assumeCertificatesIssued: true)
        var options = Self.options
        options.service = ("lucid-payment", "session-management")
        let documents = try await OfflineRender.documents(sources, options)
        #expect(documents.map { "\($0["kind"]?.stringValue ?? "")/\($0[path: "metadata", "name"]?.stringValue ?? "")" } == [
            "ConfigMap/session-management-sidecar", "NetworkPolicy/session-management-mesh-ingress", "Certificate/session-management-mesh-tls",
            "TrafficPolicy/sessions-to-blockchain", "CircuitBreakerConfig/blockchain-core",
        ])
        options.service = ("lucid-payment", "nobody")
        await #expect(throws: OfflineRender.NotFound.self) { try await OfflineRender.documents(sources, options) }
    }

    /// who-can-call offline answers what the security golden says for the samples with their
    /// certificates issued: the same function from manifests.
    @Test func whoCanCallFromManifestsMatchesTheGolden() throws {
        let sources = ManifestSources(objects: try sampleObjects(), assumeCertificatesIssued: true)
        var text = ""
        for service in sources.meshServices {
            text += WhoCanCall.format(WhoCanCall.analyze(sources.whoCanCallInputs(for: service, settings: SecuritySettings()))) + "\n"
        }
        let golden = try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/SecurityTests/Golden/who-can-call-samples.txt"), encoding: .utf8)
        #expect(text == golden)
    }
}
