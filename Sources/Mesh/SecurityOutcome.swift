import LucidAPI

/// What became of one SecurityPolicy in a destination's render, as its status reports it.
public struct SecurityOutcome: Sendable, Equatable {
    /// `Ready=True` with reason `Applied`, or `Ready=False` with `reason`.
    public var ready: Bool
    /// CamelCase condition reason: Applied, Conflict, DestinationNotFound, SourceNotFound,
    /// SecretNotFound, CertificateNotReady, Invalid, Disabled.
    public var reason: String
    /// For a person: what happened and what to fix.
    public var message: String
    /// Whether the policy's rules are in the rendered config. True also for some policies that
    /// are not Ready: one whose Secret or certificate is missing is enforced with that
    /// credential unsatisfiable, and one that is Invalid denies its source (fail closed).
    public var enforced: Bool
    /// Shadowed rules, in words.
    public var conflicts: [String]
    /// Fields the data plane does not honour, with why.
    public var unhonoured: [UnhonouredField]

    static func applied(unhonoured: [UnhonouredField] = []) -> SecurityOutcome {
        SecurityOutcome(ready: true, reason: "Applied", message: "applied to the destination's sidecar", enforced: true,
                        conflicts: [], unhonoured: unhonoured)
    }

    static func notApplied(_ reason: String, _ message: String, enforced: Bool) -> SecurityOutcome {
        SecurityOutcome(ready: false, reason: reason, message: message, enforced: enforced, conflicts: [], unhonoured: [])
    }

    /// The `Ready` condition this outcome sets.
    public var condition: (status: Condition.State, reason: String, message: String) {
        (ready ? .true : .false, reason, message)
    }

    /// The outcome of a policy whose destination is not a mesh Service: nothing renders it.
    public static func destinationNotFound(_ policy: SecurityPolicyInput, namespace: String) -> SecurityOutcome {
        notApplied("DestinationNotFound",
                   "destination \"\(policy.spec.destination)\" is not a mesh Service in namespace \(namespace): create it, or label it with \(MeshService.clusterLabel) and \(MeshService.planeLabel)",
                   enforced: false)
    }
}
