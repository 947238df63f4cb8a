import Foundation
import HTTP
import LoopbackServer

/// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with
/// `openssl` (P-256 keys: fast to make) in a folder. For TLS with client certificates in tests
/// and `dev`; never for production.
public struct TestCertificates: Sendable, Equatable {
    public let directory: String
    public var caFile: String { directory + "/ca.pem" }
    public var serverCertificateFile: String { directory + "/server.pem" }
    public var serverKeyFile: String { directory + "/server.key" }
    public var clientCertificateFile: String { directory + "/client.pem" }
    public var clientKeyFile: String { directory + "/client.key" }

    /// What a client needs to talk to a server with these certificates (CA, client cert and key
    /// as files).
    public var clientTLS: TLSConfiguration {
        TLSConfiguration(certificateAuthority: .file(caFile), clientCertificate: .file(clientCertificateFile),
                         clientKey: .file(clientKeyFile))
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Makes the CA and both certificates in `directory` (created if missing). The server
    /// certificate can also authenticate as a client (etcd's gateway dials etcd with it); the
    /// client certificate's common name is `clientCommonName`.
    public static func make(in directory: String, clientCommonName: String = "lucid-operator") async throws -> TestCertificates {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let d = directory
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
            .write(toFile: d + "/server.ext", atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: d + "/client.ext", atomically: true, encoding: .utf8)
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let steps: [[String]] = [
            ["req", "-x509"] + key + ["-keyout", d + "/ca.key", "-out", d + "/ca.pem", "-days", "2", "-subj", "/CN=lucid-test-etcd-ca"],
            ["req"] + key + ["-keyout", d + "/server.key", "-out", d + "/server.csr", "-subj", "/CN=etcd"],
            ["x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key", "-CAcreateserial",
             "-out", d + "/server.pem", "-days", "2", "-extfile", d + "/server.ext"],
            ["req"] + key + ["-keyout", d + "/client.key", "-out", d + "/client.csr", "-subj", "/CN=\(clientCommonName)"],
            ["x509", "-req", "-in", d + "/client.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key", "-CAcreateserial",
             "-out", d + "/client.pem", "-days", "2", "-extfile", d + "/client.ext"],
        ]
        for step in steps {
            let log = d + "/openssl.log"
            let status = try await ChildProcess.run("openssl", step, outputPath: log)
            guard status == 0 else {
                let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw Failure(description: "openssl \(step.joined(separator: " ")) failed (\(status)): \(output)")
            }
        }
        return TestCertificates(directory: directory)
    }
}
