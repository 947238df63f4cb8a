import ControllerRuntime
import KubeClient
import LucidAPI
import Mesh
import YAML

extension SidecarReconciler {
    /// The status a report gives a mesh policy: `observedGeneration`, `Ready` (its
    /// `lastTransitionTime` moves only when the status flips), `appliedTo`, `conflicts`,
    /// `unhonoured`; nil fields for empty lists, so a converged policy compares equal.
    static func status(_ report: StatusReport, current: PolicyStatus?, generation: Int64?, now: String) -> PolicyStatus {
        var status = current ?? PolicyStatus()
        status.observedGeneration = generation
        status.conditions = (status.conditions ?? []).setting("Ready", report.ready ? .true : .false, reason: report.reason,
                                                            message: report.message, observedGeneration: generation, now: now)
        status.appliedTo = report.appliedTo.isEmpty ? nil : report.appliedTo
        status.conflicts = report.conflicts.isEmpty ? nil : report.conflicts
        status.unhonoured = report.unhonoured.isEmpty ? nil : report.unhonoured
        return status
    }

    /// Writes the status through /status when it differs from what is there. Returns false when
    /// the cached object was stale (refreshed; try again).
    func writeStatus<Kind: ResourceKind>(_ policy: CachedResource<Kind>, _ report: StatusReport, _ resource: GroupVersionResource,
                                         _ informer: Informer<CachedResource<Kind>>) async throws -> Bool where Kind.Status == PolicyStatus {
        let status = Self.status(report, current: policy.status, generation: policy.generation, now: KubeTime.now())
        guard status != policy.status else { return true }
        let body = try policy.statusWrite(status)
        do throws(KubeError) {
            await informer.observe(try await client.updateStatus(resource, namespace: policy.reference.namespace, body), notify: false)
        } catch {
            guard error.isConflict || error.isNotFound else { throw error }
            if error.isNotFound {
                await informer.observeDeletion(policy.ref)
            } else if let fresh = try? await client.get(resource, namespace: policy.reference.namespace, name: policy.name) {
                await informer.observe(fresh)
            }
            return false
        }
        return true
    }
}
