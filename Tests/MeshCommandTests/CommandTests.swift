import APIServer
import Foundation
import KubeClient
import LoopbackServer
import LucidAPI
import Testing
import YAML

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let samples = repositoryRoot.appendingPathComponent("manifests/samples").path
let meshServices = ["admin-interface", "api-gateway", "blockchain-core", "session-management", "tron-payment", "tron-payment-canary"]

/// The built `lucid-operator`, beside the test bundle.
let operatorBinary: String? = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return [dir, dir.deletingLastPathComponent()].map { $0.appendingPathComponent("lucid-operator").path }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// Runs `lucid-operator` with `arguments`: (exit status, standard output and error).
func lucidOperator(_ arguments: [String]) async throws -> (status: Int32, output: String) {
    let binary = try #require(operatorBinary, "lucid-operator is not built")
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-command-\(UUID().uuidString).out").path
    defer { try? FileManager.default.removeItem(atPath: output) }
    let status = try await ChildProcess(binary, arguments, outputPath: output, lifetime: .seconds(120)).exit()
    return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
}

func golden(_ relativePath: String) throws -> String {
    try String(contentsOf: repositoryRoot.appendingPathComponent(relativePath), encoding: .utf8)
}

/// `lucid-operator render` and `who-can-call`, the built binary on the samples.
@Suite struct CommandTests {
    @Test func renderPrintsTheGoldenOnTheSamples() async throws {
        let run = try await lucidOperator(["render", "-f", samples, "--certificate-issuer", "ClusterIssuer/lucid-mesh-ca"])
        #expect(run.status == 0, "\(run.output.suffix(2000))")
        #expect(run.output == (try golden("Tests/MeshTests/Golden/render-samples.yaml")))
        let json = try await lucidOperator(["render", "-f", samples, "-o", "json", "--service", "lucid-payment/tron-payment"])
        #expect(json.status == 0)
        let list = try JSON.parse(json.output)
        #expect(list["items"]?.arrayValue?.map { $0["kind"]?.stringValue ?? "" } == ["ConfigMap", "NetworkPolicy", "SecurityPolicy"])
    }

    @Test func renderRefusesWhatItCannotUse() async throws {
        let none = try await lucidOperator(["render"])
        #expect(none.status == 64 && none.output.contains("-f"))
        let unknown = try await lucidOperator(["render", "-f", samples, "--service", "lucid-payment/nobody"])
        #expect(unknown.status == 1 && unknown.output.contains("no mesh Service lucid-payment/nobody"), "\(unknown.output)")
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).yaml").path
        try "kind: Service\nmetadata: [unclosed\n".write(toFile: broken, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: broken) }
        let bad = try await lucidOperator(["render", "-f", broken])
        #expect(bad.status == 1 && bad.output.contains(broken), "\(bad.output)")
        let issuer = try await lucidOperator(["render", "-f", samples, "--certificate-issuer", "Secret/x"])
        #expect(issuer.status == 64 && issuer.output.contains("ClusterIssuer/NAME"))
    }

    @Test func whoCanCallFromManifestsPrintsTheGolden() async throws {
        var text = ""
        for service in meshServices {
            let run = try await lucidOperator(["who-can-call", "lucid-payment/\(service)", "-f", samples])
            #expect(run.status == 0, "\(run.output)")
            text += run.output + "\n"
        }
        #expect(text == (try golden("Tests/SecurityTests/Golden/who-can-call-samples.txt")))
        let notMesh = try await lucidOperator(["who-can-call", "lucid-payment/nobody", "-f", samples])
        #expect(notMesh.status == 1 && notMesh.output.contains("is not a mesh Service"))
    }

    /// Against a cluster (the embedded API server holding the samples and the certificates
    /// cert-manager would have written): the same answer.
    @Test func whoCanCallAgainstTheServerPrintsTheGolden() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-wcc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await APIServer.run { server in
            try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
            for file in try FileManager.default.contentsOfDirectory(atPath: samples).filter({ $0.hasSuffix(".yaml") }).sorted() {
                try server.install(try YAML.parseAll(try String(contentsOfFile: "\(samples)/\(file)", encoding: .utf8)).filter { $0 != .null })
            }
            try server.install(meshServices.map { service in
                ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string("\(service)-mesh-tls"), "namespace": "lucid-payment"],
                 "data": ["tls.crt": "Y3J0", "tls.key": "a2V5", "ca.crt": "Y2E="]]
            })
            let kubeconfig = "\(folder)/kubeconfig"
            try server.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            var text = ""
            for service in meshServices {
                let run = try await lucidOperator(["who-can-call", "lucid-payment/\(service)", "--kubeconfig", kubeconfig])
                #expect(run.status == 0, "\(run.output)")
                text += run.output + "\n"
            }
            #expect(text == (try golden("Tests/SecurityTests/Golden/who-can-call-samples.txt")))
        }
    }
}
