import LucidAPI

/// What became of one policy in a render.
public enum PolicyOutcome: Sendable, Equatable {
    case applied
    /// Not rendered: `reason` is a CamelCase condition reason, `message` says what to fix.
    case notApplied(reason: String, message: String)
    /// Rendered, but some rules lost to other rules for the same requests (notes joined by "; ").
    case conflicted(String)
}

/// What one render says about one TrafficPolicy or CircuitBreakerConfig: the outcome and the
/// status fields that go with it.
public struct PolicyReport: Sendable, Equatable {
    public var outcome: PolicyOutcome
    /// The sidecar ConfigMaps (`namespace/name`) it is rendered into; empty when not applied.
    public var appliedTo: [String]
    /// Rules that lose to others, in words (the notes of a `.conflicted` outcome).
    public var conflicts: [String]
    /// Fields accepted by the API that Envoy does not honour as written, with why.
    public var unhonoured: [UnhonouredField]

    public init(outcome: PolicyOutcome, appliedTo: [String] = [], conflicts: [String] = [], unhonoured: [UnhonouredField] = []) {
        self.outcome = outcome
        self.appliedTo = appliedTo
        self.conflicts = conflicts
        self.unhonoured = unhonoured
    }

    static func notApplied(_ reason: String, _ message: String) -> PolicyReport {
        PolicyReport(outcome: .notApplied(reason: reason, message: message))
    }

    /// One report out of the reports of several sidecars (a breaker is rendered into every
    /// caller's): not applied anywhere if not applied in one (the first such outcome), else
    /// conflicted if conflicted in one, else applied; `appliedTo`, `conflicts` and `unhonoured`
    /// are the union. Nil for no reports (no caller renders it).
    public static func merged(_ reports: [PolicyReport]) -> PolicyReport? {
        guard var result = reports.first else { return nil }
        for report in reports.dropFirst() {
            switch (result.outcome, report.outcome) {
            case (.notApplied, _): break
            case (_, .notApplied): result.outcome = report.outcome
            case (.conflicted, _): break
            case (_, .conflicted): result.outcome = report.outcome
            default: break
            }
            result.appliedTo = Array(Set(result.appliedTo + report.appliedTo)).sorted()
            for note in report.conflicts where !result.conflicts.contains(note) { result.conflicts.append(note) }
            for field in report.unhonoured where !result.unhonoured.contains(field) { result.unhonoured.append(field) }
        }
        if case .notApplied = result.outcome { result.appliedTo = [] }
        return result
    }
}

/// A rendered sidecar: the files of its ConfigMap and their hash.
public struct SidecarConfig: Sendable, Equatable {
    public var files: [String: String]
    /// SHA-256 (hex) over the files in name order.
    public var hash: String

    public init(files: [String: String], hash: String) {
        self.files = files
        self.hash = hash
    }
}

/// The result of one sidecar's render: its config, and a report for every TrafficPolicy in the
/// inputs, every CircuitBreakerConfig of a Service this sidecar calls and, with an inbound
/// side, every SecurityPolicy of which the Service is the destination.
public struct SidecarRender: Sendable, Equatable {
    /// The ConfigMap's files (no key material) and their hash.
    public var config: SidecarConfig
    /// TrafficPolicy name → report.
    public var policies: [String: PolicyReport]
    /// CircuitBreakerConfig name → report (only breakers for Services with a cluster here).
    public var breakers: [String: PolicyReport]
    /// The inbound side, when it was rendered.
    public var inbound: InboundRender?

    public var files: [String: String] { config.files }
    public var hash: String { config.hash }
    /// SecurityPolicy name → outcome (empty without an inbound side).
    public var security: [String: SecurityOutcome] { inbound?.outcomes ?? [:] }
    /// The files of the sidecar's own Secret (API keys); empty when no policy needs one.
    public var secretFiles: [String: String] { inbound?.secretFiles ?? [:] }
}
