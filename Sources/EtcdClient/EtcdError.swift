import HTTP

/// A failed etcd request: what went wrong (`code`), etcd's or libcurl's words, the endpoint that
/// answered (or did not), and the gRPC code and HTTP status when the gateway gave them.
public struct EtcdError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// No endpoint could be reached, or the member had no leader (gRPC Unavailable).
        case unavailable
        /// The request ran out of time (libcurl's timeout, or gRPC DeadlineExceeded). A write may
        /// or may not have been applied.
        case timeout
        /// The revision asked for has been compacted away; `compactRevision` says up to where
        /// when etcd told (watches). Read the current state and watch from its revision.
        case compacted
        /// The revision asked for is newer than the store's.
        case futureRevision
        /// The lease does not exist (never did, expired, or was revoked).
        case leaseNotFound
        /// Authentication is enabled and the request carried no valid token.
        case unauthenticated
        /// The user name or password was refused.
        case authenticationFailed
        /// The user may not do this to these keys.
        case permissionDenied
        /// etcd refused the request as malformed (gRPC InvalidArgument).
        case invalidArgument
        /// etcd refused the request in the current state (gRPC FailedPrecondition).
        case failedPrecondition
        /// Any other failure etcd reported.
        case server
        /// The answer was not what the gateway sends (not JSON, fields of the wrong type).
        case malformedResponse
        /// The client's configuration cannot work (no endpoints, a URL that is not http(s)).
        case invalidConfiguration
        /// A watch was ended by the server for a reason other than compaction.
        case watchCanceled
        /// The calling task was cancelled.
        case cancelled
        /// The client was shut down.
        case shutdown
    }

    public var code: Code
    public var message: String
    /// The endpoint the failure came from, when one is to blame.
    public var endpoint: String?
    /// The gRPC status code the gateway reported (3 InvalidArgument, 7 PermissionDenied,
    /// 11 OutOfRange, 14 Unavailable, 16 Unauthenticated, ...).
    public var grpcCode: Int?
    public var httpStatus: Int?
    /// For `.compacted` from a watch: the oldest revision still available.
    public var compactRevision: Int64?
    /// The transfer failure underneath, when libcurl reported one.
    public var transport: HTTPError?

    public init(code: Code, message: String, endpoint: String? = nil, grpcCode: Int? = nil, httpStatus: Int? = nil,
                compactRevision: Int64? = nil, transport: HTTPError? = nil) {
        self.code = code
        self.message = message
        self.endpoint = endpoint
        self.grpcCode = grpcCode
        self.httpStatus = httpStatus
        self.compactRevision = compactRevision
        self.transport = transport
    }

    public var description: String {
        var text = "etcd \(code.rawValue): \(message)"
        if let endpoint { text += " (endpoint \(endpoint)" + (grpcCode.map { ", gRPC code \($0)" } ?? "") + ")" }
        if let compactRevision { text += " [compacted up to revision \(compactRevision)]" }
        return text
    }

    /// A transfer that produced no response.
    init(transport error: HTTPError, endpoint: String) {
        let code: Code = switch error.kind {
        case .cancelled: .cancelled
        case .shutdown: .shutdown
        case .transport where error.isTimeout: .timeout
        case .transport, .setup: .unavailable
        }
        self.init(code: code, message: error.message, endpoint: endpoint, transport: error)
    }

    /// An error reported by etcd, from its gRPC status (code and description).
    init(grpcCode: Int, message: String, endpoint: String?, httpStatus: Int?) {
        self.init(code: Self.classify(grpcCode: grpcCode, message: message), message: message, endpoint: endpoint,
                  grpcCode: grpcCode, httpStatus: httpStatus)
    }

    static func classify(grpcCode: Int, message: String) -> Code {
        // etcd's descriptions are stable (rpctypes); several codes share a gRPC code.
        if message.contains("required revision has been compacted") { return .compacted }
        if message.contains("required revision is a future revision") { return .futureRevision }
        if message.contains("requested lease not found") { return .leaseNotFound }
        if message.contains("authentication failed") { return .authenticationFailed }
        if message.contains("invalid auth token") || message.contains("user name is empty") { return .unauthenticated }
        switch grpcCode {
        case 1: return .cancelled
        case 3: return .invalidArgument
        case 4: return .timeout
        case 5: return .server
        case 7: return .permissionDenied
        case 9: return .failedPrecondition
        case 14: return .unavailable
        case 16: return .unauthenticated
        default: return .server
        }
    }

    /// Nothing reached etcd: the request may go to another endpoint whatever it was.
    var nothingWasSent: Bool { transport?.isConnectFailure ?? false }

    /// The endpoint is not serving (unreachable, timed out, no leader): others are tried first
    /// until its backoff ends.
    var blamesEndpoint: Bool {
        switch code {
        case .unavailable, .timeout: endpoint != nil
        default: false
        }
    }

    /// Whether the same request may be sent to another endpoint. Reads can always be repeated;
    /// a write only when it provably never left the client, as etcd's own client decides.
    func allowsRetry(idempotent: Bool) -> Bool {
        if nothingWasSent { return true }
        return idempotent && blamesEndpoint
    }
}
