import EnvoyCheck
import Foundation
@testable import Mesh
import Testing
import YAML

/// Every Envoy config these tests render goes through here, as one sidecar's files (file name →
/// JSON text: `lds.json`, `cds.json`, SDS and ECDS files): the shared `EnvoyCheck`, a strict
/// JSON → protobuf parse against Envoy's own v3 definitions (xds-protos, every extension type
/// registered) plus the definitions' validation rules and the checks Envoy makes in code.
func checkEnvoy(_ files: [String: String], _ label: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    #expect(!files.isEmpty, "\(label): no config", sourceLocation: sourceLocation)
    do {
        try await EnvoyCheck.validate(files)
    } catch let failure as EnvoyCheck.Failure {
        Issue.record("\(label): \(failure)", sourceLocation: sourceLocation)
    }
}

/// The files of an inbound render as a sidecar would hold them: the listener as `lds.json`, the
/// clusters as `cds.json`, and the SDS and ECDS files.
func envoyFiles(_ render: InboundRender) -> [String: String] {
    var files = render.configMapFiles.merging(render.secretFiles) { a, _ in a }
    if let listener = render.listener {
        let lds: JSON = ["resources": [listener]]
        files["lds.json"] = lds.jsonText
    }
    let cds: JSON = ["resources": .array(render.clusters)]
    files["cds.json"] = cds.jsonText
    return files
}

func checkEnvoy(_ render: InboundRender, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    try await checkEnvoy(envoyFiles(render), label, sourceLocation: sourceLocation)
}
