/// One message of a watch stream, as the gateway sends it (`{"result": {...}}` or `{"error": {...}}`).
struct WatchMessage: Sendable, Equatable {
    var header = ResponseHeader()
    var created = false
    var canceled = false
    var cancelReason = ""
    var compactRevision: Int64 = 0
    var events: [WatchEvent] = []
    /// A stream-level error: gRPC code and message.
    var failure: Failure?

    struct Failure: Sendable, Equatable {
        var grpcCode: Int
        var message: String
    }
}

/// The decisions of a resuming watch: from which revision to (re)connect, what to hand to the
/// consumer, when to reconnect and when to give up.
///
/// - The first connection starts at the requested revision, or at the store's current one; every
///   reconnection starts right after the last revision delivered (the last event's mod revision,
///   or the revision of a progress notification), so nothing is lost or seen twice.
/// - A compaction past that revision ends the watch with the compact revision: the consumer
///   relists and watches from the list's revision.
/// - A refused token asks for a new one (once per connection); other cancellations end the watch.
/// - Lost connections are retried at once (another endpoint is likely fine), then after an
///   exponential backoff with jitter; after `maxFailures` consecutive failures the watch ends.
/// Pure: randomness is passed in.
struct WatchResumeState: Sendable, Equatable {
    enum Step: Sendable, Equatable {
        /// Hand this response to the consumer.
        case deliver(WatchResponse)
        /// Nothing for the consumer (the `created` message, or events already delivered).
        case ignore
        /// The watch is over: history before `revision` is gone.
        case compacted(revision: Int64)
        /// The token was refused: fetch another and reconnect now.
        case reauthenticate
        /// The connection is gone: connect again (to the best endpoint) after the delay.
        case reconnect(after: Duration)
        /// The watch is over.
        case fail(EtcdError.Code, message: String, grpcCode: Int?)
    }

    /// The revision the next connection starts at; nil for "the current one".
    private(set) var nextRevision: Int64?
    /// Consecutive connections lost without one getting established.
    private(set) var failures = 0
    private(set) var reauthentications = 0
    let maxFailures: Int
    let baseDelay: Duration
    let maxDelay: Duration

    init(startRevision: Int64?, maxFailures: Int = 10, baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(5)) {
        nextRevision = startRevision.flatMap { $0 > 0 ? $0 : nil }
        self.maxFailures = maxFailures
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    mutating func receive(_ message: WatchMessage, random: Double) -> Step {
        if let failure = message.failure {
            switch EtcdError.classify(grpcCode: failure.grpcCode, message: failure.message) {
            case .unauthenticated: return refusedToken(failure.message, grpcCode: failure.grpcCode)
            case .unavailable, .timeout: return connectionLost(random: random)
            case let code: return .fail(code, message: failure.message, grpcCode: failure.grpcCode)
            }
        }
        if message.canceled {
            if message.compactRevision > 0 { return .compacted(revision: message.compactRevision) }
            return canceled(reason: message.cancelReason)
        }
        if message.created {
            failures = 0
            reauthentications = 0
            if nextRevision == nil { nextRevision = message.header.revision + 1 }
            return .ignore
        }
        if message.events.isEmpty {
            let revision = message.header.revision
            nextRevision = max(nextRevision ?? 0, revision + 1)
            return .deliver(WatchResponse(header: message.header, events: [], isProgressNotification: true))
        }
        let fresh = message.events.filter { $0.kv.modRevision >= (nextRevision ?? 0) }
        guard let last = fresh.last else { return .ignore }
        nextRevision = last.kv.modRevision + 1
        return .deliver(WatchResponse(header: message.header, events: fresh, isProgressNotification: false))
    }

    /// The stream ended or failed, or the connection could not be opened.
    mutating func connectionLost(random: Double) -> Step {
        failures += 1
        guard failures <= maxFailures else {
            return .fail(.unavailable, message: "the watch lost its connection \(failures) times in a row", grpcCode: nil)
        }
        guard failures > 1 else { return .reconnect(after: .zero) }
        let doubling = baseDelay * (1 << min(failures - 2, 20))
        return .reconnect(after: min(doubling, maxDelay) * (0.5 + min(max(random, 0), 1) / 2))
    }

    /// The server refused the token (when opening or in the stream).
    mutating func refusedToken(_ message: String, grpcCode: Int?) -> Step {
        reauthentications += 1
        guard reauthentications <= 1 else { return .fail(.unauthenticated, message: message, grpcCode: grpcCode) }
        return .reauthenticate
    }

    /// `cancel_reason` reads like "rpc error: code = PermissionDenied desc = etcdserver: permission denied".
    private mutating func canceled(reason: String) -> Step {
        let grpcCode = Self.grpcCode(in: reason)
        let code = EtcdError.classify(grpcCode: grpcCode ?? 2, message: reason)
        switch code {
        case .unauthenticated: return refusedToken(reason, grpcCode: grpcCode)
        case .permissionDenied, .invalidArgument, .futureRevision, .compacted: return .fail(code, message: reason, grpcCode: grpcCode)
        default: return .fail(.watchCanceled, message: reason.isEmpty ? "the server canceled the watch" : reason, grpcCode: grpcCode)
        }
    }

    static let grpcCodeNames = [
        "Canceled": 1, "Unknown": 2, "InvalidArgument": 3, "DeadlineExceeded": 4, "NotFound": 5, "AlreadyExists": 6,
        "PermissionDenied": 7, "ResourceExhausted": 8, "FailedPrecondition": 9, "Aborted": 10, "OutOfRange": 11,
        "Unimplemented": 12, "Internal": 13, "Unavailable": 14, "DataLoss": 15, "Unauthenticated": 16,
    ]

    static func grpcCode(in reason: String) -> Int? {
        guard let marker = reason.firstRange(of: "code = ") else { return nil }
        let name = reason[marker.upperBound...].prefix { $0.isLetter }
        return grpcCodeNames[String(name)]
    }
}
