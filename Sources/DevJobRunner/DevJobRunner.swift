import Foundation
import KubeClient
import Logging
import ServiceLifecycle
import Synchronization
import YAML

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// DEVELOPMENT ONLY: runs payout Jobs of the embedded API server on this machine, so that
/// `lucid-operator dev` pays end to end without a cluster. Never part of `lucid-operator run`.
///
/// It does what the Job controller and the kubelet would, for the one kind of Job the operator
/// makes (one container running `lucid-payout`, Secret volumes, plain and Secret env):
/// - a new Job is claimed by writing its `status.startTime` (with a resourceVersion
///   precondition) before anything runs, so a Job is never run twice, not even across a restart
///   of the runner: a Job found started but not finished is failed, as for a lost node;
/// - a Pod is created for it (labels `job-name`, `batch.kubernetes.io/job-name`,
///   `controller-uid`; the Job as controller owner);
/// - the container's command runs with the built `lucid-payout` in place of the image's, the
///   mounted Secrets written to a private folder (paths in the arguments rewritten), its env;
/// - on exit the Pod gets the container's terminated state (exit code, the termination-log
///   file as message) and the Job `SuccessCriteriaMet` + `Complete`, or `FailureTarget` +
///   `Failed` (`BackoffLimitExceeded`, or `DeadlineExceeded` when `activeDeadlineSeconds` ran out
///   and the process was killed), as Kubernetes 1.31+ writes them.
///
/// Crash-injection hooks: `hold` keeps new Jobs from starting (like unschedulable pods),
/// `pause`/`resume`/`kill` signal a running Job's process.
public final class DevJobRunner: Service, Sendable {
    public struct Configuration: Sendable {
        /// The built `lucid-payout`, run in place of the image's.
        public var payoutBinary: String
        /// Only Jobs in this namespace; nil for all.
        public var namespace: String?
        /// Where each run gets its private folder (removed after the run).
        public var workDirectory: String
        /// How often a running process is looked at (exit, deadline).
        public var pollInterval: Duration

        public init(payoutBinary: String, namespace: String? = nil,
                    workDirectory: String = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-dev-jobs").path,
                    pollInterval: Duration = .milliseconds(20)) {
            self.payoutBinary = payoutBinary
            self.namespace = namespace
            self.workDirectory = workDirectory
            self.pollInterval = pollInterval
        }
    }

    /// A Job as the runner names it.
    public struct JobKey: Hashable, Sendable, CustomStringConvertible {
        public var namespace: String
        public var name: String
        public init(namespace: String, name: String) {
            self.namespace = namespace
            self.name = name
        }
        public var description: String { "\(namespace)/\(name)" }
    }

    private struct State {
        var seen: Set<String> = []  // Job uids
        var held = false
        var waiting: [JSON] = []
        var running: [JobKey: LocalProcess] = [:]
        var started: [JobKey] = []
        var listed = false
        var starts: AsyncStream<JSON>.Continuation?
    }

    let client: KubeClient
    let configuration: Configuration
    let logger: Logger
    private let state = Mutex(State())

    public init(client: KubeClient, configuration: Configuration, logger: Logger = Logger(label: "lucid.dev-job-runner")) {
        self.client = client
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: hooks

    /// While held, new Jobs wait (as pods no node can take); releasing starts them.
    public func hold(_ on: Bool) {
        let released: [JSON] = state.withLock { s in
            s.held = on
            guard !on else { return [] }
            defer { s.waiting = [] }
            return s.waiting
        }
        let starts = state.withLock { $0.starts }
        for job in released { starts?.yield(job) }
    }

    /// Jobs waiting while held.
    public var waiting: [JobKey] { state.withLock { $0.waiting.map(Self.key) } }
    /// Jobs this runner started, in order (each at most once).
    public var started: [JobKey] { state.withLock { $0.started } }
    /// Whether the first list of Jobs has been handled.
    public var hasListed: Bool { state.withLock { $0.listed } }
    /// The process of a running Job.
    public func pid(of job: JobKey) -> pid_t? { state.withLock { $0.running[job]?.pid } }

    /// SIGSTOP to the Job's process; false when it is not running.
    @discardableResult public func pause(_ job: JobKey) -> Bool { signal(job, SIGSTOP) }
    /// SIGCONT.
    @discardableResult public func resume(_ job: JobKey) -> Bool { signal(job, SIGCONT) }
    /// SIGKILL: the container dies mid-run (exit 137, no termination message).
    @discardableResult public func kill(_ job: JobKey) -> Bool { signal(job, SIGKILL) }

    private func signal(_ job: JobKey, _ signal: Int32) -> Bool {
        state.withLock { $0.running[job] }?.send(signal) ?? false
    }

    // MARK: the loop

    /// Watches Jobs and runs each new one, until cancelled or shut down gracefully (running
    /// processes are killed then; their Jobs are failed by the next runner that sees them).
    public func run() async throws {
        let (starts, continuation) = AsyncStream.makeStream(of: JSON.self)
        state.withLock { $0.starts = continuation }
        defer { state.withLock { $0.starts = nil } }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    await self.watchJobs(continuation)
                    continuation.finish()
                }
                for await job in starts {
                    group.addTask { await self.execute(job) }
                }
                group.cancelAll()
            }
        }
    }

    private func watchJobs(_ starts: AsyncStream<JSON>.Continuation) async {
        var backoff = Duration.milliseconds(200)
        while !Task.isCancelled {
            do {
                let list = try await client.listAll(.jobs, namespace: configuration.namespace)
                for job in list.items { consider(job, starts) }
                state.withLock { $0.listed = true }
                let watch = try await client.watch(.jobs, namespace: configuration.namespace,
                                                   options: WatchOptions(resourceVersion: list.resourceVersion, timeoutSeconds: 300))
                for try await event in watch where event.type == .added || event.type == .modified {
                    consider(event.object, starts)
                }
                backoff = .milliseconds(200)
            } catch {
                if Task.isCancelled { return }
                logger.debug("job watch failed; listing again", metadata: ["error": "\(error)", "wait": "\(backoff)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }

    /// Each Job is looked at once: started, held, or (started elsewhere, never finished) failed.
    private func consider(_ job: JSON, _ starts: AsyncStream<JSON>.Continuation) {
        guard let uid = job[path: "metadata", "uid"]?.stringValue, Self.finished(job) == nil else { return }
        let start: Bool = state.withLock { s in
            guard s.seen.insert(uid).inserted else { return false }
            if s.held, job[path: "status", "startTime"] == nil {
                s.waiting.append(job)
                return false
            }
            return true
        }
        if start { starts.yield(job) }
    }

    static func key(_ job: JSON) -> JobKey {
        JobKey(namespace: job[path: "metadata", "namespace"]?.stringValue ?? "", name: job[path: "metadata", "name"]?.stringValue ?? "")
    }

    /// The Job's terminal condition type, if it has one.
    static func finished(_ job: JSON) -> String? {
        (job[path: "status", "conditions"]?.arrayValue ?? []).first {
            ["Complete", "Failed"].contains($0["type"]?.stringValue ?? "") && $0["status"]?.stringValue == "True"
        }?["type"]?.stringValue
    }
}

extension DevJobRunner {
    /// Runs one Job from claim to terminal status.
    func execute(_ job: JSON) async {
        let key = Self.key(job)
        do {
            if job[path: "status", "startTime"] != nil {
                // Started by an earlier runner that is gone: its pod is lost, and it is never run again.
                try await failOrphan(job)
                return
            }
            guard let claimed = try await claim(job) else { return }
            try await runClaimed(claimed, key)
        } catch {
            logger.warning("dev job runner could not run the job", metadata: ["job": "\(key)", "error": "\(error)"])
        }
    }

    /// Writes `startTime` and `active: 1` under the Job's resourceVersion; nil if someone else
    /// got there first.
    private func claim(_ job: JSON) async throws -> JSON? {
        var claimed = job
        claimed["status"] = ["startTime": .string(Self.now()), "active": 1, "ready": 0, "uncountedTerminatedPods": [:]]
        do {
            return try await client.updateStatus(.jobs, namespace: Self.key(job).namespace, claimed)
        } catch {
            if error.isConflict || error.isNotFound { return nil }
            throw error
        }
    }

    private func runClaimed(_ job: JSON, _ key: JobKey) async throws {
        let started = ContinuousClock.now
        let startedAt = job[path: "status", "startTime"]?.stringValue ?? Self.now()
        var pod = try await createPod(for: job, key)
        let podName = pod[path: "metadata", "name"]?.stringValue ?? ""
        let folder = "\(configuration.workDirectory)/\(job[path: "metadata", "uid"]?.stringValue ?? UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }

        let launch: Launch
        do { launch = try await prepareLaunch(job, folder: folder) } catch let failure as Unsupported {
            pod = try await setPod(pod, key, Self.podTerminated(exitCode: 128, reason: "ContainerCannotRun", message: failure.description,
                                                                startedAt: startedAt))
            try await finish(job, key, succeeded: false, reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit")
            return
        }
        let process: LocalProcess
        do {
            process = try LocalProcess(configuration.payoutBinary, launch.arguments, environment: launch.environment,
                                       outputPath: "\(folder)/output.log")
        } catch {
            pod = try await setPod(pod, key, Self.podTerminated(exitCode: 128, reason: "StartError", message: error.description, startedAt: startedAt))
            try await finish(job, key, succeeded: false, reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit")
            return
        }
        state.withLock { s in
            s.running[key] = process
            s.started.append(key)
        }
        defer { _ = state.withLock { $0.running.removeValue(forKey: key) } }
        logger.info("dev job runner started a job", metadata: ["job": "\(key)", "pod": "\(podName)", "pid": "\(process.pid)"])
        pod = try await setPod(pod, key, Self.podRunning(startedAt: Self.now()))

        let deadline = job[path: "spec", "activeDeadlineSeconds"]?.intValue.map { started + .seconds($0) }
        var exitCode: Int32?
        var deadlineExceeded = false
        while exitCode == nil {
            if Task.isCancelled {
                process.send(SIGKILL)
                while process.poll() == nil { usleep(1000) }
                return
            }
            if let deadline, ContinuousClock.now >= deadline, !deadlineExceeded {
                deadlineExceeded = true
                process.send(SIGCONT)
                process.send(SIGKILL)
            }
            exitCode = process.poll()
            if exitCode == nil { try? await Task.sleep(for: configuration.pollInterval) }
        }
        let code = exitCode ?? -1
        let message = Self.terminationMessage(launch.terminationLog)
        try? FileManager.default.removeItem(atPath: launch.secretsFolder)
        logger.info("dev job runner saw a job's process exit", metadata: ["job": "\(key)", "exitCode": "\(code)", "deadlineExceeded": "\(deadlineExceeded)"])

        let terminated = Self.podTerminated(exitCode: Int(code), reason: code == 0 ? "Completed" : "Error", message: message, startedAt: startedAt)
        pod = try await setPod(pod, key, terminated, podReason: deadlineExceeded
            ? ("DeadlineExceeded", "Pod was active on the node longer than the specified deadline") : nil)
        if deadlineExceeded {
            try await finish(job, key, succeeded: false, reason: "DeadlineExceeded", message: "Job was active longer than specified deadline")
        } else if code == 0 {
            try await finish(job, key, succeeded: true, reason: "CompletionsReached", message: "Reached expected number of succeeded pods")
        } else {
            try await finish(job, key, succeeded: false, reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit")
        }
    }

    /// Creates the Job's Pod, trying again after a server error or no answer (a create is not
    /// retried by the client; a failed one created nothing here, and the name is new each time).
    private func createPod(for job: JSON, _ key: JobKey) async throws -> JSON {
        var wait = Duration.milliseconds(50)
        for attempt in 1... {
            do {
                return try await client.create(.pods, namespace: key.namespace, Self.pod(for: job))
            } catch {
                let transient = error.code == .transport || (error.httpStatus ?? 0) >= 500 || error.httpStatus == 429
                guard transient, attempt < 10, !Task.isCancelled else { throw error }
                try await Task.sleep(for: wait)
                wait = min(wait * 2, .seconds(1))
            }
        }
        throw CancellationError()
    }

    /// A Job started by a runner that is gone: its pod (if any) failed, the Job failed.
    private func failOrphan(_ job: JSON) async throws {
        let key = Self.key(job)
        let pods = try await client.list(.pods, namespace: key.namespace, options: ListOptions(labelSelector: "batch.kubernetes.io/job-name=\(key.name)"))
        for pod in pods.items where pod[path: "status", "phase"]?.stringValue != "Failed" && pod[path: "status", "phase"]?.stringValue != "Succeeded" {
            let status = Self.podTerminated(exitCode: 137, reason: "Error", message: nil,
                                            startedAt: job[path: "status", "startTime"]?.stringValue ?? Self.now())
            _ = try await setPod(pod, key, status, podReason: ("NodeLost", "the dev job runner that ran this pod stopped"))
        }
        logger.info("dev job runner failed a job an earlier runner started", metadata: ["job": "\(key)"])
        try await finish(job, key, succeeded: false, reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit")
    }

    /// Writes the Job's terminal status (read again first, so a concurrent write is not lost).
    private func finish(_ job: JSON, _ key: JobKey, succeeded: Bool, reason: String, message: String) async throws {
        for _ in 0..<5 {
            var current = try await client.get(.jobs, namespace: key.namespace, name: key.name)
            let now = Self.now()
            var status = current["status"] ?? [:]
            if status["startTime"] == nil { status["startTime"] = .string(now) }
            status["active"] = 0
            status["ready"] = 0
            status["terminating"] = 0
            status["uncountedTerminatedPods"] = [:]
            status[succeeded ? "succeeded" : "failed"] = 1
            let pair: (String, String) = succeeded ? ("SuccessCriteriaMet", "Complete") : ("FailureTarget", "Failed")
            status["conditions"] = .array([pair.0, pair.1].map { type -> JSON in
                ["type": .string(type), "status": "True", "reason": .string(reason), "message": .string(message),
                 "lastProbeTime": .string(now), "lastTransitionTime": .string(now)]
            })
            if succeeded { status["completionTime"] = .string(now) }
            current["status"] = status
            do {
                _ = try await client.updateStatus(.jobs, namespace: key.namespace, current)
                return
            } catch {
                if !error.isConflict { throw error }
            }
        }
    }

    private func setPod(_ pod: JSON, _ key: JobKey, _ containerState: JSON, podReason: (String, String)? = nil) async throws -> JSON {
        var pod = pod
        let name = pod[path: "metadata", "name"]?.stringValue ?? ""
        for _ in 0..<5 {
            pod["status"] = Self.podStatus(pod, containerState, reason: podReason)
            do {
                return try await client.updateStatus(.pods, namespace: key.namespace, pod)
            } catch {
                if !error.isConflict { throw error }
            }
            pod = try await client.get(.pods, namespace: key.namespace, name: name)
        }
        return pod
    }
}
