import Foundation
import YAML

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A kubeconfig `users[].user.exec` entry: a credential plugin (`aws eks get-token`,
/// `gke-gcloud-auth-plugin`, `kubelogin`) that prints a `client.authentication.k8s.io`
/// ExecCredential with a bearer token or a client certificate.
public struct ExecConfig: Sendable, Equatable {
    /// Whether the plugin may talk to a person. This client never gives a plugin a terminal
    /// (standard input is `/dev/null`), so `always` cannot be honoured and is refused.
    public enum InteractiveMode: String, Sendable, Equatable {
        case never = "Never", ifAvailable = "IfAvailable", always = "Always"
    }

    public struct EnvVar: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public static let supportedAPIVersions = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]

    /// `client.authentication.k8s.io/v1` or `.../v1beta1`; the plugin must answer in the same.
    public var apiVersion: String
    /// A name looked up on PATH, or a path (relative ones resolved against the kubeconfig's folder).
    public var command: String
    public var args: [String]
    /// Added to this process's environment for the plugin.
    public var env: [EnvVar]
    public var interactiveMode: InteractiveMode
    /// Whether `KUBERNETES_EXEC_INFO` carries `spec.cluster`.
    public var provideClusterInfo: Bool
    /// `spec.cluster` of `KUBERNETES_EXEC_INFO`: server, CA data, the cluster's exec extension.
    public var cluster: JSON?
    /// Shown when the command cannot be found.
    public var installHint: String?
    /// A plugin still running after this long is killed and the request fails.
    public var timeout: Duration

    public init(apiVersion: String = "client.authentication.k8s.io/v1", command: String, args: [String] = [], env: [EnvVar] = [],
                interactiveMode: InteractiveMode = .never, provideClusterInfo: Bool = false, cluster: JSON? = nil,
                installHint: String? = nil, timeout: Duration = .seconds(60)) {
        self.apiVersion = apiVersion
        self.command = command
        self.args = args
        self.env = env
        self.interactiveMode = interactiveMode
        self.provideClusterInfo = provideClusterInfo
        self.cluster = cluster
        self.installHint = installHint
        self.timeout = timeout
    }

    /// Reads the kubeconfig entry; `dir` anchors a relative command path, `cluster` is what
    /// `provideClusterInfo` passes on.
    static func parse(_ exec: JSON, dir: String, cluster: JSON, what: String) throws(KubeError) -> ExecConfig {
        func failure(_ message: String) -> KubeError { KubeError(code: .configuration, message: "\(what): exec: \(message)") }
        guard let apiVersion = exec["apiVersion"]?.stringValue, !apiVersion.isEmpty else {
            throw failure("apiVersion is required (\(supportedAPIVersions.joined(separator: " or ")))")
        }
        guard supportedAPIVersions.contains(apiVersion) else {
            throw failure("apiVersion \"\(apiVersion)\" is not supported; use \(supportedAPIVersions.joined(separator: " or "))")
        }
        guard var command = exec["command"]?.stringValue, !command.isEmpty else { throw failure("command is required") }
        // As kubectl does: a command with a slash is a path, relative to the kubeconfig's folder.
        if command.contains("/"), !command.hasPrefix("/"), !dir.isEmpty {
            command = URL(fileURLWithPath: dir).appendingPathComponent(command).standardizedFileURL.path
        }
        var env: [EnvVar] = []
        for entry in exec["env"]?.arrayValue ?? [] {
            guard let name = entry["name"]?.stringValue, !name.isEmpty else { throw failure("every env entry needs a name") }
            env.append(EnvVar(name: name, value: entry["value"]?.stringValue ?? ""))
        }
        let mode: InteractiveMode
        if let text = exec["interactiveMode"]?.stringValue, !text.isEmpty {
            guard let parsed = InteractiveMode(rawValue: text) else {
                throw failure("interactiveMode \"\(text)\" is not Never, IfAvailable or Always")
            }
            mode = parsed
        } else if apiVersion.hasSuffix("/v1") {
            throw failure("interactiveMode is required for \(apiVersion) (Never or IfAvailable)")
        } else {
            mode = .ifAvailable  // v1beta1's default
        }
        if mode == .always {
            throw failure("interactiveMode Always needs a terminal, and this client runs plugins without one; use Never or IfAvailable")
        }
        let provide = exec["provideClusterInfo"]?.boolValue ?? false
        return ExecConfig(apiVersion: apiVersion, command: command, args: (exec["args"]?.arrayValue ?? []).compactMap(\.stringValue),
                          env: env, interactiveMode: mode, provideClusterInfo: provide, cluster: provide ? cluster : nil,
                          installHint: exec["installHint"]?.stringValue)
    }

    /// `KUBERNETES_EXEC_INFO`: an ExecCredential whose spec says the plugin is not interactive
    /// (it never has a terminal here) and, when asked for, which cluster it is for.
    var execInfo: JSON {
        var spec: JSON = ["interactive": false]
        if provideClusterInfo, let cluster { spec["cluster"] = cluster }
        return ["apiVersion": .string(apiVersion), "kind": "ExecCredential", "spec": spec]
    }
}

/// What a plugin printed: a token or a client certificate, valid until `expiration` (if given).
struct ExecCredential: Sendable, Equatable {
    var token: String?
    var clientCertificate: [UInt8]?
    var clientKey: [UInt8]?
    var expiration: Date?

    /// Reads the plugin's standard output, checked as client-go checks it.
    static func decode(_ output: [UInt8], config: ExecConfig) throws(KubeError) -> ExecCredential {
        func failure(_ message: String) -> KubeError {
            KubeError(code: .configuration, message: "exec plugin \(config.command): \(message)")
        }
        let value: JSON
        do { value = try JSON.parse(output) } catch {
            throw failure("its output is not an ExecCredential (not JSON: \(error)): \(String(decoding: output.prefix(200), as: UTF8.self))")
        }
        guard value["kind"]?.stringValue == "ExecCredential" else {
            throw failure("its output has kind \(value["kind"]?.jsonText ?? "none"), not ExecCredential")
        }
        guard value["apiVersion"]?.stringValue == config.apiVersion else {
            throw failure("it is configured for \(config.apiVersion) but answered in \(value["apiVersion"]?.jsonText ?? "no apiVersion")")
        }
        guard let status = value["status"], status.objectValue != nil else { throw failure("its output has no status") }
        var credential = ExecCredential()
        if let token = status["token"]?.stringValue, !token.isEmpty { credential.token = token }
        let certificate = status["clientCertificateData"]?.stringValue.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        let key = status["clientKeyData"]?.stringValue.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        if (certificate == nil) != (key == nil) {
            throw failure("it returned clientCertificateData without clientKeyData, or the other way round")
        }
        credential.clientCertificate = certificate
        credential.clientKey = key
        if credential.token == nil && certificate == nil { throw failure("it returned neither a token nor a client certificate and key") }
        if let text = status["expirationTimestamp"]?.stringValue, !text.isEmpty {
            guard let date = parseRFC3339(text) else { throw failure("expirationTimestamp \"\(text)\" is not an RFC 3339 time") }
            credential.expiration = date
        }
        return credential
    }

    func isExpired(at now: Date) -> Bool { expiration.map { now >= $0 } ?? false }
}

/// RFC 3339 as Kubernetes writes it (`2025-07-02T14:00:00Z`, optional fraction and offset).
func parseRFC3339(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    if let date = formatter.date(from: text) { return date }
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text)
}

/// Runs a plugin to completion: no terminal (stdin is `/dev/null`), its own output pipes, the
/// environment given, killed after `timeout`. Blocking: call it off the cooperative pool.
enum PluginProcess {
    struct Result {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    static let outputLimit = 1 << 20

    static func run(_ command: String, _ arguments: [String], environment: [String: String],
                    timeout: Duration) -> Swift.Result<Result, PluginFailure> {
        // Close-on-exec, so a child another thread spawns meanwhile does not inherit the write
        // ends and hold the plugin's output open after the plugin exits.
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard closeOnExecPipe(&outPipe) == 0 else { return .failure(.cannotStart(String(cString: strerror(errno)))) }
        guard closeOnExecPipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            return .failure(.cannotStart(String(cString: strerror(errno))))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in [outPipe[0], outPipe[1], errPipe[0], errPipe[1]] { posix_spawn_file_actions_addclose(&actions, fd) }
        // This process's threads may block signals; the plugin must start with none blocked.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([command] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // ETXTBSY is passing: the file was just written, and a child that another thread forked
        // meanwhile still holds it open for writing until that child's own exec.
        var pid: pid_t = 0
        var rc = posix_spawnp(&pid, command, &actions, &attributes, argv, envp)
        for attempt in 1...5 where rc == ETXTBSY {
            usleep(UInt32(attempt) * 20_000)
            rc = posix_spawnp(&pid, command, &actions, &attributes, argv, envp)
        }
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            return .failure(rc == ENOENT ? .notFound : .cannotStart(String(cString: strerror(rc))))
        }

        var stdout: [UInt8] = [], stderr: [UInt8] = []
        var open = [outPipe[0], errPipe[0]]
        let deadline = ContinuousClock.now + timeout
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while !open.isEmpty {
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                timedOut = true
                break
            }
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(min(max(left / .milliseconds(1), 1), 1000)))
            if ready < 0 && errno != EINTR { break }
            for fd in fds where fd.revents != 0 {
                let n = read(fd.fd, &buffer, buffer.count)
                if n > 0 {
                    if fd.fd == outPipe[0] {
                        if stdout.count < outputLimit { stdout += buffer[0..<n] }
                    } else if stderr.count < outputLimit {
                        stderr += buffer[0..<n]
                    }
                } else if n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) {
                    close(fd.fd)
                    open.removeAll { $0 == fd.fd }
                }
            }
        }
        open.forEach { close($0) }
        if timedOut { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if timedOut { return .failure(.timedOut(stderr)) }
        let signal = status & 0x7f
        return .success(Result(status: signal == 0 ? (status >> 8) & 0xff : 128 + signal, stdout: stdout, stderr: stderr))
    }

    /// A pipe whose ends close on exec (the Glibc module has no `pipe2`; the window between the
    /// two calls is two system calls wide).
    private static func closeOnExecPipe(_ fds: inout [Int32]) -> Int32 {
        guard pipe(&fds) == 0 else { return -1 }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return 0
    }

    enum PluginFailure: Error {
        case notFound
        case cannotStart(String)
        case timedOut([UInt8])
    }
}

extension ExecConfig {
    /// Runs the plugin once and reads its credential. Blocking.
    func obtain(environment: [String: String]) throws(KubeError) -> ExecCredential {
        var env = environment
        for entry in self.env { env[entry.name] = entry.value }
        env["KUBERNETES_EXEC_INFO"] = execInfo.jsonText
        func failure(_ message: String) -> KubeError { KubeError(code: .configuration, message: "exec plugin \(command): \(message)") }
        switch PluginProcess.run(command, args, environment: env, timeout: timeout) {
        case .failure(.notFound):
            throw failure("not found (looked on PATH)" + (installHint.map { ". \($0)" } ?? ""))
        case .failure(.cannotStart(let reason)):
            throw failure("cannot start: \(reason)")
        case .failure(.timedOut(let stderr)):
            throw failure("still running after \(timeout), killed" + Self.excerpt(stderr))
        case .success(let result) where result.status != 0:
            throw failure("exited with status \(result.status)" + Self.excerpt(result.stderr))
        case .success(let result):
            return try ExecCredential.decode(result.stdout, config: self)
        }
    }

    static func excerpt(_ stderr: [UInt8]) -> String {
        let text = String(decoding: stderr.suffix(2048), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "" : "; it said: \(text)"
    }
}
