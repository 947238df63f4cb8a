/// An HTTP method, spelled as it goes on the wire.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let get = HTTPMethod(rawValue: "GET")
    public static let head = HTTPMethod(rawValue: "HEAD")
    public static let post = HTTPMethod(rawValue: "POST")
    public static let put = HTTPMethod(rawValue: "PUT")
    public static let patch = HTTPMethod(rawValue: "PATCH")
    public static let delete = HTTPMethod(rawValue: "DELETE")

    /// Methods that may be sent again after a failure without changing the outcome (RFC 9110 §9.2.2).
    public var isIdempotent: Bool { [.get, .head, .put, .delete].contains(self) }
    public var description: String { rawValue }
}

/// Header fields in order; lookups ignore case, as HTTP does.
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [(name: String, value: String)] = []

    public init() {}
    public init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { (name: $0.0, value: $0.1) }
    }

    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    /// Replaces every field called `name` with one field holding `value`.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        fields.append((name, value))
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { $0.name.caseInsensitiveEquals(name) }
    }

    /// The first value of the field called `name`.
    public subscript(name: String) -> String? {
        fields.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        utf8.count == other.utf8.count && lowercased() == other.lowercased()
    }
}

/// Where TLS material comes from: bytes held in memory (kubeconfig `*-data` fields) or a file path.
public enum TLSMaterial: Sendable, Equatable {
    case pem([UInt8])
    case file(String)
}

/// How a request verifies the server and proves who the client is.
public struct TLSConfiguration: Sendable, Equatable {
    /// Certificate authorities to trust; `nil` uses the system's.
    public var certificateAuthority: TLSMaterial?
    public var clientCertificate: TLSMaterial?
    public var clientKey: TLSMaterial?
    /// Skips verification of the server's certificate and name. Only ever set from an explicit
    /// `insecure-skip-tls-verify` in a kubeconfig.
    public var insecureSkipVerify: Bool

    public init(
        certificateAuthority: TLSMaterial? = nil, clientCertificate: TLSMaterial? = nil,
        clientKey: TLSMaterial? = nil, insecureSkipVerify: Bool = false
    ) {
        self.certificateAuthority = certificateAuthority
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.insecureSkipVerify = insecureSkipVerify
    }
}

/// One request: method, absolute URL, headers, optional body, limits.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    public var url: String
    public var headers: HTTPHeaders
    public var body: [UInt8]?
    /// Limit for the whole exchange; `nil` means none (watches run for as long as they are read).
    public var timeout: Duration?
    public var connectTimeout: Duration
    public var tls: TLSConfiguration?

    public init(
        method: HTTPMethod = .get, url: String, headers: HTTPHeaders = [:], body: [UInt8]? = nil,
        timeout: Duration? = .seconds(30), connectTimeout: Duration = .seconds(10),
        tls: TLSConfiguration? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.tls = tls
    }

    /// Adds `Authorization: Bearer <token>`.
    public mutating func setBearerToken(_ token: String) {
        headers.set("Authorization", "Bearer \(token)")
    }
}

/// The protocol version a response came over.
public enum HTTPVersion: Sendable, Equatable {
    case http1_0, http1_1, http2, other(Int)
}

/// A complete response.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    public var version: HTTPVersion
    /// New connections libcurl opened for this exchange (0 when it reused one).
    public var newConnections: Int

    public init(status: Int, headers: HTTPHeaders, body: [UInt8], version: HTTPVersion = .http1_1, newConnections: Int = 0) {
        self.status = status
        self.headers = headers
        self.body = body
        self.version = version
        self.newConnections = newConnections
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}
