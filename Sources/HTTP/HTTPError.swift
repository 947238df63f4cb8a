/// A transfer that did not produce a response. Carries libcurl's code and its own words.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// libcurl reported a failure; `curlCode` says which.
        case transport
        /// The request's task was cancelled, or its stream was dropped.
        case cancelled
        /// The client was shut down before the transfer finished.
        case shutdown
        /// libcurl refused an option while the request was being set up.
        case setup
    }

    public var kind: Kind
    /// The `CURLcode` (or `CURLMcode` for multi-level failures); 0 when not from libcurl.
    public var curlCode: Int32
    /// libcurl's error-buffer text when it wrote one, else `curl_easy_strerror`.
    public var message: String
    public var url: String

    public init(kind: Kind, curlCode: Int32 = 0, message: String, url: String) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
        self.url = url
    }

    /// CURLE_OPERATION_TIMEDOUT.
    public var isTimeout: Bool { kind == .transport && curlCode == 28 }
    /// The server was never reached (DNS, refused connection, TLS handshake): nothing was sent.
    public var isConnectFailure: Bool {
        // CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT
        kind == .transport && [5, 6, 7].contains(curlCode)
    }
    /// Certificate or handshake failures (CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION,
    /// CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE).
    public var isTLSFailure: Bool { kind == .transport && [35, 60, 58, 59, 77].contains(curlCode) }

    public var description: String {
        switch kind {
        case .transport, .setup: "\(url): \(message) (CURLcode \(curlCode))"
        case .cancelled: "\(url): cancelled"
        case .shutdown: "\(url): HTTP client shut down"
        }
    }
}
