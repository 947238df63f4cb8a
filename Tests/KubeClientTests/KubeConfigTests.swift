import Foundation
import HTTP
import KubeClient
import Testing

/// A temporary folder for kubeconfig files, removed when the test ends.
final class TempDir: @unchecked Sendable {  // immutable after init
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-kc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = url.appendingPathComponent(name).path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

let caPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

@Suite struct KubeConfigTests {
    @Test func tokenAndInlineCA() throws {
        let dir = try TempDir()
        let path = try dir.write("config", """
            apiVersion: v1
            kind: Config
            current-context: dev
            clusters:
            - name: dev
              cluster:
                server: https://10.1.2.3:6443/
                certificate-authority-data: \(b64(caPEM))
            contexts:
            - name: dev
              context: {cluster: dev, user: admin, namespace: lucid-payment}
            users:
            - name: admin
              user: {token: abc.def}
            """)
        let config = try KubeConfig.fromKubeconfig(environment: ["KUBECONFIG": path])
        #expect(config.server == "https://10.1.2.3:6443")
        #expect(config.tls.certificateAuthority == .pem(Array(caPEM.utf8)))
        #expect(config.tls.insecureSkipVerify == false)
        #expect(config.credentials == .token("abc.def"))
        #expect(config.namespace == "lucid-payment")
        #expect(config.context == "dev")
    }

    @Test func clientCertificateDataAndInsecureSkipVerify() throws {
        let dir = try TempDir()
        let path = try dir.write("config", """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://k:443", insecure-skip-tls-verify: true}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            users: [{name: u, user: {client-certificate-data: \(b64("CERT")), client-key-data: \(b64("KEY"))}}]
            """)
        let config = try KubeConfig.fromKubeconfig(environment: ["KUBECONFIG": path])
        #expect(config.tls.insecureSkipVerify)
        #expect(config.tls.certificateAuthority == nil)
        #expect(config.tls.clientCertificate == .pem(Array("CERT".utf8)))
        #expect(config.tls.clientKey == .pem(Array("KEY".utf8)))
        #expect(config.credentials == .none)
        #expect(config.namespace == "default")
    }

    @Test func filePathsResolveAgainstTheKubeconfigFolder() throws {
        let dir = try TempDir()
        let path = try dir.write("sub/config", """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://k", certificate-authority: certs/ca.pem}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            users: [{name: u, user: {client-certificate: /abs/client.pem, client-key: client.key, tokenFile: token}}]
            """)
        let config = try KubeConfig.fromKubeconfig(environment: ["KUBECONFIG": path])
        let folder = dir.url.appendingPathComponent("sub").path
        #expect(config.tls.certificateAuthority == .file("\(folder)/certs/ca.pem"))
        #expect(config.tls.clientCertificate == .file("/abs/client.pem"))
        #expect(config.tls.clientKey == .file("\(folder)/client.key"))
        #expect(config.credentials == .tokenFile("\(folder)/token"))
    }

    @Test func severalFilesMergeFirstDefinitionWins() throws {
        let dir = try TempDir()
        let a = try dir.write("a", """
            current-context: first
            clusters: [{name: shared, cluster: {server: "https://from-a"}}]
            contexts: [{name: first, context: {cluster: shared}}]
            """)
        let b = try dir.write("b", """
            current-context: second
            clusters:
            - {name: shared, cluster: {server: "https://from-b"}}
            - {name: other, cluster: {server: "https://other"}}
            contexts: [{name: second, context: {cluster: other, namespace: ns-b}}]
            users: []
            """)
        let env = ["KUBECONFIG": "\(a):\(dir.url.path)/missing:\(b)"]
        let current = try KubeConfig.fromKubeconfig(environment: env)
        #expect(current.context == "first")
        #expect(current.server == "https://from-a")
        let named = try KubeConfig.fromKubeconfig(environment: env, context: "second")
        #expect(named.server == "https://other")
        #expect(named.namespace == "ns-b")
    }

    @Test func homeConfigIsTheDefault() throws {
        let dir = try TempDir()
        try dir.write(".kube/config", """
            current-context: c
            clusters: [{name: k, cluster: {server: "http://127.0.0.1:1"}}]
            contexts: [{name: c, context: {cluster: k}}]
            """)
        #expect(try KubeConfig.fromKubeconfig(environment: ["HOME": dir.url.path]).server == "http://127.0.0.1:1")
    }

    @Test func unusableConfigsSayWhy() throws {
        let dir = try TempDir()
        let path = try dir.write("config", """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://k"}}]
            contexts: [{name: c, context: {cluster: k, user: plugin}}, {name: d, context: {cluster: gone}}]
            users: [{name: plugin, user: {exec: {command: aws}}}]
            """)
        let env = ["KUBECONFIG": path]
        #expect { try KubeConfig.fromKubeconfig(environment: env) } throws: { "\($0)".contains("exec") }
        #expect { try KubeConfig.fromKubeconfig(environment: env, context: "d") } throws: { "\($0)".contains("\"gone\"") }
        #expect { try KubeConfig.fromKubeconfig(environment: env, context: "nope") } throws: { "\($0)".contains("\"nope\"") }
        #expect { try KubeConfig.fromKubeconfig(environment: ["KUBECONFIG": "\(path).absent"]) } throws: { ($0 as? KubeError)?.code == .configuration }
    }

    @Test func inClusterUsesTheServiceAccount() throws {
        let dir = try TempDir()
        try dir.write("sa/token", "tok-1\n")
        try dir.write("sa/ca.crt", caPEM)
        try dir.write("sa/namespace", "lucid-system")
        let sa = dir.url.appendingPathComponent("sa").path
        let config = try KubeConfig.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                                              serviceAccountDirectory: sa)
        #expect(config.server == "https://10.96.0.1:443")
        #expect(config.tls.certificateAuthority == .file("\(sa)/ca.crt"))
        #expect(config.credentials == .tokenFile("\(sa)/token"))
        #expect(config.namespace == "lucid-system")
        let v6 = try KubeConfig.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"],
                                          serviceAccountDirectory: sa)
        #expect(v6.server == "https://[fd00::1]:6443")
        #expect(throws: KubeError.self) { try KubeConfig.inCluster(environment: [:], serviceAccountDirectory: sa) }
    }
}
