#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A helper process (nginx, etcd, openssl, kubectl) started with `posix_spawn`.
///
/// Every child runs under `timeout`, so one left behind by a crashed test still ends by itself.
public final class ChildProcess: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let pid: pid_t

    /// Starts `executable` (a path, or a name looked up on PATH) with `arguments`; output goes
    /// to `outputPath` (stdout and stderr), or nowhere. `lifetime` bounds how long it may run.
    public init(
        _ executable: String, _ arguments: [String], outputPath: String? = nil,
        workingDirectory: String? = nil, lifetime: Duration = .seconds(900)
    ) throws {
        let argv = ["timeout", "-s", "KILL", "\(lifetime.components.seconds)", executable] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let out = outputPath ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Threads of this process block signals; a child must not inherit that mask (nginx
        // would ignore SIGTERM), nor any ignored dispositions.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        var all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawnp(&child, "timeout", &actions, &attributes, cArgs, environ)
        guard rc == 0 else { throw Failure(description: "cannot start \(executable): \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// Runs a command to completion and returns its exit status.
    public static func run(_ executable: String, _ arguments: [String], outputPath: String? = nil) throws -> Int32 {
        let p = try ChildProcess(executable, arguments, outputPath: outputPath)
        return p.wait()
    }

    /// Runs a command to completion without blocking a thread; its exit status.
    public static func run(_ executable: String, _ arguments: [String], outputPath: String? = nil) async throws -> Int32 {
        try await ChildProcess(executable, arguments, outputPath: outputPath).exit()
    }

    /// Waits for the process to exit without blocking a thread (polls every few milliseconds).
    public func exit() async -> Int32 {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return Self.decode(status) }
            if r < 0 && errno != EINTR { return -1 }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Whether the process is still running (and not yet reaped).
    public var isRunning: Bool { kill(pid, 0) == 0 && !reaped() }

    /// Blocks until the process exits; its exit status, or 128+signal.
    @discardableResult
    public func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Self.decode(status)
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`; reaps it.
    public func stop(grace: Duration = .seconds(5)) {
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno == ECHILD) { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    private func reaped() -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == pid
    }

    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
