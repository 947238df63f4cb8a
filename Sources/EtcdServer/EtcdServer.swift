import Foundation
import HTTP
import LoopbackServer
import Synchronization
import YAML

/// A real etcd (the `etcd` binary from Debian's etcd-server), for tests and `lucid-operator dev`.
///
/// Each member listens on free 127.0.0.1 ports with its data in a temporary folder — in RAM
/// (`/dev/shm`) when there is one, since fsync on a disk costs milliseconds per write and these
/// servers are not about durability. Optionally clients must use TLS with client certificates
/// (a CA made with openssl), and auth can be enabled with a root user and one normal user.
/// A member can be SIGKILLed and restarted on the same data and ports. The process cannot
/// outlive this one (see `GuardedProcess`): it is killed when the member is stopped or released,
/// and when this process dies, however it dies.
public final class EtcdServer: Sendable {
    /// How to run etcd.
    public struct Options: Sendable {
        /// Serve clients over TLS and require a client certificate signed by the fixture's CA.
        public var tls: Bool
        /// Enable auth, with these users.
        public var auth: Auth?
        /// etcd's `--experimental-watch-progress-notify-interval` (etcd's default is 10 minutes).
        public var progressNotifyInterval: Duration?
        /// etcd's `--auth-token-ttl` in seconds (default 300).
        public var authTokenTTL: Int?
        /// Where the temporary folder goes; nil for `/dev/shm` when writable, else the temporary directory.
        public var dataRoot: String?
        public var executable: String
        public var extraArguments: [String]
        /// How long a start or restart may take to become healthy.
        public var startTimeout: Duration

        public init(tls: Bool = false, auth: Auth? = nil, progressNotifyInterval: Duration? = nil, authTokenTTL: Int? = nil,
                    dataRoot: String? = nil, executable: String = "etcd", extraArguments: [String] = [],
                    startTimeout: Duration = .seconds(30)) {
            self.tls = tls
            self.auth = auth
            self.progressNotifyInterval = progressNotifyInterval
            self.authTokenTTL = authTokenTTL
            self.dataRoot = dataRoot
            self.executable = executable
            self.extraArguments = extraArguments
            self.startTimeout = startTimeout
        }
    }

    /// Users created before auth is enabled: `root` (with the root role) and `username`, who may
    /// read and write the keys under `prefix` (every key for "").
    public struct Auth: Sendable, Equatable {
        public var rootPassword: String
        public var username: String
        public var password: String
        public var prefix: String

        public init(rootPassword: String = "root-secret", username: String = "lucid", password: String = "lucid-secret",
                    prefix: String = "") {
            self.rootPassword = rootPassword
            self.username = username
            self.password = password
            self.prefix = prefix
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let name: String
    /// The URL clients use: `http://127.0.0.1:<port>`, or `https://` with TLS.
    public let clientURL: String
    public let peerURL: String
    /// This member's folder: `data/`, `etcd.log`, `etcd.pid`.
    public let directory: String
    public let options: Options
    let workspace: Workspace
    private let arguments: [String]
    private let process = Mutex<GuardedProcess?>(nil)

    public var dataDirectory: String { directory + "/data" }
    public var logPath: String { directory + "/etcd.log" }
    /// The CA and client certificate to connect with, when the server uses TLS.
    public var certificates: TestCertificates? { workspace.certificates }
    /// TLS settings for a client of this server (nil without TLS).
    public var clientTLS: TLSConfiguration? { workspace.certificates?.clientTLS }

    init(name: String, clientPort: Int, peerPort: Int, initialCluster: String, clusterToken: String,
         workspace: Workspace, options: Options) {
        self.name = name
        self.options = options
        self.workspace = workspace
        directory = workspace.root + "/" + name
        clientURL = "\(options.tls ? "https" : "http")://127.0.0.1:\(clientPort)"
        peerURL = "http://127.0.0.1:\(peerPort)"
        var arguments = [
            "--name", name, "--data-dir", directory + "/data",
            "--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
            "--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
            "--initial-cluster", initialCluster, "--initial-cluster-state", "new", "--initial-cluster-token", clusterToken,
            "--logger", "zap", "--log-level", "warn",
        ]
        if let certificates = workspace.certificates {
            arguments += ["--cert-file", certificates.serverCertificateFile, "--key-file", certificates.serverKeyFile,
                          "--trusted-ca-file", certificates.caFile, "--client-cert-auth"]
        }
        if let interval = options.progressNotifyInterval {
            arguments += ["--experimental-watch-progress-notify-interval", "\(max(interval.milliseconds, 1))ms"]
        }
        if let ttl = options.authTokenTTL { arguments += ["--auth-token-ttl", String(ttl)] }
        self.arguments = arguments + options.extraArguments
    }

    deinit { process.withLock { $0?.release() } }

    /// Starts a one-member etcd and waits until it is healthy (and auth is set up, if asked).
    public static func start(_ options: Options = Options()) async throws -> EtcdServer {
        let cluster = try await EtcdCluster.start(size: 1, options)
        return cluster.members[0]
    }

    /// The pid of the guard process etcd runs under (nil when not running).
    var guardPID: Int32? { process.withLock { $0?.guardPID } }

    /// Whether the etcd process is running.
    public var isRunning: Bool {
        process.withLock { $0.map { !$0.hasExited } ?? false }
    }

    /// SIGKILLs etcd and returns once it has exited; its data stays for `restart()`.
    public func kill() async {
        guard let running = process.withLock({ p in defer { p = nil }; return p }) else { return }
        // Closing the guard's socket first would count as this process going away (and remove
        // the data): kill, wait, then close.
        if await !running.signalChild(SIGKILL) { running.release() }
        await running.waitForExit()
        running.release()
    }

    /// Starts etcd again on the same data and ports, and waits until it is healthy. A member of
    /// a cluster becomes healthy once a quorum is up.
    public func restart() async throws {
        await kill()
        try launch()
        try await waitUntilHealthy()
    }

    /// Stops etcd for good (SIGKILL: the data is temporary) and removes its folder. Blocks
    /// briefly while the process is reaped, so it can be called from a `deinit`.
    public func stop() {
        if let running = process.withLock({ p in defer { p = nil }; return p }) {
            running.release()
            while !running.hasExited { usleep(2_000) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Invalidates every auth token the cluster has handed out (auth disabled and enabled again
    /// as root), as an expiry would: clients must authenticate again. Needs `options.auth`.
    public func revokeAuthTokens() async throws {
        guard let auth = options.auth else { throw Failure(description: "auth is not enabled on etcd \(name)") }
        let gateway = try Gateway(self)
        defer { gateway.close() }
        let login = try await gateway.post("/v3/auth/authenticate", ["name": "root", "password": .string(auth.rootPassword)])
        guard let token = login["token"]?.stringValue else { throw Failure(description: "etcd gave root no token: \(login.jsonText)") }
        try await gateway.post("/v3/auth/disable", [:], token: token)
        try await gateway.post("/v3/auth/enable", [:])
    }

    /// The last `bytes` of etcd's log, for error messages.
    public func logTail(_ bytes: Int = 4000) -> String {
        String((readFile(logPath) ?? "").suffix(bytes))
    }

    /// An `etcdctl` command line that reaches this server, to look at keys by hand.
    public var etcdctlCommand: String {
        var parts = ["ETCDCTL_API=3", "etcdctl", "--endpoints=\(clientURL)"]
        if let c = certificates { parts += ["--cacert=\(c.caFile)", "--cert=\(c.clientCertificateFile)", "--key=\(c.clientKeyFile)"] }
        if let auth = options.auth { parts.append("--user=\(auth.username):\(auth.password)") }
        return parts.joined(separator: " ")
    }

    // MARK: process

    func launch() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // A lone member takes the whole workspace with it; a cluster's member only its own folder.
        let cleanup = workspace.members == 1 ? workspace.root : directory
        let started = try GuardedProcess(options.executable, arguments, logPath: logPath, pidFile: directory + "/etcd.pid",
                                         cleanupOnOrphan: cleanup)
        process.withLock { $0 = started }
    }

    /// Polls `/health` until etcd answers `{"health":"true"}` (it has a leader).
    func waitUntilHealthy() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        let deadline = ContinuousClock.now + options.startTimeout
        var request = HTTPRequest(url: clientURL + "/health", timeout: .seconds(2), connectTimeout: .seconds(1))
        request.tls = clientTLS
        while ContinuousClock.now < deadline {
            guard isRunning else {
                throw Failure(description: "etcd \(name) exited while starting; its log ends with:\n\(logTail())")
            }
            if let response = try? await client.execute(request), response.status == 200,
               (try? JSON.parse(response.body))?["health"]?.stringValue == "true" {
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Failure(description: "etcd \(name) was not healthy within \(options.startTimeout); its log ends with:\n\(logTail())")
    }

    /// Whether etcd gave up because one of its ports was taken.
    var failedToBind: Bool { logTail(20_000).contains("address already in use") }
}

/// The folder members live in, and the certificates they share; removed when the last member
/// and its cluster are gone (and by a lone member's guard if this process dies).
final class Workspace: Sendable {
    let root: String
    let certificates: TestCertificates?
    let members: Int

    init(root: String, certificates: TestCertificates?, members: Int) {
        self.root = root
        self.certificates = certificates
        self.members = members
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    static func make(_ options: EtcdServer.Options, members: Int) async throws -> Workspace {
        let base = options.dataRoot ?? defaultDataRoot()
        let root = base + "/lucid-etcd-" + UUID().uuidString.lowercased().prefix(12)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let certificates = options.tls ? try await TestCertificates.make(in: root + "/tls") : nil
        return Workspace(root: root, certificates: certificates, members: members)
    }

    static func defaultDataRoot() -> String {
        let shm = "/dev/shm"
        if FileManager.default.isWritableFile(atPath: shm) { return shm }
        var tmp = FileManager.default.temporaryDirectory.path
        while tmp.hasSuffix("/") && tmp.count > 1 { tmp.removeLast() }
        return tmp
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
