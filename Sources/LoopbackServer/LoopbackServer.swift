import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A request as the server received it.
public struct LoopbackRequest: Sendable {
    public var method: String
    /// The request target as sent: path and query.
    public var uri: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Which accepted connection carried it (1, 2, ...).
    public var connection: Int

    public var path: Substring { uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0] }

    /// Query parameters, percent-decoding left to the caller.
    public var query: [String: String] {
        guard let q = uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return [:] }
        var result: [String: String] = [:]
        for pair in q.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            result[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
        }
        return result
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Writes one response: either `respond` in one go, or `start`, any number of `write`s, `end`
/// (chunked transfer encoding, each write one chunk).
public final class LoopbackResponseWriter: Sendable {
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    private let phase = Mutex(0)  // 0: nothing sent, 1: head sent, 2: ended

    init(outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) {
        self.outbound = outbound
    }

    var ended: Bool { phase.withLock { $0 == 2 } }
    var started: Bool { phase.withLock { $0 >= 1 } }

    public func respond(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) async throws {
        var h = HTTPHeaders(headers)
        h.replaceOrAdd(name: "content-length", value: String(body.count))
        phase.withLock { $0 = 1 }
        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: h)))
        if !body.isEmpty { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        try await end()
    }

    public func respond(status: Int, headers: [(String, String)] = [], text: String) async throws {
        try await respond(status: status, headers: headers, body: Array(text.utf8))
    }

    /// Sends the head of a chunked response.
    public func start(status: Int, headers: [(String, String)] = []) async throws {
        phase.withLock { $0 = 1 }
        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: HTTPHeaders(headers))))
    }

    /// Sends one chunk; throws `CancellationError` once the server is stopping.
    public func write(_ bytes: [UInt8]) async throws {
        try Task.checkCancellation()
        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: bytes))))
    }

    public func end() async throws {
        let first = phase.withLock { p in
            defer { p = 2 }
            return p != 2
        }
        if first { try await outbound.write(.end(nil)) }
    }
}

/// Thrown by a handler to cut the connection (without finishing the response).
public struct CloseConnection: Error {
    public init() {}
}

/// A programmable HTTP/1.1 server on 127.0.0.1, on a free port, for tests and fakes.
/// It lives exactly as long as the `run` body: no server outlives its test.
public final class LoopbackServer: Sendable {
    public typealias Handler = @Sendable (LoopbackRequest, LoopbackResponseWriter) async throws -> Void

    public let port: Int
    private let accepted = Atomic<Int>(0)
    private let served = Atomic<Int>(0)
    private let open = Mutex<[Int: any Channel]>([:])

    private init(port: Int) { self.port = port }

    /// Connections accepted so far.
    public var connectionsAccepted: Int { accepted.load(ordering: .relaxed) }
    /// Requests answered so far.
    public var requestsServed: Int { served.load(ordering: .relaxed) }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Connections open now.
    public var openConnections: Int { open.withLock { $0.count } }

    /// Closes every open connection at once (a server restart, as clients see it); the server
    /// keeps listening.
    public func dropConnections() {
        let channels = open.withLock { Array($0.values) }
        for channel in channels { channel.close(promise: nil) }
    }

    /// Starts a server answering with `handler` on `host`:`port` (0: a free one), runs `body`,
    /// then stops the server, closing every connection. Tests keep the loopback default.
    public static func run<T: Sendable>(
        host: String = "127.0.0.1", port: Int = 0, handler: @escaping Handler, _ body: @Sendable (LoopbackServer) async throws -> T
    ) async throws -> T {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: child)
                }
            }
        let server = LoopbackServer(port: channel.channel.localAddress?.port ?? 0)
        // Accepting and serving are separate tasks, so that stopping never drops an accepted
        // connection unserved (SwiftNIO traps when an NIOAsyncChannel is dropped without being
        // run): the listener is closed first, the accept loop hands over what it had accepted and
        // ends, and only then are the connections cut and their handlers cancelled.
        let (accepted, sink) = AsyncStream.makeStream(of: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>.self)
        let (handedOver, handedOverSink) = AsyncStream.makeStream(of: Void.self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { sink.finish() }
                try await channel.executeThenClose { inbound in
                    for try await connection in inbound { sink.yield(connection) }
                }
            }
            group.addTask {
                await withDiscardingTaskGroup { connections in
                    for await connection in accepted {
                        let id = server.accepted.wrappingAdd(1, ordering: .relaxed).newValue
                        connections.addTask { await server.serve(connection, id: id, handler: handler) }
                    }
                    handedOverSink.finish()  // every accepted connection is being served
                }
            }
            // Whatever the body did, the server stops: no new connections, open ones closed
            // (clients may still hold idle keep-alive connections), handlers cancelled.
            func stop() async {
                try? await channel.channel.close()
                for await _ in handedOver {}
                server.dropConnections()
                group.cancelAll()
            }
            do {
                let result = try await body(server)
                await stop()
                return result
            } catch {
                await stop()
                throw error
            }
        }
    }

    private func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, id: Int, handler: Handler
    ) async {
        open.withLock { $0[id] = connection.channel }
        defer { _ = open.withLock { $0.removeValue(forKey: id) } }
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let h):
                    head = h
                    body = []
                case .body(var buffer):
                    body += buffer.readBytes(length: buffer.readableBytes) ?? []
                case .end:
                    guard let h = head else { continue }
                    let request = LoopbackRequest(
                        method: h.method.rawValue, uri: h.uri,
                        headers: h.headers.map { (name: $0.name, value: $0.value) }, body: body, connection: id)
                    let writer = LoopbackResponseWriter(outbound: outbound)
                    do {
                        try await handler(request, writer)
                    } catch is CancellationError {
                        return
                    } catch is CloseConnection {
                        return
                    } catch {
                        // Mid-response there is no way to report it but to cut the connection.
                        guard !writer.started else { return }
                        try await writer.respond(status: 500, text: "handler failed: \(error)")
                    }
                    if !writer.ended { try await writer.end() }
                    served.wrappingAdd(1, ordering: .relaxed)
                    if !h.isKeepAlive { return }
                }
            }
        }
    }
}
