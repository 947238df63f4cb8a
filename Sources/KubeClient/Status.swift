import YAML

/// The API server's `metav1.Status`, kept whole: what failed, why, and which fields.
public struct Status: Codable, Sendable, Equatable, Error {
    public struct Cause: Codable, Sendable, Equatable {
        public var reason: String?
        public var message: String?
        public var field: String?
        public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
            self.reason = reason
            self.message = message
            self.field = field
        }
    }

    public struct Details: Codable, Sendable, Equatable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var uid: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?
        public init(name: String? = nil, group: String? = nil, kind: String? = nil, uid: String? = nil,
                    causes: [Cause]? = nil, retryAfterSeconds: Int? = nil) {
            self.name = name
            self.group = group
            self.kind = kind
            self.uid = uid
            self.causes = causes
            self.retryAfterSeconds = retryAfterSeconds
        }
    }

    public var kind: String? = "Status"
    public var apiVersion: String? = "v1"
    /// "Success" or "Failure".
    public var status: String?
    public var message: String?
    /// CamelCase machine reason: NotFound, AlreadyExists, Conflict, Invalid, Expired, Gone, ...
    public var reason: String?
    public var details: Details?
    public var code: Int?

    public init(status: String? = "Failure", message: String? = nil, reason: String? = nil,
                details: Details? = nil, code: Int? = nil) {
        self.status = status
        self.message = message
        self.reason = reason
        self.details = details
        self.code = code
    }

    /// Reads a Status from a response body, if that is what it holds.
    static func decode(_ body: [UInt8]) -> Status? {
        guard let value = try? JSON.parse(body), value["kind"]?.stringValue == "Status" else { return nil }
        return try? value.decode(Status.self)
    }
}

/// Why a request to the API failed.
public struct KubeError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// The server answered with an error status; `status` says what.
        case api
        /// No answer: connection, TLS or timeout (`transport` holds libcurl's error).
        case transport
        /// An answer that could not be read as the expected type.
        case decoding
        /// The kubeconfig or in-cluster environment is unusable.
        case configuration
        /// The client's write gate refused the write; nothing was sent.
        case refused
    }

    public var code: Code
    public var message: String
    /// The API's `Status`, for `.api` errors (synthesised when the body held none).
    public var status: Status?
    public var transport: HTTPErrorInfo?
    public var verb: String
    public var url: String

    public init(code: Code, message: String, status: Status? = nil, transport: HTTPErrorInfo? = nil, verb: String = "", url: String = "") {
        self.code = code
        self.message = message
        self.status = status
        self.transport = transport
        self.verb = verb
        self.url = url
    }

    public var httpStatus: Int? { status?.code }
    public var reason: String? { status?.reason }
    public var causes: [Status.Cause] { status?.details?.causes ?? [] }
    public var isNotFound: Bool { httpStatus == 404 }
    public var isConflict: Bool { httpStatus == 409 && reason != "AlreadyExists" }
    public var isAlreadyExists: Bool { reason == "AlreadyExists" }
    /// The requested resourceVersion is older than the server keeps (watch or list): relist.
    public var isGone: Bool { httpStatus == 410 || reason == "Expired" || reason == "Gone" }
    public var isInvalid: Bool { httpStatus == 422 || reason == "Invalid" }

    public var description: String {
        let target = url.isEmpty ? "" : " \(url)"
        switch code {
        case .api: return "\(verb)\(target): \(httpStatus.map(String.init) ?? "?") \(reason ?? ""): \(message)"
        default: return "\(verb)\(target): \(message)"
        }
    }
}

/// libcurl's account of a transport failure, without exposing the HTTP module's types.
public struct HTTPErrorInfo: Sendable, Equatable {
    public var curlCode: Int32
    public var message: String
}
