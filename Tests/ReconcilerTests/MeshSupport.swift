import APIServer
import ControllerRuntime
import EnvoyCheck
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import Logging
import LucidAPI
import Mesh
import Reconcilers
import Synchronization
import Testing
import YAML

let sp = SidecarReconciler.securityPolicies
let cb = SidecarReconciler.circuitBreakers
let networkPolicies = SidecarReconciler.networkPolicies
let certificates = SidecarReconciler.certificates

/// Every line the operator logged, with its metadata, at every level.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }

    var logger: Logger { Logger(label: "lucid.test") { _ in Handler(capture: self) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            capture.append("\(event.level) \(event.message) \(metadata.merging(event.metadata ?? [:]) { $1 }) \(event.error.map { "\($0)" } ?? "")")
        }
    }
}

/// A Service in the mesh with a selector and a numeric targetPort (so it has an inbound listener).
func appService(_ name: String, plane: String, cluster: String? = nil, namespace: String) -> JSON {
    ["apiVersion": "v1", "kind": "Service",
     "metadata": ["name": .string(name), "namespace": .string(namespace),
                  "labels": ["mesh.lucid.io/cluster": .string(cluster ?? name), "mesh.lucid.io/plane": .string(plane)]],
     "spec": ["selector": ["app": .string(name)], "ports": [["name": "http", "port": 80, "targetPort": 8080]]]]
}

/// The Secret cert-manager writes for a mesh Service (placeholders: the operator only looks at
/// which entries are there).
func certificateSecret(_ service: String, namespace: String) -> JSON {
    func b64(_ s: String) -> JSON { .string(Data(s.utf8).base64EncodedString()) }
    return ["apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": ["name": .string("\(service)-mesh-tls"), "namespace": .string(namespace)],
            "data": ["tls.crt": b64("-----BEGIN CERTIFICATE-----"), "tls.key": b64("-----BEGIN PRIVATE KEY-----"),
                     "ca.crt": b64("-----BEGIN CERTIFICATE-----")]]
}

func securityPolicy(_ name: String, source: String, destination: String, namespace: String, rules: JSON) -> JSON {
    ["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "SecurityPolicy", "metadata": ["name": .string(name), "namespace": .string(namespace)],
     "spec": ["source": .string(source), "destination": .string(destination), "rules": rules]]
}

/// The Ready condition of a mesh resource, if it describes the current generation.
func readyCondition(_ client: KubeClient, _ resource: GroupVersionResource, _ namespace: String, _ name: String) async throws -> JSON? {
    let object = try await client.get(resource, namespace: namespace, name: name)
    guard object[path: "status", "observedGeneration"] == object[path: "metadata", "generation"] else { return nil }
    return object[path: "status", "conditions"]?.arrayValue?.first { $0["type"] == "Ready" }
}

func isReady(_ client: KubeClient, _ resource: GroupVersionResource, _ namespace: String, _ name: String,
             _ status: String = "True", reason: String? = nil) async throws -> Bool {
    guard let c = try await readyCondition(client, resource, namespace, name) else { return false }
    return c["status"]?.stringValue == status && (reason == nil || c["reason"]?.stringValue == reason)
}

/// The sidecar ConfigMap's files, parsed.
func sidecarFiles(_ client: KubeClient, _ namespace: String, _ service: String) async throws -> [String: String] {
    let cm = try await client.get(.configMaps, namespace: namespace, name: "\(service)-sidecar")
    var files: [String: String] = [:]
    for (k, v) in cm["data"]?.objectValue ?? [:] { files[k] = v.stringValue ?? "" }
    return files
}

func inboundListener(_ files: [String: String]) throws -> JSON? {
    let lds = try JSON.parse(files["lds.json"] ?? "")
    return lds["resources"]?.arrayValue?.first { $0["name"] == "inbound" }
}

func clusters(_ files: [String: String]) throws -> [String: JSON] {
    let list = try JSON.parse(files["cds.json"] ?? "")["resources"]?.arrayValue ?? []
    return Dictionary(list.map { ($0["name"]?.stringValue ?? "", $0) }, uniquingKeysWith: { a, _ in a })
}

/// What the inbound RBAC of `destination`'s sidecar decides for a GET from `caller` over mTLS.
func rbacDecision(_ client: KubeClient, namespace: String, destination: String, caller: String, callerPlane: String,
                  path: String = "/api") async throws -> (allowed: Bool, policy: String?) {
    let listener = try #require(try inboundListener(try await sidecarFiles(client, namespace, destination)))
    let peer = "spiffe://cluster.local/ns/\(namespace)/plane/\(callerPlane)/svc/\(caller)"
    return try RBACInterpreter.decide(listener: listener, chain: "inbound-mtls", RBACRequest(peer: peer, path: path, headers: [":method": "GET"]))
}

/// The pod selectors the NetworkPolicy lets in (nil: no NetworkPolicy).
func ingressPeers(_ client: KubeClient, _ namespace: String, _ service: String) async throws -> [JSON]? {
    guard let np = try? await client.get(networkPolicies, namespace: namespace, name: "\(service)-mesh-ingress") else { return nil }
    return np[path: "spec", "ingress"]?[0]?["from"]?.arrayValue?.compactMap { $0[path: "podSelector", "matchLabels"] } ?? []
}

/// The sidecar's files as one Envoy config, its key Secret's files included (as the pod mounts both).
func envoyConfig(_ client: KubeClient, _ namespace: String, _ service: String) async throws -> [String: String] {
    var files = try await sidecarFiles(client, namespace, service)
    if let secret = try? await client.get(.secrets, namespace: namespace, name: "\(service)-sidecar-keys") {
        for (k, v) in secret["data"]?.objectValue ?? [:] {
            files[k] = String(decoding: Data(base64Encoded: v.stringValue ?? "") ?? Data(), as: UTF8.self)
        }
    }
    return files
}

/// Every object of every kind the server serves, found through discovery, as JSON text (with
/// Secret data decoded).
func everyObject(_ server: APIServer) async throws -> [(String, String)] {
    let http = try HTTPClient()
    defer { http.shutdown() }
    func get(_ path: String) async throws -> JSON {
        let response = try await http.execute(HTTPRequest(url: "\(server.url)\(path)"))
        return try JSON.parse(response.body)
    }
    var groupVersions = ["/api/v1"]
    for group in try await get("/apis")["groups"]?.arrayValue ?? [] {
        for version in group["versions"]?.arrayValue ?? [] {
            if let gv = version["groupVersion"]?.stringValue { groupVersions.append("/apis/\(gv)") }
        }
    }
    var out: [(String, String)] = []
    for base in groupVersions {
        for resource in try await get(base)["resources"]?.arrayValue ?? [] {
            guard let name = resource["name"]?.stringValue, !name.contains("/"),
                  resource["verbs"]?.arrayValue?.contains("list") ?? false else { continue }
            for item in try await get("\(base)/\(name)")["items"]?.arrayValue ?? [] {
                let id = "\(base)/\(name) \(item[path: "metadata", "namespace"]?.stringValue ?? "")/\(item[path: "metadata", "name"]?.stringValue ?? "")"
                // Secret data is base64: scan it decoded too.
                let decoded = (item["data"]?.objectValue ?? [:]).compactMap { $0.value.stringValue.flatMap { Data(base64Encoded: $0) } }
                out.append((id, ([item.jsonText] + decoded.map { String(decoding: $0, as: UTF8.self) }).joined(separator: "\n")))
            }
        }
    }
    return out
}

/// Events regarding an object (events.k8s.io/v1).
func events(_ client: KubeClient, _ namespace: String, regarding name: String, kind: String) async throws -> [JSON] {
    try await client.listAll(.events, namespace: namespace).items.filter {
        $0[path: "regarding", "name"]?.stringValue == name && $0[path: "regarding", "kind"]?.stringValue == kind
    }
}
