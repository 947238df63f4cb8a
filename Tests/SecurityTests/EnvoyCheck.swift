import Foundation
@testable import Mesh
import Testing
import YAML

/// The Envoy v3 message a rendered piece of config must parse as.
enum EnvoyType: String {
    /// The file form of xDS: lds.json, cds.json, SDS and ECDS files.
    case discoveryResponse = "envoy.service.discovery.v3.DiscoveryResponse"
    /// A cluster's `transport_socket`.
    case transportSocket = "envoy.config.core.v3.TransportSocket"
}

/// Every Envoy config these tests render goes through here, so that one strict JSON → protobuf
/// parse against Envoy's own v3 definitions (xds-protos, every extension type registered)
/// covers all of them. That checker is shared with the mesh branch and plugs in here; until
/// then, `LUCID_ENVOY_DUMP=<dir>` writes each config to `<dir>/<label>.<message>.json` for the
/// same parse run by hand.
func checkEnvoy(_ config: JSON, as type: EnvoyType, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(config != .null && config != [:], "\(label): empty config", sourceLocation: sourceLocation)
    guard let dir = ProcessInfo.processInfo.environment["LUCID_ENVOY_DUMP"] else { return }
    let safe = String(label.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    let url = URL(fileURLWithPath: dir).appendingPathComponent("\(safe).\(type.rawValue).json")
    do {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(config.serialized()).write(to: url)
    } catch {
        Issue.record("\(label): cannot write \(url.path): \(error)", sourceLocation: sourceLocation)
    }
}

/// Checks every Envoy piece of an inbound render: the listener and clusters as the resources
/// of lds.json and cds.json, and each SDS and ECDS file.
func checkEnvoy(_ render: InboundRender, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    if let listener = render.listener {
        checkEnvoy(["resources": [listener]], as: .discoveryResponse, "\(label)-lds", sourceLocation: sourceLocation)
    }
    checkEnvoy(["resources": .array(render.clusters)], as: .discoveryResponse, "\(label)-cds", sourceLocation: sourceLocation)
    for (name, text) in render.configMapFiles.merging(render.secretFiles, uniquingKeysWith: { a, _ in a }) {
        do {
            checkEnvoy(try JSON.parse(Array(text.utf8)), as: .discoveryResponse, "\(label)-\(name)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(label) \(name) is not JSON: \(error)", sourceLocation: sourceLocation)
        }
    }
}
