import Foundation
import KubeClient
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import YAML

/// Leader election on a `coordination.k8s.io/v1` Lease: the I/O shell around
/// `LeaderElectionState` (15 s lease, 10 s renew deadline, 2 s retry by default).
///
/// `run` stands by until this replica holds the lease (returning at once on graceful shutdown),
/// then calls `lead` and renews. Every attempt — the read and the write of the lease — is bounded
/// by what is left of the renew deadline, so a hanging request cannot keep a stale leader alive.
/// The moment leadership is lost, `lead` is cancelled and `run` throws `LostLeadership` (the process
/// should exit and be restarted, as client-go's do); `mayWrite()` turns false even earlier, at the
/// deadline itself, so a client gated on it sends no write after that. On graceful shutdown the
/// lease is released, so another replica takes over within one retry period.
public final class LeaderElector: Sendable {
    public struct LostLeadership: Error, CustomStringConvertible {
        public var description: String { "lost the leader lease" }
    }

    let client: KubeClient
    public let namespace: String
    public let name: String
    public let identity: String
    let durations: (lease: Duration, renew: Duration, retry: Duration)
    let logger: Logger
    let status: Gauge
    /// Until when this replica may write: its last renewal plus the renew deadline.
    private let writeDeadline = Mutex<ContinuousClock.Instant?>(nil)

    public init(client: KubeClient, namespace: String, name: String = "lucid-operator-leader", identity: String,
                leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2),
                logger: Logger = Logger(label: "lucid.leader")) {
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        durations = (leaseDuration, renewDeadline, retryPeriod)
        self.logger = logger
        status = Gauge(label: "leader_election_master_status", dimensions: [("name", name)])
    }

    /// Whether this replica leads now and its leadership has not run past the renew deadline:
    /// the gate for every write the controllers make.
    public func mayWrite() -> Bool {
        writeDeadline.withLock { deadline in deadline.map { ContinuousClock.now < $0 } ?? false }
    }

    public func run(lead: @escaping @Sendable () async throws -> Void) async throws {
        status.record(0)
        let candidate = LeaderElectionState(identity: identity, leaseDuration: durations.lease, renewDeadline: durations.renew,
                                            retryPeriod: durations.retry)
        // Stand by until elected; graceful shutdown ends the wait at once.
        let elected: LeaderElectionState
        do {
            elected = try await cancelWhenGracefulShutdown { [self] in
                var state = candidate
                while !state.isLeader {
                    try Task.checkCancellation()
                    state = await attempt(state)
                    if !state.isLeader { try await Task.sleep(for: durations.retry) }
                }
                return state
            }
        } catch {
            logger.info("stopped while standing by", metadata: ["identity": "\(identity)"])
            return
        }
        logger.info("became leader", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
        status.record(1)
        defer {
            status.record(0)
            writeDeadline.withLock { $0 = nil }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await lead() }
            group.addTask { [self] in
                var state = elected
                while true {
                    try await Task.sleep(for: durations.retry)
                    state = await attempt(state)
                    if !state.isLeader {
                        logger.error("lost leadership; stopping", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
                        throw LostLeadership()
                    }
                }
            }
            do {
                try await group.next()
                group.cancelAll()
            } catch is CancellationError {
                group.cancelAll()
            } catch {
                group.cancelAll()
                throw error
            }
        }
        await release()
    }

    /// One read and, when the state machine says so, one write of the lease, within the renew
    /// deadline's budget; returns the state after it.
    private func attempt(_ state: LeaderElectionState) async -> LeaderElectionState {
        let budget = state.attemptBudget(now: .now)
        let outcome: LeaderElectionState? = await withTaskGroup(of: LeaderElectionState?.self) { group in
            group.addTask { [self] in await unboundedAttempt(state) }
            group.addTask {
                try? await Task.sleep(for: budget)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if let outcome { return outcome }
        var timedOut = state
        if timedOut.failed(now: .now) { status.record(0) }
        logger.warning("lease attempt timed out", metadata: ["lease": "\(namespace)/\(name)", "budget": "\(budget)"])
        publish(timedOut)
        return timedOut
    }

    private func unboundedAttempt(_ start: LeaderElectionState) async -> LeaderElectionState {
        var state = start
        defer { publish(state) }
        var lease: JSON?
        do throws(KubeError) {
            lease = try await client.get(.leases, namespace: namespace, name: name)
        } catch {
            if !error.isNotFound {
                if state.failed(now: .now) { status.record(0) }
                return state
            }
        }
        let record = lease.map { l in
            LeaderElectionState.Record(holder: l[path: "spec", "holderIdentity"]?.stringValue,
                                       leaseDuration: .seconds(Int(l[path: "spec", "leaseDurationSeconds"]?.intValue ?? 15)),
                                       renewTime: l[path: "spec", "renewTime"]?.stringValue,
                                       transitions: Int(l[path: "spec", "leaseTransitions"]?.intValue ?? 0))
        }
        // Time the write from before it is sent: the renewal counts from then.
        let now = ContinuousClock.now
        switch state.decide(record, now: now) {
        case .standBy:
            return state
        case .acquire, .renew:
            let time = KubeTime.micro()
            do throws(KubeError) {
                if var existing = lease {
                    let holder = existing[path: "spec", "holderIdentity"]?.stringValue
                    var spec = existing["spec"] ?? [:]
                    if holder != identity {
                        spec["acquireTime"] = .string(time)
                        spec["leaseTransitions"] = .int((spec["leaseTransitions"]?.intValue ?? 0) + 1)
                    }
                    spec["holderIdentity"] = .string(identity)
                    spec["leaseDurationSeconds"] = .int(Int64(durations.lease.components.seconds))
                    spec["renewTime"] = .string(time)
                    existing["spec"] = spec
                    _ = try await client.update(.leases, namespace: namespace, existing)  // resourceVersion precondition
                } else {
                    _ = try await client.create(.leases, namespace: namespace, [
                        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": ["name": .string(name), "namespace": .string(namespace)],
                        "spec": ["holderIdentity": .string(identity), "leaseDurationSeconds": .int(Int64(durations.lease.components.seconds)),
                                 "acquireTime": .string(time), "renewTime": .string(time), "leaseTransitions": 0],
                    ])
                }
                state.succeeded(now: now)
            } catch {
                if error.isConflict || error.isAlreadyExists {
                    state.lost()  // someone else wrote it first
                    status.record(0)
                } else if state.failed(now: .now) {
                    status.record(0)
                }
            }
            return state
        }
    }

    /// Makes the write gate follow the state.
    private func publish(_ state: LeaderElectionState) {
        writeDeadline.withLock { deadline in
            deadline = state.isLeader ? state.lastRenew.map { $0 + state.renewDeadline } : nil
        }
    }

    /// Gives the lease up (holder cleared, 1 s duration) so a standby takes over at once.
    func release() async {
        guard var lease = try? await client.get(.leases, namespace: namespace, name: name),
              lease[path: "spec", "holderIdentity"]?.stringValue == identity else { return }
        lease["spec"]?["holderIdentity"] = ""
        lease["spec"]?["leaseDurationSeconds"] = 1
        lease["spec"]?["renewTime"] = .string(KubeTime.micro())
        do { _ = try await client.update(.leases, namespace: namespace, lease) } catch {
            logger.warning("could not release the lease", metadata: ["error": "\(error)"])
            return
        }
        logger.info("released the lease", metadata: ["lease": "\(namespace)/\(name)"])
    }
}
