import APIServer
import Foundation
import HTTP
import KubeClient
import Testing
import YAML

/// The protobuf bodies kubectl 1.32 sends for built-in kinds (captured once with
/// `hack/capture-protobuf.py`, commands in `Corpus/kubectl-commands.sh`), each beside the JSON
/// form of the same object (`kubectl create ... --dry-run=client -o json`); and, for the kinds
/// kubectl only sends as JSON (Pod, Events, Lease, EndpointSlice, NetworkPolicy, DeleteOptions),
/// bodies encoded by protoc's code from k8s.io/api's generated.proto (`hack/gen-protobuf-corpus.py`).
@Suite struct ProtobufCorpusTests {
    static let corpus = repositoryRoot.appendingPathComponent("Tests/APIServerTests/Corpus")
    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? [])
        .filter { $0.hasSuffix(".pb") }.map { String($0.dropLast(3)) }.sorted()

    /// Go's encoder writes `null` for zero times; absent and null mean the same.
    static func normalized(_ value: JSON) -> JSON {
        switch value {
        case .object(let o):
            var out = JSONObject()
            for (k, v) in o where v != .null { out[k] = normalized(v) }
            return .object(out)
        case .array(let a): return .array(a.map(normalized))
        default: return value
        }
    }

    @Test func theCorpusCoversWhatKubectlSends() {
        #expect(Self.names.count >= 10, "\(Self.names)")
        for kind in ["namespaces", "configmaps", "secrets", "services", "jobs", "serviceaccounts", "roles", "clusterroles", "rolebindings", "clusterrolebindings"] {
            #expect(Self.names.contains(kind), "\(kind)")
        }
    }

    @Test(arguments: names)
    func decodesToTheJSONForm(_ name: String) throws {
        let pb = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent("\(name).pb")))
        let json = try JSON.parse([UInt8](Data(contentsOf: Self.corpus.appendingPathComponent("\(name).json"))))
        let decoded = try APIServer.decodeProtobuf(pb)
        #expect(Self.normalized(decoded) == Self.normalized(json), "\(name):\n\(decoded.jsonText)\n\(json.jsonText)")
    }

    @Test func truncatedAndForeignBodiesAreRefusedClearly() throws {
        let pb = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent("configmaps.pb")))
        #expect(throws: APIServerError.self) { try APIServer.decodeProtobuf(Array(pb.dropLast(5))) }
        #expect(throws: APIServerError.self) { try APIServer.decodeProtobuf(Array("{}".utf8)) }
        #expect(throws: APIServerError.self) { try APIServer.decodeProtobuf([0x6B, 0x38, 0x73, 0x00, 0x0A, 0x7F]) }
    }

    /// Over HTTP as kubectl sends them: every body is created, and reads back in JSON.
    @Test func theServerCreatesEveryCorpusBody() async throws {
        try await withServer(crds: false) { server, _, _ in
            let http = try HTTPClient()
            for name in ["namespaces"] + Self.names.filter({ $0 != "namespaces" && $0 != "deleteoptions" }) {
                let pb = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent("\(name).pb")))
                let object = try APIServer.decodeProtobuf(pb)
                let group = (object["apiVersion"]?.stringValue ?? "").contains("/") ? "apis/\(object["apiVersion"]!.stringValue!)" : "api/v1"
                let ns = object[path: "metadata", "namespace"]?.stringValue
                let resource = name.split(separator: ".")[0]
                let path = ns.map { "/\(group)/namespaces/\($0)/\(resource)" } ?? "/\(group)/\(resource)"
                let response = try await http.execute(HTTPRequest(
                    method: .post, url: server.url + path,
                    headers: ["Content-Type": "application/vnd.kubernetes.protobuf", "Accept": "application/vnd.kubernetes.protobuf, application/json"],
                    body: pb))
                #expect(response.status == 201, "\(name): \(String(decoding: response.body, as: UTF8.self))")
                let created = try JSON.parse(response.body)
                #expect(created[path: "metadata", "name"] == object[path: "metadata", "name"])
            }
            let onlyProtobuf = try await http.execute(HTTPRequest(url: server.url + "/api/v1/namespaces/corpus",
                                                                  headers: ["Accept": "application/vnd.kubernetes.protobuf"]))
            #expect(onlyProtobuf.status == 406)
        }
    }
}
