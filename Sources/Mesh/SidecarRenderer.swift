import LucidAPI
import Tron
import YAML

/// Turns one mesh Service's inputs into its Envoy v3 config and a report per policy and
/// breaker. Pure: values in, value out; the reconciler and the offline `render` command both
/// call it (through `SidecarAssembly`, which gathers the inputs).
///
/// The outbound side (`SidecarInputs`: TrafficPolicies of which the Service is the source,
/// CircuitBreakerConfigs of the Services it calls) is rendered in steps, each in its own file:
/// `TrafficPlan` (which policies render, weighted splits), `RouteTable` (virtual hosts and
/// routes, conflicts), `BreakerPlan` (one breaker per called Service), `Clusters`, `Listener`,
/// `Bootstrap`. The inbound side (`InboundInputs`: SecurityPolicies of which it is the
/// destination) is `InboundRenderer`'s; its listener joins `lds.json` after the outbound one,
/// its clusters join `cds.json`, and its SDS files join the ConfigMap. Its API-key files go to
/// `SidecarRender.secretFiles`, never into the ConfigMap.
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

    /// The outbound side alone (no inbound listener, no SDS files).
    public static func render(_ inputs: SidecarInputs) -> SidecarRender {
        render(inputs, inbound: nil)
    }

    /// Both sides of the sidecar: the outbound listener stays `resources[0]` of `lds.json`, the
    /// inbound one (when the destination's targetPort is a number) follows it.
    public static func render(_ inputs: SidecarInputs, inbound: InboundInputs?) -> SidecarRender {
        let service = inputs.service
        let sidecar = "\(service.namespace)/\(service.sidecarName)"
        let plan = TrafficPlan(inputs)
        let table = RouteTable(plan, services: inputs.services)
        let breakers = BreakerPlan(inputs.breakers, upstreams: table.upstreams, sidecar: sidecar)
        let security = inbound.map(InboundRenderer.render)

        let clusters = table.upstreams.values.sorted { $0.clusterName < $1.clusterName }.map {
            Clusters.cluster($0, breaker: breakers.settings[$0.name], transportSocket: inputs.upstreamTransportSockets[$0.name])
        } + (security?.clusters ?? [])
        var listeners = [Listener.outbound(service, virtualHosts: table.virtualHosts)]
        if let listener = security?.listener { listeners.append(listener) }
        var files = security?.configMapFiles ?? [:]
        files["bootstrap.json"] = Bootstrap.bootstrap(service, configPath: configPath).jsonText
        files["cds.json"] = JSON.object(["resources": .array(clusters)]).jsonText
        files["lds.json"] = JSON.object(["resources": .array(listeners)]).jsonText
        let hash = sha256(Array(files.keys.sorted().map { files[$0] ?? "" }.joined().utf8)).hex

        var policies = plan.rejected
        for (policy, _) in plan.usable {
            let conflicts = table.conflicts[policy.name] ?? []
            let unhonoured = (plan.unhonoured[policy.name] ?? []).sorted { $0.field < $1.field }
            policies[policy.name] = PolicyReport(outcome: conflicts.isEmpty ? .applied : .conflicted(conflicts.joined(separator: "; ")),
                                                 appliedTo: [sidecar], conflicts: conflicts, unhonoured: unhonoured)
        }
        return SidecarRender(config: SidecarConfig(files: files, hash: hash), policies: policies, breakers: breakers.reports,
                             inbound: security)
    }

    /// The breaker reports of a render (`SidecarRender.breakers`) without building the rest of
    /// the config: what a CircuitBreakerConfig's status merges over its callers.
    public static func breakerReports(_ inputs: SidecarInputs) -> [String: PolicyReport] {
        let sidecar = "\(inputs.service.namespace)/\(inputs.service.sidecarName)"
        let table = RouteTable(TrafficPlan(inputs), services: inputs.services)
        return BreakerPlan(inputs.breakers, upstreams: table.upstreams, sidecar: sidecar).reports
    }
}
