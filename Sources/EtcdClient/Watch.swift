import HTTP
import YAML

/// One change to a watched key.
public struct WatchEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case put, delete }

    public var kind: Kind
    /// The key after the change; for a deletion, the key and the deletion's mod revision.
    public var kv: KeyValue
    /// The key before the change, when the watch asked for it.
    public var prevKV: KeyValue?

    public init(kind: Kind, kv: KeyValue, prevKV: KeyValue? = nil) {
        self.kind = kind
        self.kv = kv
        self.prevKV = prevKV
    }
}

/// What a watch delivers: the events of one or more revisions, in order, or a progress
/// notification saying every change up to `header.revision` has been delivered.
public struct WatchResponse: Sendable, Equatable {
    public var header: ResponseHeader
    public var events: [WatchEvent]
    public var isProgressNotification: Bool

    public init(header: ResponseHeader, events: [WatchEvent], isProgressNotification: Bool) {
        self.header = header
        self.events = events
        self.isProgressNotification = isProgressNotification
    }
}

/// How a watch runs.
public struct WatchOptions: Sendable, Equatable {
    /// Deliver each key's previous value with its events.
    public var prevKV: Bool
    /// Ask for progress notifications (empty responses carrying the current revision, sent by
    /// etcd every `--experimental-watch-progress-notify-interval` while nothing changes).
    public var progressNotify: Bool
    /// Leave out puts, or deletions.
    public var noPut: Bool
    public var noDelete: Bool
    /// Consecutive lost connections after which the watch gives up with `.unavailable`.
    public var maxReconnectAttempts: Int
    public var reconnectBackoff: Duration
    public var maxReconnectBackoff: Duration

    public init(prevKV: Bool = false, progressNotify: Bool = true, noPut: Bool = false, noDelete: Bool = false,
                maxReconnectAttempts: Int = 10, reconnectBackoff: Duration = .milliseconds(100),
                maxReconnectBackoff: Duration = .seconds(5)) {
        self.prevKV = prevKV
        self.progressNotify = progressNotify
        self.noPut = noPut
        self.noDelete = noDelete
        self.maxReconnectAttempts = maxReconnectAttempts
        self.reconnectBackoff = reconnectBackoff
        self.maxReconnectBackoff = maxReconnectBackoff
    }
}

extension EtcdClient {
    /// Watches every key under `prefix`, from `fromRevision` (nil: from now). See `EtcdWatch`.
    public func watch(prefix: String, fromRevision: Int64? = nil, options: WatchOptions = WatchOptions()) -> EtcdWatch {
        EtcdWatch(client: self, range: .prefix(prefix), startRevision: fromRevision, options: options)
    }

    /// Watches one key, or a range of keys, from `fromRevision` (nil: from now).
    public func watch(_ range: KeyRange, fromRevision: Int64? = nil, options: WatchOptions = WatchOptions()) -> EtcdWatch {
        EtcdWatch(client: self, range: range, startRevision: fromRevision, options: options)
    }
}

/// A watch (`POST /v3/watch`) as an asynchronous sequence of responses.
///
/// Each iterator is one watch. It connects on the first `next()`, and when its stream breaks
/// (the member died, the connection dropped) it reconnects — to another endpoint if this one is
/// failing — from right after the last revision it delivered, so the consumer sees every change
/// once, in order. It ends with `.compacted` (and the compact revision) when that revision has
/// been compacted away, with `.unavailable` after `maxReconnectAttempts` lost connections in a
/// row, and returns nil when the consuming task is cancelled (which aborts the transfer).
public struct EtcdWatch: AsyncSequence, Sendable {
    public typealias Element = WatchResponse
    public typealias Failure = EtcdError

    let client: EtcdClient
    let range: KeyRange
    let startRevision: Int64?
    let options: WatchOptions

    public func makeAsyncIterator() -> Iterator { Iterator(watch: self) }

    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = WatchResponse
        public typealias Failure = EtcdError

        private struct Connection {
            let stream: HTTPStream
            let lines: HTTPLines.Iterator
            let endpointIndex: Int
            let token: Authenticator.Token?
        }

        private let watch: EtcdWatch
        private var state: WatchResumeState
        private var connection: Connection?
        private var delay: Duration = .zero
        /// Set once the watch has ended (an error, or cancellation): it does not start again.
        private var finished = false

        init(watch: EtcdWatch) {
            self.watch = watch
            state = WatchResumeState(startRevision: watch.startRevision, maxFailures: watch.options.maxReconnectAttempts,
                                     baseDelay: watch.options.reconnectBackoff, maxDelay: watch.options.maxReconnectBackoff)
        }

        /// The revision a reconnection would start at (nil before the watch was first established
        /// without a start revision).
        public var nextRevision: Int64? { state.nextRevision }

        public mutating func next() async throws(EtcdError) -> WatchResponse? {
            guard !finished else { return nil }
            do {
                return try await step()
            } catch {
                finished = true
                drop()
                throw error
            }
        }

        private mutating func step() async throws(EtcdError) -> WatchResponse? {
            while true {
                guard !Task.isCancelled else { return close() }
                guard let current = connection else {
                    if delay > .zero {
                        do { try await Task.sleep(for: delay) } catch { return close() }
                    }
                    delay = .zero
                    do {
                        connection = try await open()
                    } catch {
                        // Our own cancellation ends the watch; a member answering CANCELLED
                        // (it is stopping) is a failure to reconnect from.
                        if error.transport?.kind == .cancelled || Task.isCancelled { return close() }
                        let step = openFailure(error)
                        try await apply(step, endpointIndex: nil)
                    }
                    continue
                }
                var lines = current.lines
                let line: [UInt8]?
                do {
                    line = try await lines.next()
                } catch {
                    if error.kind == .cancelled || Task.isCancelled { return close() }
                    markFailed(current.endpointIndex)
                    let step = state.connectionLost(random: .random(in: 0..<1))
                    try await apply(step, endpointIndex: current.endpointIndex)
                    continue
                }
                guard let line else {
                    // The member ended the stream (it is shutting down): reconnect, elsewhere if possible.
                    markFailed(current.endpointIndex)
                    let step = state.connectionLost(random: .random(in: 0..<1))
                    try await apply(step, endpointIndex: current.endpointIndex)
                    continue
                }
                let message = try WatchCodec.message(line, endpoint: watch.client.endpoints[current.endpointIndex])
                if message.created { watch.client.pool.withLock { $0.succeeded(current.endpointIndex) } }
                let step = state.receive(message, random: .random(in: 0..<1))
                if let response = try await apply(step, endpointIndex: current.endpointIndex) {
                    return response
                }
            }
        }

        /// Carries out a step: the response to deliver, nil to go on, or the error that ends the watch.
        @discardableResult
        private mutating func apply(_ step: WatchResumeState.Step, endpointIndex: Int?) async throws(EtcdError) -> WatchResponse? {
            let endpoint = endpointIndex.map { watch.client.endpoints[$0] }
            switch step {
            case .deliver(let response):
                return response
            case .ignore:
                return nil
            case .reconnect(let after):
                drop()
                delay = after
                return nil
            case .reauthenticate:
                if let token = connection?.token { await watch.client.authenticator.invalidate(token) }
                drop()
                return nil
            case .compacted(let revision):
                drop()
                throw EtcdError(code: .compacted, message: "the watch's revision \(state.nextRevision ?? 0) has been compacted",
                                endpoint: endpoint, grpcCode: 11, compactRevision: revision)
            case .fail(let code, let message, let grpcCode):
                drop()
                throw EtcdError(code: code, message: message, endpoint: endpoint, grpcCode: grpcCode)
            }
        }

        private mutating func openFailure(_ error: EtcdError) -> WatchResumeState.Step {
            if error.code == .unauthenticated { return state.refusedToken(error.message, grpcCode: error.grpcCode) }
            guard error.blamesEndpoint else {
                return .fail(error.code, message: error.message, grpcCode: error.grpcCode)
            }
            return state.connectionLost(random: .random(in: 0..<1))
        }

        private mutating func open() async throws(EtcdError) -> Connection {
            let client = watch.client
            let token = try await client.currentToken()
            let index = client.pool.withLock { $0.attemptOrder(now: .now).first ?? 0 }
            let endpoint = client.endpoints[index]
            let body = WatchCodec.createRequest(watch.range, startRevision: state.nextRevision, options: watch.options)
            let request = client.request(endpoint: endpoint, path: "/v3/watch", body: body, token: token?.value, timeout: nil)
            let stream: HTTPStream
            do {
                stream = try await Self.openStream(client.streamHTTP, request, endpoint: endpoint,
                                                   headTimeout: client.configuration.requestTimeout)
            } catch {
                if error.blamesEndpoint { markFailed(index) }
                throw error
            }
            guard stream.status == 200 else {
                let body = (try? await stream.collect(limit: 4096)) ?? []
                let failure = GatewayCodec.failure(status: stream.status, body: body, endpoint: endpoint)
                if failure.code == .unauthenticated, let token { await client.authenticator.invalidate(token) }
                if failure.blamesEndpoint { markFailed(index) }
                throw failure
            }
            return Connection(stream: stream, lines: stream.lines.makeAsyncIterator(), endpointIndex: index, token: token)
        }

        /// Sends the watch request and waits for the response head, at most `headTimeout`: a
        /// member that accepted the connection but never answers (one that is starting, or
        /// hung) must not hold the watch forever. The stream itself has no time limit.
        private static func openStream(_ http: HTTPClient, _ request: HTTPRequest, endpoint: String,
                                       headTimeout: Duration) async throws(EtcdError) -> HTTPStream {
            enum Outcome: Sendable { case stream(HTTPStream), failed(HTTPError), timedOut }
            let outcome = await withTaskGroup(of: Outcome.self) { group in
                group.addTask {
                    do throws(HTTPError) { return .stream(try await http.stream(request)) } catch { return .failed(error) }
                }
                group.addTask {
                    do { try await Task.sleep(for: headTimeout) } catch { return .failed(HTTPError(kind: .cancelled, message: "cancelled", url: request.url)) }
                    return .timedOut
                }
                let first = await group.next() ?? .timedOut
                group.cancelAll()
                // A stream that arrived while the other child was being cancelled is dropped (and aborted) here.
                return first
            }
            switch outcome {
            case .stream(let stream): return stream
            case .failed(let error): throw EtcdError(transport: error, endpoint: endpoint)
            case .timedOut:
                throw EtcdError(code: .timeout, message: "the watch was not answered within \(headTimeout)", endpoint: endpoint)
            }
        }

        private func markFailed(_ index: Int) {
            watch.client.pool.withLock { $0.failed(index, now: .now, random: .random(in: 0..<1)) }
        }

        private mutating func drop() {
            connection?.stream.cancel()
            connection = nil
        }

        private mutating func close() -> WatchResponse? {
            finished = true
            drop()
            return nil
        }
    }
}
