import Foundation
import HTTP
import Synchronization

/// What one request authenticates with: a bearer token, a client certificate, or both.
struct Authentication: Sendable, Equatable {
    var token: String?
    var clientCertificate: [UInt8]?
    var clientKey: [UInt8]?

    /// The request with this authentication; a client certificate only matters over TLS.
    func applied(to request: HTTPRequest) -> HTTPRequest {
        var request = request
        if let token { request.setBearerToken(token) }
        if let clientCertificate, let clientKey, var tls = request.tls {
            tls.clientCertificate = .pem(clientCertificate)
            tls.clientKey = .pem(clientKey)
            request.tls = tls
        }
        return request
    }
}

/// Supplies the authentication for each request.
///
/// - A token file is read again when its modification time, size or inode changes, or after
///   `maxAge` in any case.
/// - An exec plugin runs when there is no credential yet, when the last one reached its
///   `expirationTimestamp`, or after the server refused it (401). Concurrent requests share one
///   run; the plugin runs on a thread of its own, never on the cooperative pool.
final class CredentialSource: Sendable {
    private struct FileCache {
        var token: String?
        var signature: [Int] = []
        var readAt: ContinuousClock.Instant?
    }

    private struct ExecState {
        var credential: ExecCredential?
        var running = false
        var waiters: [CheckedContinuation<Authentication, any Error>] = []
    }

    private let credentials: KubeConfig.Credentials
    private let maxAge: Duration
    private let environment: [String: String]
    private let now: @Sendable () -> Date
    private let fileCache = Mutex(FileCache())
    private let exec = Mutex(ExecState())
    /// Exec-plugin runs so far (for tests and logs).
    let pluginRuns = Atomic<Int>(0)

    init(_ credentials: KubeConfig.Credentials, maxAge: Duration = .seconds(60),
         environment: [String: String] = ProcessInfo.processInfo.environment, now: @escaping @Sendable () -> Date = { Date() }) {
        self.credentials = credentials
        self.maxAge = maxAge
        self.environment = environment
        self.now = now
    }

    func current() async throws(KubeError) -> Authentication {
        switch credentials {
        case .none: return Authentication()
        case .token(let token): return Authentication(token: token)
        case .tokenFile(let path): return Authentication(token: try fileToken(path))
        case .exec(let config): return try await execAuthentication(config)
        }
    }

    /// After a 401 with `used`: forgets it, and returns different authentication to retry with,
    /// or nil when there is none (a static token, or the same token again).
    func renew(after used: Authentication) async throws(KubeError) -> Authentication? {
        switch credentials {
        case .none, .token: return nil
        case .tokenFile:
            fileCache.withLock { $0 = FileCache() }
        case .exec:
            exec.withLock { state in
                if let credential = state.credential, Self.authentication(credential) == used { state.credential = nil }
            }
        }
        let renewed = try await current()
        return renewed == used ? nil : renewed
    }

    // MARK: token file

    private func fileToken(_ path: String) throws(KubeError) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw KubeError(code: .configuration, message: "cannot read token file \(path): \(String(cString: strerror(errno)))")
        }
        let signature = [Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_size), Int(info.st_ino)]
        let now = ContinuousClock.now
        if let token = fileCache.withLock({ c -> String? in
            guard c.signature == signature, let readAt = c.readAt, now - readAt < maxAge else { return nil }
            return c.token
        }) {
            return token
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubeError(code: .configuration, message: "cannot read token file \(path)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        fileCache.withLock { $0 = FileCache(token: token, signature: signature, readAt: now) }
        return token
    }

    // MARK: exec plugin

    private static func authentication(_ credential: ExecCredential) -> Authentication {
        Authentication(token: credential.token, clientCertificate: credential.clientCertificate, clientKey: credential.clientKey)
    }

    private func execAuthentication(_ config: ExecConfig) async throws(KubeError) -> Authentication {
        let at = now()
        if let cached = exec.withLock({ $0.credential.flatMap { $0.isExpired(at: at) ? nil : $0 } }) {
            return Self.authentication(cached)
        }
        do {
            return try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Authentication, any Error>) in
                enum Next { case ready(Authentication), wait, run }
                let next = exec.withLock { state -> Next in
                    // A run may have finished since the check above.
                    if let credential = state.credential, !credential.isExpired(at: at) { return .ready(Self.authentication(credential)) }
                    state.waiters.append(waiter)
                    guard !state.running else { return .wait }
                    state.running = true
                    return .run
                }
                switch next {
                case .ready(let authentication): waiter.resume(returning: authentication)
                case .wait: break
                case .run: runPlugin(config)
                }
            }
        } catch let error as KubeError {
            throw error
        } catch {
            throw KubeError(code: .configuration, message: "exec plugin \(config.command): \(error)")
        }
    }

    /// Runs the plugin on its own thread and hands the outcome to every request waiting for it.
    private func runPlugin(_ config: ExecConfig) {
        let environment = self.environment
        let thread = Thread { [self] in
            pluginRuns.add(1, ordering: .relaxed)
            let outcome = Result { () throws(KubeError) -> ExecCredential in try config.obtain(environment: environment) }
            let waiters = exec.withLock { state in
                defer { state.waiters = [] }
                state.running = false
                if case .success(let credential) = outcome { state.credential = credential }
                return state.waiters
            }
            for waiter in waiters {
                switch outcome {
                case .success(let credential): waiter.resume(returning: Self.authentication(credential))
                case .failure(let error): waiter.resume(throwing: error)
                }
            }
        }
        thread.name = "lucid-exec-plugin"
        thread.start()
    }
}
