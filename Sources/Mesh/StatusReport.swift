import LucidAPI

/// What the status of a TrafficPolicy, SecurityPolicy or CircuitBreakerConfig says, without
/// times or generations: the `Ready` condition, the sidecars it is applied to, its conflicts and
/// the fields the data plane does not honour. The reconciler writes it (adding
/// `observedGeneration` and `lastTransitionTime`); `lucid-operator render` prints it. One
/// function per kind, so both say the same.
public struct StatusReport: Sendable, Equatable {
    public var ready: Bool
    /// CamelCase, stable.
    public var reason: String
    /// For a person: what happened and what to fix.
    public var message: String
    /// Sidecar ConfigMaps (`namespace/name`) the resource is rendered into.
    public var appliedTo: [String]
    public var conflicts: [String]
    public var unhonoured: [UnhonouredField]

    public init(ready: Bool, reason: String, message: String, appliedTo: [String] = [], conflicts: [String] = [],
                unhonoured: [UnhonouredField] = []) {
        self.ready = ready
        self.reason = reason
        self.message = message
        self.appliedTo = appliedTo
        self.conflicts = conflicts
        self.unhonoured = unhonoured
    }

    /// A resource whose spec the operator cannot read at all.
    public static func invalid(_ message: String) -> StatusReport {
        StatusReport(ready: false, reason: "Invalid", message: message)
    }

    // MARK: TrafficPolicy

    /// A TrafficPolicy from its source's render.
    public static func trafficPolicy(_ report: PolicyReport) -> StatusReport {
        switch report.outcome {
        case .applied:
            return StatusReport(ready: true, reason: "Applied",
                                message: "rendered into the sidecar ConfigMap \(report.appliedTo.joined(separator: ", "))" + unhonouredNote(report.unhonoured),
                                appliedTo: report.appliedTo, unhonoured: report.unhonoured)
        case .conflicted(let note):
            return StatusReport(ready: false, reason: "Conflict", message: "some rules are shadowed by other policies: \(note)",
                                appliedTo: report.appliedTo, conflicts: report.conflicts, unhonoured: report.unhonoured)
        case .notApplied(let reason, let message):
            return StatusReport(ready: false, reason: reason, message: message, conflicts: report.conflicts)
        }
    }

    /// A TrafficPolicy whose source is not a mesh Service: no sidecar renders it.
    public static func sourceNotFound(_ source: String, namespace: String) -> StatusReport {
        StatusReport(ready: false, reason: "SourceNotFound",
                     message: "source \"\(source)\" is not a mesh Service in namespace \(namespace): create it, or label it with \(MeshService.clusterLabel) and \(MeshService.planeLabel)")
    }

    // MARK: SecurityPolicy

    /// A SecurityPolicy from its destination's render: applied to the destination's sidecar
    /// whenever its rules are in the config (also when it is not Ready, e.g. enforced with a
    /// missing Secret's credential unsatisfiable).
    public static func securityPolicy(_ outcome: SecurityOutcome, sidecar: String) -> StatusReport {
        var message = outcome.message
        if outcome.ready { message = "applied to the sidecar ConfigMap \(sidecar)" + unhonouredNote(outcome.unhonoured) }
        return StatusReport(ready: outcome.ready, reason: outcome.reason, message: message, appliedTo: outcome.enforced ? [sidecar] : [],
                            conflicts: outcome.conflicts, unhonoured: outcome.unhonoured)
    }

    /// A SecurityPolicy whose destination is not a mesh Service.
    public static func destinationNotFound(_ policy: SecurityPolicyInput, namespace: String) -> StatusReport {
        let outcome = SecurityOutcome.destinationNotFound(policy, namespace: namespace)
        return StatusReport(ready: false, reason: outcome.reason, message: outcome.message)
    }

    // MARK: CircuitBreakerConfig

    /// A CircuitBreakerConfig: its reports from the renders of its service's callers merged
    /// (`PolicyReport.merged`), Ready with the callers it is applied to. With no caller
    /// rendering it, from the breaker alone: `Invalid` and `Conflict` as a caller would report
    /// them, `ServiceNotFound` for a service outside the mesh, else Ready with reason
    /// `NoCallers` (it applies to each caller's sidecar as soon as one routes to the service).
    /// `breakers` are those of the same service (the older of two wins).
    public static func circuitBreaker(_ name: String, breakers: [SidecarRenderer.Breaker], service: MeshService?, namespace: String,
                                      callerReports: [PolicyReport]) -> StatusReport {
        guard let breaker = breakers.first(where: { $0.name == name }) else {
            return invalid("CircuitBreakerConfig \(name) is not among the breakers of its service")
        }
        let serviceName = breaker.spec.service
        if let merged = PolicyReport.merged(callerReports) {
            return breakerStatus(merged, service: serviceName)
        }
        let placeholder = MeshService(name: serviceName, namespace: namespace, uid: "", cluster: serviceName, plane: "ops", port: 80)
        let alone = BreakerPlan(breakers, upstreams: [serviceName: service ?? placeholder], sidecar: "").reports[name]
        switch alone?.outcome {
        case .notApplied(let reason, let message)?:
            return StatusReport(ready: false, reason: reason, message: message, conflicts: alone?.conflicts ?? [])
        default:
            let unhonoured = alone?.unhonoured ?? []
            guard service != nil else {
                return StatusReport(ready: false, reason: "ServiceNotFound",
                                    message: "service \"\(serviceName)\" is not a mesh Service in namespace \(namespace): create it, or label it with \(MeshService.clusterLabel) and \(MeshService.planeLabel)",
                                    unhonoured: unhonoured)
            }
            return StatusReport(ready: true, reason: "NoCallers",
                                message: "no mesh Service routes to \(serviceName) yet: the breaker applies to the cluster for \(serviceName) in each caller's sidecar as soon as a TrafficPolicy routes one to it" + unhonouredNote(unhonoured),
                                unhonoured: unhonoured)
        }
    }

    static func breakerStatus(_ report: PolicyReport, service: String) -> StatusReport {
        switch report.outcome {
        case .applied:
            let callers = report.appliedTo.count
            return StatusReport(ready: true, reason: "Applied",
                                message: "applied to the cluster for \(service) in the sidecars of its \(callers) caller\(callers == 1 ? "" : "s"): \(listed(report.appliedTo))" + unhonouredNote(report.unhonoured),
                                appliedTo: report.appliedTo, unhonoured: report.unhonoured)
        case .conflicted(let note):
            return StatusReport(ready: false, reason: "Conflict", message: note, appliedTo: report.appliedTo, conflicts: report.conflicts,
                                unhonoured: report.unhonoured)
        case .notApplied(let reason, let message):
            return StatusReport(ready: false, reason: reason, message: message, conflicts: report.conflicts)
        }
    }

    /// Names for a message: a few, then how many more (`appliedTo` has them all).
    static func listed(_ names: [String], limit: Int = 5) -> String {
        names.count <= limit ? names.joined(separator: ", ") : names.prefix(limit).joined(separator: ", ") + " and \(names.count - limit) more"
    }

    static func unhonouredNote(_ fields: [UnhonouredField]) -> String {
        guard !fields.isEmpty else { return "" }
        return "; not honoured as written (see status.unhonoured): \(fields.map(\.field).joined(separator: ", "))"
    }
}
