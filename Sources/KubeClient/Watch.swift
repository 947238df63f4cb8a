import HTTP
import YAML

/// One change seen by a watch.
public struct WatchEvent: Sendable, Equatable {
    public enum EventType: String, Sendable, Equatable {
        case added = "ADDED", modified = "MODIFIED", deleted = "DELETED", bookmark = "BOOKMARK", error = "ERROR"
    }

    public var type: EventType
    /// The object (for BOOKMARK, only its kind, apiVersion and metadata.resourceVersion).
    public var object: JSON
    /// For ERROR events: the Status the server sent (e.g. 410 Expired: relist).
    public var status: Status?

    public var resourceVersion: String? { object[path: "metadata", "resourceVersion"]?.stringValue }

    /// Decodes the object as a typed value.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T { try object.decode(T.self) }

    /// Reads one line of a watch stream.
    public static func decode(line: [UInt8]) throws(KubeError) -> WatchEvent {
        let value: JSON
        do { value = try JSON.parse(line) } catch {
            throw KubeError(code: .decoding, message: "watch event is not JSON: \(error)")
        }
        guard let typeName = value["type"]?.stringValue, let type = EventType(rawValue: typeName) else {
            throw KubeError(code: .decoding, message: "watch event has an unknown type: \(value["type"]?.jsonText ?? "none")")
        }
        let object = value["object"] ?? .null
        var status: Status?
        if type == .error { status = try? object.decode(Status.self) }
        return WatchEvent(type: type, object: object, status: status)
    }
}

/// The events of one watch request, in order, until the server ends it (timeoutSeconds), the
/// connection drops (an error), or the reader stops (the transfer is aborted).
public struct WatchStream: AsyncSequence, Sendable {
    public typealias Element = WatchEvent
    let stream: HTTPStream
    let url: String
    /// Objects are cut down to their metadata (a metadata-only client's watch).
    var metadataOnly = false

    public func makeAsyncIterator() -> Iterator { Iterator(lines: stream.lines.makeAsyncIterator(), url: url, metadataOnly: metadataOnly) }

    /// Stops the watch now.
    public func cancel() { stream.cancel() }

    public struct Iterator: AsyncIteratorProtocol {
        var lines: HTTPLines.Iterator
        let url: String
        let metadataOnly: Bool

        public mutating func next() async throws(KubeError) -> WatchEvent? {
            do {
                guard let line = try await lines.next() else { return nil }
                var event = try WatchEvent.decode(line: line)
                if metadataOnly, event.type != .error { event.object = KubeClient.partialObjectMetadata(event.object) }
                return event
            } catch let error as KubeError {
                throw error
            } catch let error as HTTPError {
                throw KubeError(code: .transport, message: error.message,
                                transport: HTTPErrorInfo(curlCode: error.curlCode, message: error.message), verb: "watch", url: url)
            } catch {
                throw KubeError(code: .transport, message: "\(error)", verb: "watch", url: url)
            }
        }
    }
}

extension KubeClient {
    /// Opens a watch. Returns once the server accepted it; an error status at the start (e.g.
    /// 410 for a too-old resourceVersion) throws with the server's `Status`. Retries like other
    /// GETs while opening.
    public func watch(_ resource: GroupVersionResource, namespace: String? = nil,
                      options: WatchOptions = WatchOptions()) async throws(KubeError) -> WatchStream {
        let path = resource.path(namespace: namespace)
        // No overall timeout: the server ends the watch (timeoutSeconds) or the reader does.
        let request = makeRequest(.get, path, query: options.query, body: nil, contentType: "", accept: accept("watch"), timeout: nil)
        let metadataOnly = readsMetadataOnly
        return try await retrying("watch", request, path: path) { (request) async throws(HTTPError) -> Attempt<WatchStream> in
            let stream = try await self.http.stream(request)
            if (200..<300).contains(stream.status) {
                return .done(WatchStream(stream: stream, url: request.url, metadataOnly: metadataOnly), status: stream.status)
            }
            let body = (try? await stream.collect()) ?? []
            return .failed(status: stream.status, retryAfter: stream.headers["Retry-After"], body: body)
        }
    }
}
