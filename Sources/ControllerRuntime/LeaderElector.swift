import Foundation
import KubeClient
import Logging
import Metrics
import YAML

/// Leader election on a `coordination.k8s.io/v1` Lease: the I/O shell around
/// `LeaderElectionState` (15 s lease, 10 s renew deadline, 2 s retry by default).
///
/// `run` calls `lead` once this replica holds the lease and cancels it the moment leadership is
/// lost, so a replica that lost the lease stops writing at once; then `run` throws
/// `LostLeadership` (the process should exit and be restarted, as client-go's do). On
/// cancellation (graceful shutdown) the lease is released, so another replica takes over
/// within one retry period.
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

    public func run(lead: @escaping @Sendable () async throws -> Void) async throws {
        var state = LeaderElectionState(identity: identity, leaseDuration: durations.lease, renewDeadline: durations.renew,
                                        retryPeriod: durations.retry)
        status.record(0)
        // Stand by until elected.
        while !state.isLeader {
            try Task.checkCancellation()
            await attempt(&state)
            if !state.isLeader { try await Task.sleep(for: durations.retry) }
        }
        logger.info("became leader", metadata: ["lease": "\(namespace)/\(name)", "identity": "\(identity)"])
        status.record(1)
        defer { status.record(0) }
        let elected = state
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await lead() }
            group.addTask { [self] in
                var state = elected
                while true {
                    try await Task.sleep(for: durations.retry)
                    await attempt(&state)
                    if !state.isLeader {
                        logger.error("lost leadership; stopping", metadata: ["lease": "\(namespace)/\(name)"])
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

    /// One read and, when the state machine says so, one write of the lease.
    private func attempt(_ state: inout LeaderElectionState) async {
        let now = ContinuousClock.now
        var lease: JSON?
        do throws(KubeError) {
            lease = try await client.get(.leases, namespace: namespace, name: name)
        } catch {
            if !error.isNotFound {
                if state.failed(now: now) { status.record(0) }
                return
            }
        }
        let record = lease.map { l in
            LeaderElectionState.Record(holder: l[path: "spec", "holderIdentity"]?.stringValue,
                                       leaseDuration: .seconds(Int(l[path: "spec", "leaseDurationSeconds"]?.intValue ?? 15)),
                                       renewTime: l[path: "spec", "renewTime"]?.stringValue,
                                       transitions: Int(l[path: "spec", "leaseTransitions"]?.intValue ?? 0))
        }
        switch state.decide(record, now: now) {
        case .standBy:
            return
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
                } else if state.failed(now: now) {
                    status.record(0)
                }
            }
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
