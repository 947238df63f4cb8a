import Foundation
import LoopbackServer
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// HTTPS in front of the server's loopback HTTP port, for RBAC: kubectl (client-go) sends a
/// bearer token only over TLS. Each TLS connection is relayed, decrypted, to one connection of
/// the HTTP server, with backpressure both ways; the HTTP/1.1 server behind it is unchanged.
final class TLSFront: Sendable {
    let channel: any Channel
    let port: Int

    private init(channel: any Channel) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    /// Listens on 127.0.0.1:`port` (0: a free one) and relays to 127.0.0.1:`backend`.
    static func start(port: Int, backend: Int, material: DevCertificates) async throws -> TLSFront {
        var tls = NIOSSL.TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(material.serverCertificate.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(material.serverKey.utf8), format: .pem)))
        // The server behind speaks HTTP/1.1 only: clients offering h2 fall back to it.
        tls.applicationProtocols = ["http/1.1"]
        let context = try NIOSSLContext(configuration: tls)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: true)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                }
                .flatMap { ClientBootstrap(group: child.eventLoop).connect(host: "127.0.0.1", port: backend) }
                .flatMapThrowing { plain in
                    // Both channels are on this event loop, so the pair never crosses threads.
                    let (outer, inner) = Relay.pair()
                    try child.pipeline.syncOperations.addHandler(outer)
                    try plain.pipeline.syncOperations.addHandler(inner)
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        return TLSFront(channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }
}

/// One side of a byte relay between two channels of one event loop: what one reads the other
/// writes; a side that cannot write stops the other reading; either closing closes both.
final class Relay: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: Relay?
    private var context: ChannelHandlerContext?
    private var readPending = false

    static func pair() -> (Relay, Relay) {
        let a = Relay(), b = Relay()
        a.partner = b
        b.partner = a
        return (a, b)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // The partner may have held back a read while this side did not exist yet.
        partner?.resumeReading()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.forward(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    /// Reads only while the partner can take what is read.
    func read(context: ChannelHandlerContext) {
        if partner?.context?.channel.isWritable ?? false {
            context.read()
        } else {
            readPending = true
        }
    }

    private func forward(_ bytes: ByteBuffer) {
        guard let context else { return }
        context.write(wrapOutboundOut(bytes), promise: nil)
    }

    private func resumeReading() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }
}

/// A certificate authority and a server certificate for 127.0.0.1 and localhost, made once
/// per process with the `openssl` command (the tests' and `dev`'s own, never a real CA).
struct DevCertificates: Sendable {
    var authority: String
    var serverCertificate: String
    var serverKey: String

    private static let made = Mutex<DevCertificates?>(nil)

    static func shared() throws -> DevCertificates {
        if let made = made.withLock({ $0 }) { return made }
        let fresh = try make()
        return made.withLock { current in
            if let current { return current }
            current = fresh
            return fresh
        }
    }

    private static func make() throws -> DevCertificates {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-dev-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func file(_ name: String) -> String { "\(folder)/\(name)" }
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n"
            .write(toFile: file("server.ext"), atomically: true, encoding: .utf8)
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let steps: [[String]] = [
            ["req", "-x509", "-new"] + key + ["-keyout", file("ca.key"), "-out", file("ca.crt"), "-days", "30", "-subj", "/CN=lucid-dev-apiserver-ca",
                                              "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ["req", "-new"] + key + ["-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=lucid-dev-apiserver"],
            ["x509", "-req", "-in", file("server.csr"), "-CA", file("ca.crt"), "-CAkey", file("ca.key"), "-CAcreateserial",
             "-out", file("server.crt"), "-days", "30", "-extfile", file("server.ext")],
        ]
        for step in steps {
            let status: Int32 = try ChildProcess.run("openssl", step, outputPath: file("openssl.log"))
            guard status == 0 else {
                let log = (try? String(contentsOfFile: file("openssl.log"), encoding: .utf8)) ?? ""
                throw APIServerError(message: "openssl \(step[0]) failed (\(status)) making the dev server's certificate: \(log)")
            }
        }
        return DevCertificates(authority: try String(contentsOfFile: file("ca.crt"), encoding: .utf8),
                               serverCertificate: try String(contentsOfFile: file("server.crt"), encoding: .utf8),
                               serverKey: try String(contentsOfFile: file("server.key"), encoding: .utf8))
    }
}
