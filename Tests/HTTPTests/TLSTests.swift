import HTTP
import Testing

/// The client against a real TLS server (nginx): verification, client certificates, HTTP/2.
/// Serialized: the suite shares one nginx, started once.
@Suite(.serialized) final class TLSTests {
    let nginx: NginxTLSFixture
    let client: HTTPClient

    init() async throws {
        nginx = try await NginxTLSFixture()
        client = try HTTPClient()
    }

    deinit {
        client.shutdown()
        nginx.stop()
    }

    private func get(_ port: Int, _ tls: TLSConfiguration) async throws(HTTPError) -> HTTPResponse {
        try await client.execute(HTTPRequest(url: "https://127.0.0.1:\(port)/", tls: tls))
    }

    @Test func verificationSucceedsWithTheRightCAFromMemoryOrFile() async throws {
        let fromMemory = try await get(nginx.port, TLSConfiguration(certificateAuthority: .pem(nginx.caPEM)))
        #expect(fromMemory.status == 200)
        #expect(fromMemory.bodyText == "tls-ok\n")
        #expect(fromMemory.version == .http2)
        let fromFile = try await get(nginx.port, TLSConfiguration(certificateAuthority: .file(nginx.path("ca.pem"))))
        #expect(fromFile.status == 200)
    }

    @Test func verificationFailsWithAWrongCA() async throws {
        do {
            _ = try await get(nginx.port, TLSConfiguration(certificateAuthority: .pem(nginx.otherCAPEM)))
            Issue.record("a server signed by another CA was trusted")
        } catch {
            #expect(error.isTLSFailure, "\(error)")
            #expect(error.curlCode == 60)  // CURLE_PEER_FAILED_VERIFICATION
        }
    }

    @Test func insecureSkipVerifyIsHonouredOnlyWhenAskedFor() async throws {
        let response = try await get(nginx.port, TLSConfiguration(certificateAuthority: .pem(nginx.otherCAPEM), insecureSkipVerify: true))
        #expect(response.status == 200)
    }

    @Test func clientCertificateAuthenticates() async throws {
        let ca = TLSMaterial.pem(nginx.caPEM)
        let fromMemory = try await get(nginx.mtlsPort, TLSConfiguration(
            certificateAuthority: ca, clientCertificate: .pem(nginx.clientCertPEM), clientKey: .pem(nginx.clientKeyPEM)))
        #expect(fromMemory.status == 200)
        #expect(fromMemory.bodyText.contains("CN=lucid-operator"))
        let fromFiles = try await get(nginx.mtlsPort, TLSConfiguration(
            certificateAuthority: ca, clientCertificate: .file(nginx.path("client.pem")), clientKey: .file(nginx.path("client.key"))))
        #expect(fromFiles.status == 200)
    }

    @Test func missingClientCertificateIsRefused() async throws {
        let response = try await get(nginx.mtlsPort, TLSConfiguration(certificateAuthority: .pem(nginx.caPEM)))
        #expect(response.status == 400)  // nginx: "No required SSL certificate was sent"
        #expect(response.bodyText.contains("No required SSL certificate"))
    }

    @Test func concurrentRequestsMultiplexOverOneHTTP2Connection() async throws {
        let tls = TLSConfiguration(certificateAuthority: .pem(nginx.caPEM))
        let port = nginx.port
        let client = self.client
        let responses = try await withThrowingTaskGroup(of: HTTPResponse.self) { group in
            for _ in 0..<50 {
                group.addTask { try await client.execute(HTTPRequest(url: "https://127.0.0.1:\(port)/", tls: tls)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(responses.count == 50)
        #expect(responses.allSatisfy { $0.status == 200 && $0.version == .http2 })
        let opened = responses.reduce(0) { $0 + $1.newConnections }
        #expect(opened <= 2, "50 concurrent HTTP/2 requests opened \(opened) connections")
    }
}
