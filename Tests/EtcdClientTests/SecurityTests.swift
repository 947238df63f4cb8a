import EtcdClient
import EtcdServer
import Foundation
import HTTP
import LoopbackServer
import Testing

/// TLS with client certificates (a CA made with openssl by the fixture) and username/password
/// auth, against real etcds configured for them.
@Suite(.timeLimit(.minutes(3))) struct SecurityTests {
    @Test func tlsWithAClientCertificateServesEveryVerbAndWatches() async throws {
        let etcd = try await EtcdServer.start(EtcdServer.Options(tls: true))
        defer { etcd.stop() }
        #expect(etcd.clientURL.hasPrefix("https://127.0.0.1:"))
        let client = try EtcdClient(EtcdConfiguration(endpoints: [etcd.clientURL], tls: etcd.clientTLS))
        defer { client.shutdown() }
        let revision = try await client.put("/tls/k", "secret").header.revision
        #expect(try await client.get("/tls/k")?.valueText == "secret")
        var watch = client.watch(prefix: "/tls/", fromRevision: revision).makeAsyncIterator()
        #expect(try await watch.next()?.events.first?.kv.valueText == "secret")
        // The same key through etcdctl, with the same certificates.
        #expect(try await etcdctl(etcd, ["get", "/tls/k", "--print-value-only"]) == "secret\n")
    }

    @Test func tlsRefusesAClientWithoutCertificateOrWithTheWrongCA() async throws {
        let etcd = try await EtcdServer.start(EtcdServer.Options(tls: true))
        defer { etcd.stop() }
        let certificates = try #require(etcd.certificates)
        let noCertificate = try EtcdClient(EtcdConfiguration(
            endpoints: [etcd.clientURL], tls: TLSConfiguration(certificateAuthority: .file(certificates.caFile))))
        defer { noCertificate.shutdown() }
        do {
            _ = try await noCertificate.get("/k")
            Issue.record("a client without a certificate was served")
        } catch {
            #expect(error.code == .unavailable, "\(error)")
            #expect(error.endpoint == etcd.clientURL)
        }

        let other = try await TestCertificates.make(in: etcd.directory + "/other-ca")
        let wrongCA = try EtcdClient(EtcdConfiguration(endpoints: [etcd.clientURL], tls: other.clientTLS))
        defer { wrongCA.shutdown() }
        do {
            _ = try await wrongCA.get("/k")
            Issue.record("a server signed by another CA was trusted")
        } catch {
            #expect(error.transport?.isTLSFailure == true, "\(error)")
        }
    }

    @Test func usernameAndPasswordAuthenticateAndTheTokenTravelsInTheAuthorizationHeader() async throws {
        let auth = EtcdServer.Auth(username: "registry", password: "s3cret", prefix: "/lucid/")
        let etcd = try await EtcdServer.start(EtcdServer.Options(auth: auth))
        defer { etcd.stop() }
        let credentials = EtcdConfiguration.Credentials(username: "registry", password: "s3cret")
        let client = try EtcdClient(EtcdConfiguration(endpoints: [etcd.clientURL], credentials: credentials))
        defer { client.shutdown() }
        let revision = try await client.put("/lucid/registry/a", "1").header.revision
        #expect(try await client.get("/lucid/registry/a")?.valueText == "1")
        var watch = client.watch(prefix: "/lucid/", fromRevision: revision).makeAsyncIterator()
        #expect(try await watch.next()?.events.count == 1)
        // Outside the user's prefix: refused, typed.
        await #expect { try await client.put("/elsewhere", "x") } throws: { ($0 as? EtcdError)?.code == .permissionDenied }
        var outside = client.watch(prefix: "/elsewhere/").makeAsyncIterator()
        await #expect { _ = try await outside.next() } throws: { ($0 as? EtcdError)?.code == .permissionDenied }

        // Without credentials, or with a wrong password: typed errors, nothing served.
        let anonymous = try EtcdClient(EtcdConfiguration(endpoints: [etcd.clientURL]))
        defer { anonymous.shutdown() }
        await #expect { _ = try await anonymous.get("/lucid/registry/a") } throws: { ($0 as? EtcdError)?.code == .unauthenticated }
        let wrong = try EtcdClient(EtcdConfiguration(endpoints: [etcd.clientURL],
                                                     credentials: .init(username: "registry", password: "guess")))
        defer { wrong.shutdown() }
        await #expect { _ = try await wrong.get("/lucid/registry/a") } throws: { ($0 as? EtcdError)?.code == .authenticationFailed }
        // etcdctl agrees about the user.
        #expect(try await etcdctl(etcd, ["get", "/lucid/registry/a", "--print-value-only"], user: "registry:s3cret") == "1\n")
    }

    @Test func aRefusedTokenIsReplacedTransparently() async throws {
        let etcd = try await EtcdServer.start(EtcdServer.Options(auth: EtcdServer.Auth(prefix: "/t/")))
        defer { etcd.stop() }
        let client = try EtcdClient(EtcdConfiguration(endpoints: [etcd.clientURL], credentials: .init(username: "lucid", password: "lucid-secret")))
        defer { client.shutdown() }
        let revision = try await client.put("/t/before", "1").header.revision
        var watch = client.watch(prefix: "/t/", fromRevision: revision).makeAsyncIterator()
        #expect(try await watch.next()?.events.first?.kv.keyText == "/t/before")

        // Every token is invalidated: the next request is refused, the client authenticates
        // again (once) and the request goes through.
        let authentications = try await authenticateCount(etcd)
        try await etcd.revokeAuthTokens()
        try await client.put("/t/revoked", "2")
        #expect(try await authenticateCount(etcd) - authentications == 2, "root's login for the revocation, and the client's one")

        // A restart drops the connection (and tokens that were not replayed from the log).
        try await etcd.restart()
        try await client.put("/t/restarted", "3")
        #expect(try await client.get("/t/restarted")?.valueText == "3")
        // The watch resumes where it was and sees both writes, once each.
        var keys: [String] = []
        while keys.count < 2, let next = try await watch.next() { keys += next.events.map(\.kv.keyText) }
        #expect(keys == ["/t/revoked", "/t/restarted"])
    }

    @Test func concurrentRequestsShareOneAuthentication() async throws {
        let etcd = try await EtcdServer.start(EtcdServer.Options(auth: EtcdServer.Auth(prefix: "/c/")))
        defer { etcd.stop() }
        let client = try EtcdClient(EtcdConfiguration(endpoints: [etcd.clientURL], credentials: .init(username: "lucid", password: "lucid-secret")))
        defer { client.shutdown() }
        let authenticationsBefore = try await authenticateCount(etcd)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<50 { group.addTask { try await client.put("/c/\(i)", "v") } }
            try await group.waitForAll()
        }
        #expect(try await client.range(prefix: "/c/").count == 50)
        #expect(try await authenticateCount(etcd) - authenticationsBefore == 1)
    }

    /// How many Authenticate calls the server has answered (gRPC server metrics include the
    /// gateway's calls, which go through gRPC).
    private func authenticateCount(_ etcd: EtcdServer) async throws -> Double {
        let http = try HTTPClient()
        defer { http.shutdown() }
        let text = try await http.execute(HTTPRequest(url: etcd.clientURL + "/metrics")).bodyText
        return text.split(separator: "\n")
            .filter { $0.hasPrefix("grpc_server_handled_total{") && $0.contains("grpc_method=\"Authenticate\"") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }
            .reduce(0, +)
    }
}
