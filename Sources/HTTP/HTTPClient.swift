/// An HTTP client on libcurl's multi interface.
///
/// One thread drives all transfers; connections are kept alive and reused across requests, and
/// HTTP/2 is negotiated over TLS so concurrent requests (and long watches) share one connection.
/// Call `shutdown()` when done; dropping the last reference (streams hold one) also stops the
/// thread.
public final class HTTPClient: Sendable {
    let loop: CurlLoop

    public init() throws(HTTPError) {
        loop = try CurlLoop()
    }

    /// For the race tests: a client whose loop runs `hooks` at the racy points.
    init(hooks: CurlLoop.Hooks) throws(HTTPError) {
        loop = try CurlLoop(hooks: hooks)
    }

    deinit { loop.shutdown(wait: false) }

    /// Stops the client; transfers still running fail with `HTTPError.Kind.shutdown`.
    public func shutdown() { loop.shutdown() }

    /// Sends a request and collects the whole response. Non-2xx statuses are responses, not
    /// errors; errors are transfers that produced no response. Cancelling the task aborts it.
    public func execute(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        let transfer = try Transfer(request, mode: .buffered)
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<HTTPResponse, any Error>) in
                    submit(transfer, resumeCancelled: { waiter.resume(throwing: $0) }) { $0.responseWaiter = waiter }
                }
            } onCancel: {
                cancel(transfer)
            }
        } catch let error as HTTPError {
            throw error
        } catch {
            throw HTTPError(kind: .transport, message: "\(error)", url: request.url)
        }
    }

    /// Sends a request and returns once the response head has arrived; the body is read as
    /// lines from `HTTPStream.lines`. libcurl is paused while unread lines pile up (about 1 MiB),
    /// so a slow reader holds the server back instead of filling memory. Cancelling the reading
    /// task, or dropping the stream, aborts the transfer and frees its handle.
    public func stream(_ request: HTTPRequest) async throws(HTTPError) -> HTTPStream {
        let transfer = try Transfer(request, mode: .streaming)
        let owner = StreamOwner(transfer: transfer, client: self)
        do {
            let head = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Transfer.Head, any Error>) in
                    submit(transfer, resumeCancelled: { waiter.resume(throwing: $0) }) { $0.headWaiter = waiter }
                }
            } onCancel: {
                cancel(transfer)
            }
            return HTTPStream(status: head.status, headers: head.headers, version: head.version, owner: owner)
        } catch let error as HTTPError {
            throw error
        } catch {
            throw HTTPError(kind: .transport, message: "\(error)", url: request.url)
        }
    }

    /// Parks the waiter, then hands the transfer to the loop. If the task was cancelled first
    /// (its cancellation handler already ran and found no waiter), the waiter is resumed here:
    /// `complete` only resumes waiters that were parked. A cancel that lands after parking
    /// resumes the waiter itself; the loop then sees the mark and never starts the transfer.
    private func submit(_ transfer: Transfer, resumeCancelled: (HTTPError) -> Void, park: (inout Transfer.State) -> Void) {
        let cancelled = transfer.state.withLock { s in
            if !s.cancelled { park(&s) }
            return s.cancelled
        }
        if cancelled {
            let error = HTTPError(kind: .cancelled, message: "cancelled", url: transfer.url)
            transfer.complete(code: nil, failure: error)
            resumeCancelled(error)
            return
        }
        loop.hooks.beforeAdd?()
        if !loop.send(.add(transfer)) {
            transfer.complete(code: nil, failure: HTTPError(kind: .shutdown, message: "HTTP client shut down", url: transfer.url))
        }
    }

    private func cancel(_ transfer: Transfer) {
        if transfer.markCancelled() { loop.send(.remove(transfer)) }
    }
}

/// Keeps a streaming transfer alive while anything can still read it; aborts it when the last
/// copy of the stream, its line sequence and their iterators is gone. It also keeps the client
/// alive: a stream outlives the last other reference to its client.
final class StreamOwner: Sendable {
    let transfer: Transfer
    let client: HTTPClient
    var loop: CurlLoop { client.loop }

    init(transfer: Transfer, client: HTTPClient) {
        self.transfer = transfer
        self.client = client
    }

    func cancel() {
        if transfer.markCancelled() { loop.send(.remove(transfer)) }
    }

    deinit { cancel() }
}

/// A response whose body is read as it arrives.
public struct HTTPStream: Sendable {
    public let status: Int
    public let headers: HTTPHeaders
    public let version: HTTPVersion
    let owner: StreamOwner

    init(status: Int, headers: HTTPHeaders, version: HTTPVersion, owner: StreamOwner) {
        self.status = status
        self.headers = headers
        self.version = version
        self.owner = owner
    }

    /// The body, one line at a time (without the line end; empty lines skipped).
    public var lines: HTTPLines { HTTPLines(owner: owner) }

    /// Reads the rest of the body (lines joined by `\n`), up to `limit` bytes: for error bodies.
    public func collect(limit: Int = 1 << 20) async throws(HTTPError) -> [UInt8] {
        var body: [UInt8] = []
        var iterator = lines.makeAsyncIterator()
        while let line = try await iterator.next(), body.count < limit {
            if !body.isEmpty { body.append(UInt8(ascii: "\n")) }
            body.append(contentsOf: line.prefix(limit - body.count))
        }
        return body
    }

    /// Aborts the transfer now.
    public func cancel() { owner.cancel() }
}

/// The lines of a streamed body.
public struct HTTPLines: AsyncSequence, Sendable {
    public typealias Element = [UInt8]
    let owner: StreamOwner

    public func makeAsyncIterator() -> Iterator { Iterator(owner: owner) }

    public struct Iterator: AsyncIteratorProtocol {
        let owner: StreamOwner

        public mutating func next() async throws(HTTPError) -> [UInt8]? {
            let transfer = owner.transfer
            switch transfer.takeLine(orPark: nil) {
            case .line(let line, let unpause):
                if unpause { owner.loop.send(.unpause(transfer)) }
                return line
            case .end: return nil
            case .failed(let error): throw error
            case .wait: break
            }
            let owner = self.owner
            do {
                return try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<[UInt8]?, any Error>) in
                        switch transfer.takeLine(orPark: waiter) {
                        case .line(let line, let unpause):
                            if unpause { owner.loop.send(.unpause(transfer)) }
                            waiter.resume(returning: line)
                        case .end: waiter.resume(returning: nil)
                        case .failed(let error): waiter.resume(throwing: error)
                        case .wait: break
                        }
                    }
                } onCancel: {
                    owner.cancel()
                }
            } catch let error as HTTPError {
                throw error
            } catch {
                throw HTTPError(kind: .transport, message: "\(error)", url: transfer.url)
            }
        }
    }
}
