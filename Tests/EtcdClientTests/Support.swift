import EtcdClient
import EtcdServer
import Foundation
import HTTP
import LoopbackServer
import Synchronization

/// One etcd for the tests that only need keys of their own (each works under a unique prefix),
/// started on first use and killed with the test process. Progress notifications every 300 ms.
actor SharedEtcd {
    static let shared = SharedEtcd()
    private var server: EtcdServer?
    private var starting = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func get() async throws -> EtcdServer {
        while true {
            if let server { return server }
            if starting {
                await withCheckedContinuation { waiters.append($0) }
                continue
            }
            starting = true
            defer {
                starting = false
                waiters.forEach { $0.resume() }
                waiters = []
            }
            let started = try await EtcdServer.start(EtcdServer.Options(progressNotifyInterval: .milliseconds(300)))
            server = started
            return started
        }
    }

    static func client(_ configure: (inout EtcdConfiguration) -> Void = { _ in }) async throws -> (EtcdServer, EtcdClient) {
        let server = try await shared.get()
        var configuration = EtcdConfiguration(endpoints: [server.clientURL])
        configure(&configuration)
        return (server, try EtcdClient(configuration))
    }
}

/// A prefix no other test uses.
func uniquePrefix(_ name: String = #function) -> String {
    "/test/\(name.prefix { $0 != "(" })-\(UUID().uuidString.prefix(8))/"
}

/// Runs etcdctl (v3 API) against `server`; its output.
func etcdctl(_ server: EtcdServer, _ arguments: [String], user: String? = nil) async throws -> String {
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("etcdctl-\(UUID().uuidString).out").path
    defer { try? FileManager.default.removeItem(atPath: log) }
    var flags = ["--endpoints=\(server.clientURL)", "--command-timeout=10s"]
    if let c = server.certificates { flags += ["--cacert=\(c.caFile)", "--cert=\(c.clientCertificateFile)", "--key=\(c.clientKeyFile)"] }
    if let user { flags.append("--user=\(user)") }
    let status = try await ChildProcess.run("env", ["ETCDCTL_API=3", "etcdctl"] + flags + arguments, outputPath: log)
    let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    guard status == 0 else { throw CommandFailed(description: "etcdctl \(arguments) exited with \(status): \(output)") }
    return output
}

struct CommandFailed: Error, CustomStringConvertible {
    let description: String
}

/// A gauge from etcd's `/metrics`.
func metric(_ server: EtcdServer, _ name: String) async throws -> Double? {
    let http = try HTTPClient()
    defer { http.shutdown() }
    var request = HTTPRequest(url: server.clientURL + "/metrics")
    request.tls = server.clientTLS
    let text = try await http.execute(request).bodyText
    for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
        return Double(line.split(separator: " ").last ?? "")
    }
    return nil
}

/// A flag one task sets and another reads.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}

/// Whether a process with this pid exists.
func processExists(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

/// A TCP listener on 127.0.0.1 that never accepts: connections complete in the kernel's backlog
/// and are never answered, like a member that hangs.
final class SilentListener: Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            throw CommandFailed(description: "cannot listen: errno \(errno)")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    var url: String { "http://127.0.0.1:\(port)" }

    deinit { close(fd) }
}
