import HTTP

/// Where etcd is and how to talk to it.
public struct EtcdConfiguration: Sendable {
    /// A user name and password for etcd's auth (`/v3/auth/authenticate`).
    public struct Credentials: Sendable, Equatable {
        public var username: String
        public var password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    /// Client URLs of the members, e.g. `https://10.0.0.1:2379`; requests fail over between them.
    public var endpoints: [String]
    /// CA to verify the members with, and the client certificate and key to present. Used for
    /// `https` endpoints.
    public var tls: TLSConfiguration?
    public var credentials: Credentials?
    /// Limit for one unary request on one endpoint.
    public var requestTimeout: Duration
    public var connectTimeout: Duration
    /// How long a failed endpoint is skipped: doubling from `endpointBackoff` up to
    /// `maxEndpointBackoff`.
    public var endpointBackoff: Duration
    public var maxEndpointBackoff: Duration

    public init(endpoints: [String], tls: TLSConfiguration? = nil, credentials: Credentials? = nil,
                requestTimeout: Duration = .seconds(10), connectTimeout: Duration = .seconds(2),
                endpointBackoff: Duration = .milliseconds(200), maxEndpointBackoff: Duration = .seconds(10)) {
        self.endpoints = endpoints
        self.tls = tls
        self.credentials = credentials
        self.requestTimeout = requestTimeout
        self.connectTimeout = connectTimeout
        self.endpointBackoff = endpointBackoff
        self.maxEndpointBackoff = maxEndpointBackoff
    }

    /// Endpoints from a comma-separated list (`--etcd-endpoints`).
    public init(endpointList: String, tls: TLSConfiguration? = nil, credentials: Credentials? = nil) {
        self.init(endpoints: endpointList.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty },
                  tls: tls, credentials: credentials)
    }

    /// The endpoints without trailing slashes; an error naming the first that is not an
    /// `http://` or `https://` URL with a host.
    func validatedEndpoints() throws(EtcdError) -> [String] {
        guard !endpoints.isEmpty else {
            throw EtcdError(code: .invalidConfiguration, message: "no etcd endpoints given")
        }
        return try endpoints.map { (raw) throws(EtcdError) -> String in
            var url = raw.trimmed
            while url.hasSuffix("/") { url.removeLast() }
            let scheme = url.hasPrefix("https://") ? "https://" : url.hasPrefix("http://") ? "http://" : nil
            guard let scheme, url.count > scheme.count, !url.dropFirst(scheme.count).contains("/") else {
                throw EtcdError(code: .invalidConfiguration,
                                message: "etcd endpoint \"\(raw)\" is not a URL like http://127.0.0.1:2379 or https://etcd:2379")
            }
            return url
        }
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}
