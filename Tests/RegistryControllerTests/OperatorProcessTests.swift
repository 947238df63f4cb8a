import APIServer
import EtcdClient
import EtcdServer
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import Registry
import Testing
import YAML

/// `lucid-operator run` and `dev` as their own processes, with the registry's flags.
@Suite(.timeLimit(.minutes(4))) struct OperatorProcessTests {
    /// One `lucid-operator` process; its output in `folder`.
    struct Operator {
        let process: ChildProcess
        let log: String

        init(_ arguments: [String], folder: String, name: String, workingDirectory: String? = nil) throws {
            let binary = try #require(operatorBinary, "lucid-operator is not built")
            log = "\(folder)/\(name).log"
            process = try ChildProcess(binary, arguments, outputPath: log, workingDirectory: workingDirectory, lifetime: .seconds(120))
        }

        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        /// `lucid-operator run` against the cluster of `kubeconfig`, with `flags`.
        static func run(kubeconfig: String, folder: String, name: String, _ flags: [String]) throws -> Operator {
            try Operator(["run", "--kubeconfig", kubeconfig, "--no-leader-elect", "--identity", name, "--metrics-bind-address", "127.0.0.1:0",
                          "--health-probe-bind-address", "127.0.0.1:0"] + flags, folder: folder, name: name)
        }

        /// The metrics port it announced.
        func metricsPort() async throws -> Int {
            try await poll(.seconds(30), "the operator to announce its ports") {
                let line = output.split(separator: "\n").first { $0.hasPrefix("metrics on ") }
                return line?.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.first { $0 > 1000 }
            }
        }

        /// One series' value from its /metrics (`name` with its labels, as Prometheus prints them).
        func metric(_ name: String) async throws -> Double? {
            let port = try await metricsPort()
            let http = try HTTPClient()
            defer { http.shutdown() }
            let text = try await http.execute(HTTPRequest(url: "http://127.0.0.1:\(port)/metrics")).bodyText
            return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
    }

    func cluster(_ folder: String, _ body: @Sendable (APIServer, KubeClient, String) async throws -> Void) async throws {
        try await withCluster { server, client in
            let kubeconfig = "\(folder)/kubeconfig"
            try server.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            try await body(server, client, kubeconfig)
        }
    }

    @Test func tlsWithClientCertificatesWorksThroughTheOperator() async throws {
        let folder = try temporaryFolder("registry-tls")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let etcdServer = try await EtcdServer.start(EtcdServer.Options(tls: true))
        defer { etcdServer.stop() }
        let certificates = try #require(etcdServer.certificates)
        let etcd = try EtcdClient(EtcdConfiguration(endpoints: [etcdServer.clientURL], tls: etcdServer.clientTLS))
        defer { etcd.shutdown() }
        let options = try uniqueOptions(dns: false)
        try await cluster(folder) { _, client, kubeconfig in
            let op = try Operator.run(kubeconfig: kubeconfig, folder: folder, name: "tls", [
                "--etcd-endpoints", etcdServer.clientURL, "--etcd-ca", certificates.caFile, "--etcd-cert", certificates.clientCertificateFile,
                "--etcd-key", certificates.clientKeyFile, "--registry-prefix", options.prefix,
            ])
            defer { op.process.stop() }
            _ = try await client.create(.services, namespace: "lucid", meshService("payments"))
            let key = options.key(namespace: "lucid", name: "payments")
            try await waitUntil(.seconds(30), "the entry over TLS") { try await etcd.get(key) != nil }
            #expect(try await etcd.entry(key)?["serviceName"] == "payments")
            #expect(op.output.contains("registry: etcd \(etcdServer.clientURL), prefix \(options.prefix)"))
            try await waitUntil(.seconds(30), "lucid_registry_entries") { try await op.metric("lucid_registry_entries") == 1 }
            #expect(try await op.metric(#"lucid_registry_writes_total{operation="put"}"#) == 1)
        }
    }

    @Test func usernameAndPasswordWorkThroughTheOperator() async throws {
        let folder = try temporaryFolder("registry-auth")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let options = try uniqueOptions(dns: false)
        let auth = EtcdServer.Auth(username: "registry", password: "s3cret-pass", prefix: options.prefix)
        let etcdServer = try await EtcdServer.start(EtcdServer.Options(auth: auth))
        defer { etcdServer.stop() }
        let etcd = try EtcdClient(EtcdConfiguration(endpoints: [etcdServer.clientURL], credentials: .init(username: "root", password: auth.rootPassword)))
        defer { etcd.shutdown() }
        try "s3cret-pass\n".write(toFile: "\(folder)/password", atomically: true, encoding: .utf8)
        try "wrong\n".write(toFile: "\(folder)/wrong", atomically: true, encoding: .utf8)
        try await cluster(folder) { _, client, kubeconfig in
            _ = try await client.create(.services, namespace: "lucid", meshService("payments"))
            let key = options.key(namespace: "lucid", name: "payments")

            // A wrong password: nothing is written, the operator says why and keeps running.
            let wrong = try Operator.run(kubeconfig: kubeconfig, folder: folder, name: "wrong", [
                "--etcd-endpoints", etcdServer.clientURL, "--etcd-username", "registry", "--etcd-password-file", "\(folder)/wrong",
                "--registry-prefix", options.prefix,
            ])
            try await waitUntil(.seconds(30), "sync errors to be counted") { (try await wrong.metric("lucid_registry_sync_errors_total") ?? 0) >= 1 }
            #expect(wrong.process.isRunning)
            try await waitUntil(.seconds(30), "the Service to hear why") {
                try await events(client, about: "payments", reason: "RegistryUnavailable").first?.contains("authenticationFailed") == true
            }
            wrong.process.stop()
            #expect(try await etcd.get(key) == nil)

            let op = try Operator.run(kubeconfig: kubeconfig, folder: folder, name: "auth", [
                "--etcd-endpoints", etcdServer.clientURL, "--etcd-username", "registry", "--etcd-password-file", "\(folder)/password",
                "--registry-prefix", options.prefix,
            ])
            defer { op.process.stop() }
            try await waitUntil(.seconds(30), "the entry with auth") { try await etcd.get(key) != nil }
            #expect(try await etcd.entry(key)?["serviceName"] == "payments")
        }
    }

    @Test func withoutEndpointsTheRegistryIsOffAndSaysSo() async throws {
        let folder = try temporaryFolder("registry-off")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await cluster(folder) { _, _, kubeconfig in
            let op = try Operator.run(kubeconfig: kubeconfig, folder: folder, name: "off", [])
            defer { op.process.stop() }
            try await waitUntil(.seconds(30), "the announcement") { op.output.contains("registry: off (no --etcd-endpoints)") }

            let bad = try Operator.run(kubeconfig: kubeconfig, folder: folder, name: "bad", ["--etcd-ca", "/nonexistent"])
            let status = await bad.process.exit()
            #expect(status != 0)
            #expect(bad.output.contains("--etcd-ca needs --etcd-endpoints"), "\(bad.output)")
            let prefix = try Operator.run(kubeconfig: kubeconfig, folder: folder, name: "prefix", ["--etcd-endpoints", "http://127.0.0.1:1", "--dns-domain", "not a domain"])
            #expect(await prefix.process.exit() != 0)
            #expect(prefix.output.contains("is not a DNS name"), "\(prefix.output)")
        }
    }

    @Test func devStartsARealEtcdAndStopsIt() async throws {
        let folder = try temporaryFolder("registry-dev")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let dev = try Operator(["dev", "--samples", "--samples-path", "\(repository)/manifests/samples", "--kubeconfig", "\(folder)/kubeconfig",
                                "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0"],
                               folder: folder, name: "dev")
        defer { dev.process.stop() }
        let (url, etcdctl) = try await poll(.seconds(30), "dev to print where etcd is") { () -> (String, String)? in
            let lines = dev.output.split(separator: "\n").map(String.init)
            guard let line = lines.first(where: { $0.hasPrefix("Registry: etcd on ") }),
                  let command = lines.first(where: { $0.contains("etcdctl") && $0.contains("get --prefix /lucid/registry/") }) else { return nil }
            return (String(line.dropFirst("Registry: etcd on ".count).prefix { $0 != " " }), command.trimmingCharacters(in: .whitespaces))
        }
        #expect(url.hasPrefix("http://127.0.0.1:"))
        // The printed etcdctl line lists the sample Services' entries.
        let out = "\(folder)/etcdctl.out"
        try await waitUntil(.seconds(30), "the samples' entries", interval: .milliseconds(200)) {
            _ = try await ChildProcess.run("sh", ["-c", etcdctl + " --keys-only"], outputPath: out)
            let keys = ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n")
            return keys.contains("/lucid/registry/lucid-payment/tron-payment") && keys.contains("/lucid/registry/lucid-payment/api-gateway")
        }
        dev.process.stop()
        // Its etcd went with it.
        let etcd = try EtcdClient(EtcdConfiguration(endpoints: [url], requestTimeout: .seconds(1), connectTimeout: .milliseconds(300)))
        defer { etcd.shutdown() }
        try await waitUntil(.seconds(30), "dev's etcd to stop") {
            do throws(EtcdError) {
                _ = try await etcd.get("/")
                return false
            } catch {
                return error.code == .unavailable
            }
        }
    }
}
