import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The operator's own HTTP endpoints (`/metrics`, `/healthz`, `/readyz`): a minimal HTTP/1.1
/// server on an event loop of its own, answering synchronously from that loop. It never waits
/// for Swift concurrency's shared threads, so probes and scrapes answer while every core is busy
/// reconciling (a kubelet would otherwise restart a busy operator). A `Service`: it stops on
/// graceful shutdown.
public final class EndpointServer: Service, Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]

        public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }

        public static func text(_ status: Int, _ text: String) -> Response { Response(status: status, body: Array(text.utf8)) }
    }

    /// Answers a path; runs on the server's event loop, so it must not block.
    public typealias Route = @Sendable () -> Response

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// The port it listens on (the one asked for, or the one picked for port 0).
    public let port: Int
    public let host: String

    /// Binds `host:port` (0 picks a free port) and starts answering.
    public init(host: String, port: Int, routes: [String: Route]) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try child.pipeline.syncOperations.addHandler(EndpointHandler(routes: routes))
                    }
                }
                .bind(host: host, port: port).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        self.group = group
        self.host = host
        self.port = channel.localAddress?.port ?? port
    }

    /// Serves until graceful shutdown or cancellation, then closes.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Stops listening and frees the event loop.
    public func close() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

/// One connection's requests, answered on the spot.
private final class EndpointHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let routes: [String: EndpointServer.Route]
    init(routes: [String: EndpointServer.Route]) { self.routes = routes }

    /// The head of the request being read (used on the channel's event loop only).
    private var head: HTTPRequestHead?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let request = head else { return }
            let path = String(request.uri.prefix { $0 != "?" })
            let response: EndpointServer.Response
            if request.method != .GET && request.method != .HEAD {
                response = .text(405, "method not allowed")
            } else if let route = routes[path] {
                response = route()
            } else {
                response = .text(404, "not found")
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: response.contentType)
            headers.add(name: "Content-Length", value: String(response.body.count))
            if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
            let status = HTTPResponseStatus(statusCode: response.status)
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
            if request.method == .GET {
                var buffer = context.channel.allocator.buffer(capacity: response.body.count)
                buffer.writeBytes(response.body)
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            }
            let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !request.isKeepAlive {
                let channel = context.channel
                written.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}
