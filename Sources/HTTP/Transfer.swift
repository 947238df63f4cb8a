internal import CCurl
internal import CCurlShim
import Synchronization

/// One request in flight: the libcurl easy handle (owned by the loop thread once submitted) and
/// the state shared with the task waiting for it.
///
/// `@unchecked Sendable`: `easy`, `headerList` and `errorBuffer` are set up by the submitting
/// thread before the transfer is handed to the loop and touched only by the loop thread after
/// that; everything the two sides share lives in `state`, behind its `Mutex`.
final class Transfer: @unchecked Sendable {
    enum Mode { case buffered, streaming }

    struct Head: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var version: HTTPVersion
    }

    struct State {
        var status = 0
        var headers = HTTPHeaders()
        var headDelivered = false
        var body: [UInt8] = []
        var cancelled = false
        /// Set once libcurl is done with the transfer (or it was aborted).
        var outcome: Result<Void, HTTPError>?
        var responseWaiter: CheckedContinuation<HTTPResponse, any Error>?
        var headWaiter: CheckedContinuation<Head, any Error>?
        var lineWaiter: CheckedContinuation<[UInt8]?, any Error>?
        var lines = LineFramer()
        var paused = false
    }

    /// Bytes of complete lines queued before libcurl is paused, and below which it resumes.
    static let highWater = 1 << 20
    static let lowWater = 1 << 18

    let url: String
    let mode: Mode
    let state = Mutex(State())
    private(set) var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init(_ request: HTTPRequest, mode: Mode) throws(HTTPError) {
        self.url = request.url
        self.mode = mode
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        guard let handle = curl_easy_init() else {
            throw HTTPError(kind: .setup, message: "curl_easy_init failed", url: request.url)
        }
        easy = handle
        try configure(request)
    }

    deinit {
        release()
        errorBuffer.deallocate()
    }

    /// Frees the easy handle and header list. Loop thread, or the submitter before submission.
    func release() {
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
    }

    private func configure(_ request: HTTPRequest) throws(HTTPError) {
        guard let easy else { return }
        let me = Unmanaged.passUnretained(self).toOpaque()
        try check(request.url.withCString { lucid_curl_easy_setopt_pointer(easy, CURLOPT_URL, $0) }, "CURLOPT_URL")
        try check(lucid_curl_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1), "CURLOPT_NOSIGNAL")
        try check(lucid_curl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), "CURLOPT_ERRORBUFFER")
        try check(lucid_curl_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION, transferWriteCallback), "CURLOPT_WRITEFUNCTION")
        try check(lucid_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, me), "CURLOPT_WRITEDATA")
        try check(lucid_curl_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION, transferHeaderCallback), "CURLOPT_HEADERFUNCTION")
        try check(lucid_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, me), "CURLOPT_HEADERDATA")
        // HTTP/2 where TLS negotiates it; there, wait for a multiplexed connection rather than
        // open another. Never on plain HTTP (HTTP/1.1): a second request would wait behind a
        // long-running one (a watch) on the same host for as long as that one runs.
        try check(lucid_curl_easy_setopt_long(easy, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS), "CURLOPT_HTTP_VERSION")
        if request.url.hasPrefix("https://") {
            try check(lucid_curl_easy_setopt_long(easy, CURLOPT_PIPEWAIT, 1), "CURLOPT_PIPEWAIT")
        }
        try check(lucid_curl_easy_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1), "CURLOPT_TCP_KEEPALIVE")
        try check(lucid_curl_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeout.milliseconds), "CURLOPT_CONNECTTIMEOUT_MS")
        if let timeout = request.timeout {
            try check(lucid_curl_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeout.milliseconds), "CURLOPT_TIMEOUT_MS")
        }

        switch request.method {
        case .get where request.body == nil:
            try check(lucid_curl_easy_setopt_long(easy, CURLOPT_HTTPGET, 1), "CURLOPT_HTTPGET")
        case .head:
            try check(lucid_curl_easy_setopt_long(easy, CURLOPT_NOBODY, 1), "CURLOPT_NOBODY")
        default:
            if let body = request.body ?? (request.method == .post ? [] : nil) {
                try check(lucid_curl_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)), "CURLOPT_POSTFIELDSIZE_LARGE")
                try check(body.withUnsafeBytes { lucid_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)) }, "CURLOPT_COPYPOSTFIELDS")
            }
            try check(request.method.rawValue.withCString { lucid_curl_easy_setopt_pointer(easy, CURLOPT_CUSTOMREQUEST, $0) }, "CURLOPT_CUSTOMREQUEST")
        }

        var list: UnsafeMutablePointer<curl_slist>?
        // An empty `Expect:` stops libcurl from waiting for `100 Continue` on larger bodies.
        for line in request.headers.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
            guard let appended = curl_slist_append(list, line) else {
                if let list { curl_slist_free_all(list) }
                throw HTTPError(kind: .setup, message: "curl_slist_append failed", url: url)
            }
            list = appended
        }
        headerList = list
        try check(lucid_curl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, list), "CURLOPT_HTTPHEADER")

        if let tls = request.tls { try configureTLS(tls) }
    }

    private func configureTLS(_ tls: TLSConfiguration) throws(HTTPError) {
        guard let easy else { return }
        func material(_ m: TLSMaterial?, blob: CURLoption, file: CURLoption, _ name: String) throws(HTTPError) {
            switch m {
            case .pem(let bytes)?:
                try check(bytes.withUnsafeBytes { lucid_curl_easy_setopt_blob(easy, blob, $0.baseAddress, $0.count) }, name + "_BLOB")
            case .file(let path)?:
                try check(path.withCString { lucid_curl_easy_setopt_pointer(easy, file, $0) }, name)
            case nil: break
            }
        }
        try material(tls.certificateAuthority, blob: CURLOPT_CAINFO_BLOB, file: CURLOPT_CAINFO, "CURLOPT_CAINFO")
        try material(tls.clientCertificate, blob: CURLOPT_SSLCERT_BLOB, file: CURLOPT_SSLCERT, "CURLOPT_SSLCERT")
        try material(tls.clientKey, blob: CURLOPT_SSLKEY_BLOB, file: CURLOPT_SSLKEY, "CURLOPT_SSLKEY")
        if tls.insecureSkipVerify {
            try check(lucid_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 0), "CURLOPT_SSL_VERIFYPEER")
            try check(lucid_curl_easy_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 0), "CURLOPT_SSL_VERIFYHOST")
        }
    }

    private func check(_ code: CURLcode, _ option: String) throws(HTTPError) {
        guard code != CURLE_OK else { return }
        throw HTTPError(kind: .setup, curlCode: Int32(code.rawValue),
                        message: "\(option): \(String(cString: curl_easy_strerror(code)))", url: url)
    }

    // MARK: libcurl callbacks (loop thread)

    func receiveHeader(_ bytes: UnsafeRawBufferPointer) -> Int {
        let line = String(decoding: bytes, as: UTF8.self).trimmingLineEnd()
        let head: (CheckedContinuation<Head, any Error>, Head)? = state.withLock { s in
            if line.hasPrefix("HTTP/") {
                // A new status line starts a new header block (after 1xx or a redirect).
                let parts = line.split(separator: " ", maxSplits: 2)
                s.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
                s.headers = HTTPHeaders()
            } else if line.isEmpty {
                guard mode == .streaming, !s.headDelivered, !(100..<200).contains(s.status),
                      let waiter = s.headWaiter else { return nil }
                s.headDelivered = true
                s.headWaiter = nil
                return (waiter, Head(status: s.status, headers: s.headers, version: currentVersion()))
            } else if let colon = line.firstIndex(of: ":") {
                let name = String(line[..<colon])
                let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
                s.headers.add(name, value)
            }
            return nil
        }
        if let (waiter, value) = head { waiter.resume(returning: value) }
        return bytes.count
    }

    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        switch mode {
        case .buffered:
            return state.withLock { s in
                if s.cancelled { return 0 }
                s.body.append(contentsOf: bytes)
                return bytes.count
            }
        case .streaming:
            let result: (Int, CheckedContinuation<[UInt8]?, any Error>?, [UInt8]?) = state.withLock { s in
                if s.cancelled { return (0, nil, nil) }
                if s.lines.queuedBytes >= Transfer.highWater {
                    // Not consumed: libcurl hands the same bytes back after curl_easy_pause(CONT).
                    s.paused = true
                    return (LUCID_CURL_WRITEFUNC_PAUSE, nil, nil)
                }
                guard s.lines.append(bytes) else {
                    s.cancelled = true
                    return (0, nil, nil)  // a line over the limit: abort with CURLE_WRITE_ERROR
                }
                if let waiter = s.lineWaiter, let line = s.lines.pop() {
                    s.lineWaiter = nil
                    return (bytes.count, waiter, line)
                }
                return (bytes.count, nil, nil)
            }
            if let waiter = result.1 { waiter.resume(returning: result.2) }
            return result.0
        }
    }

    private func currentVersion() -> HTTPVersion {
        var version = 0
        if let easy { _ = lucid_curl_easy_getinfo_long(easy, CURLINFO_HTTP_VERSION, &version) }
        switch version {
        case CURL_HTTP_VERSION_1_0: return .http1_0
        case CURL_HTTP_VERSION_1_1: return .http1_1
        case CURL_HTTP_VERSION_2_0: return .http2
        default: return .other(version)
        }
    }

    // MARK: completion (loop thread)

    /// libcurl finished (`code`), or the loop dropped the transfer (`failure`). Frees the handle
    /// and wakes whoever waits.
    func complete(code: CURLcode?, failure: HTTPError? = nil) {
        var outcome: Result<Void, HTTPError> = .success(())
        if let failure {
            outcome = .failure(failure)
        } else if let code, code != CURLE_OK {
            let text = errorBuffer.pointee != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(code))
            outcome = .failure(HTTPError(kind: .transport, curlCode: Int32(code.rawValue), message: text, url: url))
        }
        var connects = 0
        if let easy { _ = lucid_curl_easy_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects) }
        let version = currentVersion()
        release()

        let (waiters, response, head, nextLine) = state.withLock { s in
            if s.cancelled { outcome = .failure(HTTPError(kind: .cancelled, message: "cancelled", url: url)) }
            s.outcome = outcome
            s.lines.finish()
            let waiters = (s.responseWaiter, s.headWaiter, s.lineWaiter)
            s.responseWaiter = nil
            s.headWaiter = nil
            s.lineWaiter = nil
            let response = HTTPResponse(status: s.status, headers: s.headers, body: s.body, version: version, newConnections: connects)
            s.body = []
            return (waiters, response, Head(status: s.status, headers: s.headers, version: version),
                    waiters.2 == nil ? nil : s.lines.pop())
        }
        switch outcome {
        case .success:
            waiters.0?.resume(returning: response)
            if head.status >= 200 {
                waiters.1?.resume(returning: head)
            } else {
                waiters.1?.resume(throwing: HTTPError(kind: .transport, message: "the server sent no response head", url: url))
            }
            waiters.2?.resume(returning: nextLine)
        case .failure(let error):
            waiters.0?.resume(throwing: error)
            waiters.1?.resume(throwing: error)
            if let nextLine { waiters.2?.resume(returning: nextLine) } else { waiters.2?.resume(throwing: error) }
        }
    }

    // MARK: the waiting side (any thread)

    /// Marks the transfer cancelled and fails its waiters; the caller tells the loop to drop it.
    /// Returns false when it had already finished.
    func markCancelled() -> Bool {
        let waiters = state.withLock { s -> (CheckedContinuation<HTTPResponse, any Error>?, CheckedContinuation<Head, any Error>?, CheckedContinuation<[UInt8]?, any Error>?)? in
            guard s.outcome == nil, !s.cancelled else { return nil }
            s.cancelled = true
            defer { s.responseWaiter = nil; s.headWaiter = nil; s.lineWaiter = nil }
            return (s.responseWaiter, s.headWaiter, s.lineWaiter)
        }
        guard let waiters else { return false }
        let error = HTTPError(kind: .cancelled, message: "cancelled", url: url)
        waiters.0?.resume(throwing: error)
        waiters.1?.resume(throwing: error)
        waiters.2?.resume(throwing: error)
        return true
    }

    /// Whether the waiting side gave up on the transfer; the loop checks it before starting one.
    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Next complete line, `nil` at the end of the body. `needsUnpause` is set when the caller
    /// must ask the loop to resume a paused transfer.
    enum LineStep { case line([UInt8], needsUnpause: Bool), end, failed(HTTPError), wait }

    func takeLine(orPark waiter: CheckedContinuation<[UInt8]?, any Error>?) -> LineStep {
        state.withLock { s in
            if let line = s.lines.pop() {
                var unpause = false
                if s.paused, s.lines.queuedBytes < Transfer.lowWater {
                    s.paused = false
                    unpause = true
                }
                return .line(line, needsUnpause: unpause)
            }
            if s.cancelled { return .failed(HTTPError(kind: .cancelled, message: "cancelled", url: url)) }
            switch s.outcome {
            case .success?: return .end
            case .failure(let error)?: return .failed(error)
            case nil:
                if let waiter { s.lineWaiter = waiter }
                return .wait
            }
        }
    }
}

extension String {
    func trimmingLineEnd() -> String {
        var s = Substring(self)
        while let last = s.last, last == "\r" || last == "\n" || last == "\r\n" { s = s.dropLast() }
        return String(s)
    }

    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}

extension Duration {
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

let transferWriteCallback: lucid_curl_data_callback = { data, size, count, userdata in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    return transfer.receiveBody(UnsafeRawBufferPointer(start: data, count: size * count))
}

let transferHeaderCallback: lucid_curl_data_callback = { data, size, count, userdata in
    guard let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    return transfer.receiveHeader(UnsafeRawBufferPointer(start: data, count: size * count))
}
