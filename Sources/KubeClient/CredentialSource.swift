import Foundation
import Synchronization

/// Supplies the bearer token for each request; a token file is read again when its
/// modification time, size or inode changes, or after `maxAge` in any case.
final class TokenSource: Sendable {
    private struct Cached {
        var token: String?
        var signature: [Int] = []
        var readAt: ContinuousClock.Instant?
    }

    private let credentials: KubeConfig.Credentials
    private let maxAge: Duration
    private let cache = Mutex(Cached())

    init(_ credentials: KubeConfig.Credentials, maxAge: Duration = .seconds(60)) {
        self.credentials = credentials
        self.maxAge = maxAge
    }

    func token() throws(KubeError) -> String? {
        switch credentials {
        case .none: return nil
        case .token(let token): return token
        case .tokenFile(let path):
            var info = stat()
            guard stat(path, &info) == 0 else {
                throw KubeError(code: .configuration, message: "cannot read token file \(path): \(String(cString: strerror(errno)))")
            }
            let signature = [Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_size), Int(info.st_ino)]
            let now = ContinuousClock.now
            if let token = cache.withLock({ c -> String? in
                guard c.signature == signature, let readAt = c.readAt, now - readAt < maxAge else { return nil }
                return c.token
            }) {
                return token
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw KubeError(code: .configuration, message: "cannot read token file \(path)")
            }
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            cache.withLock { $0 = Cached(token: token, signature: signature, readAt: now) }
            return token
        }
    }
}
