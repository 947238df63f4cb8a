import Foundation
@testable import Mesh
import Testing
import YAML

/// Every Envoy config these tests render goes through here, as one sidecar's files (file name →
/// JSON text: `lds.json`, `cds.json`, SDS and ECDS files), so that one strict JSON → protobuf
/// parse against Envoy's own v3 definitions (xds-protos, every extension type registered)
/// covers all of them. That check is the shared `EnvoyCheck` test-support target of the mesh
/// branch: once it is in main, this body becomes `try await EnvoyCheck.validate(files)`.
/// Until then `LUCID_ENVOY_DUMP=<dir>` writes each config to `<dir>/<label>/` for the same
/// check run by hand (`python3 hack/envoy-check.py <dir>/<label>/*.json`).
func checkEnvoy(_ files: [String: String], _ label: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    #expect(!files.isEmpty, "\(label): no config", sourceLocation: sourceLocation)
    for (name, text) in files {
        #expect((try? JSON.parse(text)) != nil, "\(label) \(name) is not JSON", sourceLocation: sourceLocation)
    }
    guard let dir = ProcessInfo.processInfo.environment["LUCID_ENVOY_DUMP"] else { return }
    let folder = URL(fileURLWithPath: dir).appendingPathComponent(String(label.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }))
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for (name, text) in files { try Data(text.utf8).write(to: folder.appendingPathComponent(name)) }
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
