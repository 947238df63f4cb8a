import LucidAPI
import Tron
import YAML

/// Turns one mesh Service's `SidecarInputs` into its Envoy v3 config (`bootstrap.json`,
/// `cds.json`, `lds.json`) and a report per TrafficPolicy and per CircuitBreakerConfig.
/// Pure: values in, value out; the reconciler and the offline `render` command both call it.
///
/// The steps, each in its own file: `TrafficPlan` (which policies render, weighted splits),
/// `RouteTable` (virtual hosts and routes, conflicts), `BreakerPlan` (one breaker per called
/// Service), `Clusters`, `Listener`, `Bootstrap`.
///
/// What is checked before anything is written, so a policy never reports Ready for a config
/// Envoy would refuse: each spec against its CRD's rules and the semantic ones (`Invalid`),
/// references (`DestinationNotFound`, `MirrorTargetNotFound`), weighted splits that add up to 0
/// (`Invalid`), rules that lose to others (`Conflict`), and one breaker per Service (`Conflict`).
public enum SidecarRenderer {
    /// Where the sidecar mounts its ConfigMap.
    public static let configPath = "/etc/lucid/sidecar"

    /// Policy order: priority (higher first), then creation time, then name.
    public static func ordered(_ policies: [Policy]) -> [Policy] {
        policies.sorted {
            let (p0, p1) = ($0.spec.priority ?? 0, $1.spec.priority ?? 0)
            if p0 != p1 { return p0 > p1 }
            if $0.creationTimestamp != $1.creationTimestamp { return $0.creationTimestamp < $1.creationTimestamp }
            return $0.name < $1.name
        }
    }

    public static func render(_ inputs: SidecarInputs) -> SidecarRender {
        let service = inputs.service
        let sidecar = "\(service.namespace)/\(service.sidecarName)"
        let plan = TrafficPlan(inputs)
        let table = RouteTable(plan, services: inputs.services)
        let breakers = BreakerPlan(inputs.breakers, upstreams: table.upstreams, sidecar: sidecar)

        let clusters = table.upstreams.values.sorted { $0.clusterName < $1.clusterName }.map {
            Clusters.cluster($0, breaker: breakers.settings[$0.name], transportSocket: inputs.upstreamTransportSockets[$0.name])
        }
        var files: [String: String] = [:]
        files["bootstrap.json"] = Bootstrap.bootstrap(service, configPath: configPath).jsonText
        files["cds.json"] = JSON.object(["resources": .array(clusters)]).jsonText
        files["lds.json"] = JSON.object(["resources": [Listener.outbound(service, virtualHosts: table.virtualHosts)]]).jsonText
        let hash = sha256(Array(files.keys.sorted().map { files[$0] ?? "" }.joined().utf8)).hex

        var policies = plan.rejected
        for (policy, _) in plan.usable {
            let conflicts = table.conflicts[policy.name] ?? []
            let unhonoured = (plan.unhonoured[policy.name] ?? []).sorted { $0.field < $1.field }
            policies[policy.name] = PolicyReport(outcome: conflicts.isEmpty ? .applied : .conflicted(conflicts.joined(separator: "; ")),
                                                 appliedTo: [sidecar], conflicts: conflicts, unhonoured: unhonoured)
        }
        return SidecarRender(config: SidecarConfig(files: files, hash: hash), policies: policies, breakers: breakers.reports)
    }
}
