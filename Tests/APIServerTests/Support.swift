import APIServer
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import LucidAPI
import YAML

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A temporary folder removed when the value goes away.
final class Scratch: @unchecked Sendable {  // immutable after init
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-api-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { "\(path)/\(name)" }
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: file(name), atomically: true, encoding: .utf8)
        return file(name)
    }
}

/// The real kubectl, pointed at one server with its own discovery cache.
struct Kubectl: Sendable {
    let kubeconfig: String
    let cacheDir: String
    let scratch: Scratch

    func args(_ a: [String]) -> [String] { ["--kubeconfig", kubeconfig, "--cache-dir", cacheDir, "--request-timeout=20s"] + a }

    /// Runs kubectl to completion: exit status and everything it printed.
    func callAsFunction(_ a: String...) async throws -> (status: Int32, output: String) {
        let out = scratch.file("kubectl-\(UUID().uuidString).out")
        let status = try await ChildProcess.run("kubectl", args(a), outputPath: out)
        return (status, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    /// Starts kubectl in the background (get -w, wait); output goes to the returned file.
    func start(_ a: String...) throws -> (ChildProcess, String) {
        let out = scratch.file("kubectl-\(UUID().uuidString).out")
        return (try ChildProcess("kubectl", args(a), outputPath: out, lifetime: .seconds(120)), out)
    }
}

/// Runs `body` against a fresh server: a kubeconfig written for it, kubectl and a KubeClient.
func withServer(_ configuration: APIServer.Configuration = APIServer.Configuration(), crds: Bool = true,
                _ body: @Sendable (APIServer, Kubectl, KubeClient) async throws -> Void) async throws {
    let scratch = try Scratch()
    try await APIServer.run(configuration) { server in
        if crds { try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null }) }
        let kubeconfig = try scratch.write("kubeconfig", server.kubeconfig())
        let kubectl = Kubectl(kubeconfig: kubeconfig, cacheDir: scratch.file("cache"), scratch: scratch)
        let client = try KubeClient(config: KubeConfig(server: server.url), retry: RetryPolicy(maxAttempts: 1))
        try await body(server, kubectl, client)
    }
}


let trafficPolicies = GroupVersionResource(group: "mesh.lucid.io", version: "v1alpha1", resource: "trafficpolicies")
let breakers = GroupVersionResource(group: "mesh.lucid.io", version: "v1alpha1", resource: "circuitbreakerconfigs")

func namespace(_ name: String) -> JSON { ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]] }

func configMap(_ name: String, _ data: JSON = ["k": "v"]) -> JSON {
    ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string(name)], "data": data]
}

func policy(_ name: String, priority: Int64 = 1) -> JSON {
    ["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "TrafficPolicy", "metadata": ["name": .string(name)],
     "spec": ["source": "api-gateway", "destination": "tron-payment", "priority": .int(priority), "rules": [["action": "allow"]]]]
}
