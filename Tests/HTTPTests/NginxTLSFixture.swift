import Foundation
import HTTP
import LoopbackServer

/// A real TLS front for the client: nginx from Debian, with a CA, server and client
/// certificates made by `openssl` in a temporary folder. Two listeners: `port` (server auth
/// only) and `mtlsPort` (client certificate required). Stopped and removed by `stop()`.
final class NginxTLSFixture: @unchecked Sendable {  // immutable after init; `process` is only read
    let directory: URL
    let port: Int
    let mtlsPort: Int
    private let process: ChildProcess

    var caPEM: [UInt8] { read("ca.pem") }
    var otherCAPEM: [UInt8] { read("other-ca.pem") }
    var clientCertPEM: [UInt8] { read("client.pem") }
    var clientKeyPEM: [UInt8] { read("client.key") }
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    struct SetupError: Error, CustomStringConvertible { let description: String }

    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificates = try await Certificates.shared.folder()
        for name in ["ca.pem", "other-ca.pem", "server.pem", "server.key", "client.pem", "client.key"] {
            try FileManager.default.copyItem(at: certificates.appendingPathComponent(name), to: directory.appendingPathComponent(name))
        }
        guard let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"].first(where: FileManager.default.isExecutableFile) else {
            throw SetupError(description: "nginx is not installed: run hack/install-deps.sh")
        }
        port = try LoopbackPort.unused()
        mtlsPort = try LoopbackPort.unused()
        let d = directory.path
        let config = """
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(d)/nginx.pid;
            error_log \(d)/error.log warn;
            events { worker_connections 512; }
            http {
                access_log off;
                client_body_temp_path \(d)/body;
                proxy_temp_path \(d)/proxy;
                fastcgi_temp_path \(d)/fastcgi;
                uwsgi_temp_path \(d)/uwsgi;
                scgi_temp_path \(d)/scgi;
                ssl_certificate \(d)/server.pem;
                ssl_certificate_key \(d)/server.key;
                server {
                    listen 127.0.0.1:\(port) ssl http2;
                    location / { return 200 "tls-ok\\n"; }
                }
                server {
                    listen 127.0.0.1:\(mtlsPort) ssl http2;
                    ssl_client_certificate \(d)/ca.pem;
                    ssl_verify_client on;
                    location / { return 200 "client $ssl_client_s_dn\\n"; }
                }
            }
            """
        try config.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        process = try ChildProcess(nginx, ["-p", d, "-c", "\(d)/nginx.conf", "-e", "\(d)/error.log"], lifetime: .seconds(600))
        try await waitForListener()
    }

    private func waitForListener() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { break }
            var request = HTTPRequest(url: "https://127.0.0.1:\(port)/", timeout: .seconds(1))
            request.tls = TLSConfiguration(insecureSkipVerify: true)
            if (try? await client.execute(request)) != nil { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        let log = (try? String(contentsOf: directory.appendingPathComponent("error.log"), encoding: .utf8)) ?? ""
        stop()
        throw SetupError(description: "nginx did not start: \(log)")
    }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private func read(_ name: String) -> [UInt8] {
        (try? [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))) ?? []
    }

    /// The CA, server and client certificates, made once per test process.
    actor Certificates {
        static let shared = Certificates()
        private var made: URL?

        func folder() async throws -> URL {
            if let made { return made }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-certs-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try await NginxTLSFixture.makeCertificates(in: directory)
            made = directory
            return directory
        }
    }

    static func makeCertificates(in directory: URL) async throws {
        let ext = directory.appendingPathComponent("server.ext")
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n".write(to: ext, atomically: true, encoding: .utf8)
        let clientExt = directory.appendingPathComponent("client.ext")
        try "extendedKeyUsage=clientAuth\n".write(to: clientExt, atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=lucid-test-ca"],
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=some-other-ca"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj", "/CN=lucid-operator/O=system:masters"],
            ["x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "client.pem", "-days", "2", "-extfile", "client.ext"],
        ]
        for args in steps {
            let status = try await ChildProcess.run("openssl", args.map { $0.hasSuffix(".pem") || $0.hasSuffix(".key") || $0.hasSuffix(".csr") || $0.hasSuffix(".ext") ? directory.appendingPathComponent($0).path : $0 })
            guard status == 0 else {
                throw SetupError(description: "openssl \(args.joined(separator: " ")) failed with \(status)")
            }
        }
    }
}
