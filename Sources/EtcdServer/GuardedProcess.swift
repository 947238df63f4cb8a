#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A child process that cannot outlive this one.
///
/// The child runs under a small `sh` guard that holds one end of a socket pair whose other end
/// is only in this process. When this process closes it — `release()`, or by dying in any way, even
/// SIGKILL — the guard reads end-of-file and SIGKILLs the child. The guard also reaps the child,
/// so a killed child's ports are free once the guard has exited (no zombie holds them), and it
/// writes the child's pid to `pidFile` so the child itself can be signalled. When it killed the
/// child because the owner went away, it can also remove the child's temporary data.
final class GuardedProcess: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The guard's pid (the child's parent).
    let guardPID: pid_t
    let pidFile: String
    /// This process's end of the guard's socket pair; -1 once closed.
    private let ownEnd: Mutex<Int32>

    /// `$1` pid file, `$2` folder to remove if the owner goes away (or ""), then the command.
    /// The marker is written with `echo`, not `:`: a failed redirection of a special built-in
    /// would end the watcher before its kill (the folder may already be gone).
    private static let guardScript = """
        pidfile=$1; cleanup=$2; shift 2
        "$@" </dev/null 3<&- &
        child=$!
        echo "$child" > "$pidfile"
        { read -r _ <&3; echo orphaned > "$pidfile.orphaned"; kill -KILL "$child" 2>/dev/null; } &
        watcher=$!
        wait "$child"
        status=$?
        kill "$watcher" 2>/dev/null
        if [ -e "$pidfile.orphaned" ] && [ -n "$cleanup" ]; then rm -rf "$cleanup"; fi
        exit $status
        """

    /// Starts `executable` with `arguments`, stdout and stderr appended to `logPath`. If this
    /// process goes away first, the guard also removes `cleanupOnOrphan` (temporary data).
    init(_ executable: String, _ arguments: [String], logPath: String, pidFile: String, cleanupOnOrphan: String? = nil) throws {
        self.pidFile = pidFile
        unlink(pidFile)
        unlink(pidFile + ".orphaned")
        // A socket pair rather than a pipe: it can be made close-on-exec atomically, so no other
        // child spawned meanwhile inherits (and holds open) this process's end.
        var ends: [Int32] = [-1, -1]
        #if canImport(Glibc)
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &ends) == 0 else { throw Failure(description: "socketpair failed: errno \(errno)") }
        #else
        guard socketpair(AF_UNIX, SOCK_STREAM, 0, &ends) == 0 else { throw Failure(description: "socketpair failed: errno \(errno)") }
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        #endif
        defer { close(ends[0]) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_adddup2(&actions, ends[0], 3)
        Self.closeInheritedDescriptors(&actions)
        // This process's threads block signals; the child must start with none blocked or ignored.
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

        let argv = ["sh", "-c", Self.guardScript, "sh", pidFile, cleanupOnOrphan ?? "", executable] + arguments
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", &actions, &attributes, cArgs, environ)
        guard rc == 0 else {
            close(ends[1])
            throw Failure(description: "cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        guardPID = pid
        ownEnd = Mutex(ends[1])
    }

    deinit { release() }

    /// This process's descriptors that are not close-on-exec (sockets of its servers and
    /// clients) must not live on in a long-running child: a listening socket held by etcd would
    /// keep its port bound after its server stopped. glibc ≥ 2.34 closes them with
    /// `posix_spawn_file_actions_addclosefrom_np`, looked up at run time since Swift's Glibc
    /// module does not declare GNU extensions.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        #if canImport(Glibc)
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return }
        _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 4)
        #endif
    }

    /// The child's pid, once the guard has written it (nil if it has not within `limit`).
    func childPID(within limit: Duration = .seconds(5)) async -> pid_t? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let text = readFile(pidFile), let pid = pid_t(text.filter { !$0.isWhitespace }), pid > 0 { return pid }
            if hasExited { return nil }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return nil
    }

    /// Whether the guard (and so the child) has exited; reaps it.
    var hasExited: Bool {
        exitStatus.withLock { status in
            if status != nil { return true }
            var raw: Int32 = 0
            let r = waitpid(guardPID, &raw, WNOHANG)
            if r == guardPID || (r < 0 && errno == ECHILD) {
                status = raw
                return true
            }
            return false
        }
    }

    private let exitStatus = Mutex<Int32?>(nil)

    /// Waits (without blocking a thread) until the guard and the child have exited.
    func waitForExit() async {
        while !hasExited { try? await Task.sleep(for: .milliseconds(5)) }
    }

    /// Sends `signal` to the child (not the guard); false when there is no child to signal.
    @discardableResult
    func signalChild(_ signal: Int32) async -> Bool {
        guard let pid = await childPID(within: .seconds(1)), !hasExited else { return false }
        return kill(pid, signal) == 0
    }

    /// Closes this process's end of the socket pair: the guard SIGKILLs the child if it still runs.
    func release() {
        ownEnd.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }
}

/// A whole small file as text, or nil.
func readFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes.append(contentsOf: buffer[..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}
