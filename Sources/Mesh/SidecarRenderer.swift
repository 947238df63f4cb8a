import LucidAPI
import Tron
import YAML

/// What became of one policy in a render.
public enum PolicyOutcome: Sendable, Equatable {
    case applied
    /// Not rendered: `reason` is a CamelCase condition reason, `message` says what to fix.
    case notApplied(reason: String, message: String)
    /// Rendered, but some rules lost to another policy's for the same match.
    case conflicted(String)
}

/// A rendered sidecar: the three files of the ConfigMap and their hash.
public struct SidecarConfig: Sendable, Equatable {
    public var files: [String: String]
    public var hash: String
}

/// Turns a mesh Service and the TrafficPolicies whose source it is into its Envoy v3 config.
/// Pure: objects in, config and per-policy outcomes out.
///
/// Routing: one virtual host per destination, its routes in policy order (priority, then
/// creation time, then name) and rule order. Rules for the same match within a virtual host
/// become one route: deny is a 403 direct response, redirect a redirect, mirror adds a request
/// mirror, allow routes to the destination — split with weighted clusters between the
/// destinations of one Lucid cluster (Services sharing `mesh.lucid.io/cluster`) when rules
/// carry weights. Requests no rule matches go to the destination.
public enum SidecarRenderer {
    public static let configPath = "/etc/lucid/sidecar"

    public struct Policy: Sendable {
        public var name: String
        public var creationTimestamp: String
        public var spec: TrafficPolicySpec
        public init(name: String, creationTimestamp: String, spec: TrafficPolicySpec) {
            self.name = name
            self.creationTimestamp = creationTimestamp
            self.spec = spec
        }
    }

    /// Policy order: priority (higher first), then creation time, then name.
    public static func ordered(_ policies: [Policy]) -> [Policy] {
        policies.sorted {
            let (p0, p1) = ($0.spec.priority ?? 0, $1.spec.priority ?? 0)
            if p0 != p1 { return p0 > p1 }
            if $0.creationTimestamp != $1.creationTimestamp { return $0.creationTimestamp < $1.creationTimestamp }
            return $0.name < $1.name
        }
    }

    public static func render(_ service: MeshService, services: [MeshService], policies: [Policy]) -> (SidecarConfig, [String: PolicyOutcome]) {
        let byName = Dictionary(services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var outcomes: [String: PolicyOutcome] = [:]
        var usable: [(Policy, MeshService)] = []
        for policy in ordered(policies.filter { $0.spec.source == service.name }) {
            if policy.spec.enabled == false {
                outcomes[policy.name] = .notApplied(reason: "Disabled", message: "spec.enabled is false: the policy is kept but not rendered")
                continue
            }
            guard let destination = byName[policy.spec.destination] else {
                outcomes[policy.name] = .notApplied(reason: "DestinationNotFound",
                    message: "destination \"\(policy.spec.destination)\" is not a mesh Service in namespace \(service.namespace): create it, or label it with \(MeshService.clusterLabel) and \(MeshService.planeLabel)")
                continue
            }
            if let missing = policy.spec.rules.compactMap(\.mirror).first(where: { byName[$0.service] == nil }) {
                outcomes[policy.name] = .notApplied(reason: "MirrorTargetNotFound",
                    message: "mirror target \"\(missing.service)\" is not a mesh Service in namespace \(service.namespace)")
                continue
            }
            let errors = TrafficPolicyKind.semanticErrors(policy.spec)
            if !errors.isEmpty {
                outcomes[policy.name] = .notApplied(reason: "Invalid", message: errors.map(\.description).joined(separator: "; "))
                continue
            }
            usable.append((policy, destination))
            outcomes[policy.name] = .applied
        }

        var clusters: [String: MeshService] = [:]
        var virtualHosts: [JSON] = []
        for destination in orderedDestinations(usable) {
            clusters[destination.clusterName] = destination
            var routes: [(match: TrafficMatch, route: JSON, owner: String, action: TrafficAction)] = []
            for (policy, dest) in usable where dest == destination {
                for (i, rule) in policy.spec.rules.enumerated() {
                    let match = rule.match ?? TrafficMatch()
                    if let j = routes.firstIndex(where: { $0.match == match }) {
                        let existing = routes[j]
                        if existing.action == .deny || rule.action == .deny || (existing.action == .redirect) != (rule.action == .redirect) {
                            if existing.owner != policy.name {
                                let note = "rules[\(i)] (\(rule.action.rawValue)) is shadowed by policy \(existing.owner) (\(existing.action.rawValue)) for the same match"
                                outcomes[policy.name] = merge(outcomes[policy.name], note)
                            }
                            continue
                        }
                        if rule.action == .mirror, let target = rule.mirror.flatMap({ byName[$0.service] }) {
                            clusters[target.clusterName] = target
                            routes[j].route = addMirror(routes[j].route, target, percent: rule.mirror?.percent ?? 100)
                        }
                        continue
                    }
                    var route: JSON = ["match": matchJSON(match)]
                    switch rule.action {
                    case .deny:
                        route["direct_response"] = ["status": 403, "body": ["inline_string": .string("denied by TrafficPolicy \(policy.name)")]]
                    case .redirect:
                        var redirect = JSONObject()
                        if let host = rule.redirect?.host { redirect["host_redirect"] = .string(host) }
                        if let path = rule.redirect?.path { redirect["path_redirect"] = .string(path) }
                        redirect["response_code"] = .string(redirectCode(rule.redirect?.responseCode ?? 302))
                        route["redirect"] = .object(redirect)
                    case .allow, .mirror:
                        var action = routeAction(rule, destination: destination, split: split(rule, match, policy, usable, byName))
                        for (_, c) in split(rule, match, policy, usable, byName) { clusters[c.clusterName] = c }
                        if rule.action == .mirror, let target = rule.mirror.flatMap({ byName[$0.service] }) {
                            clusters[target.clusterName] = target
                            action["request_mirror_policies"] = [mirrorJSON(target, percent: rule.mirror?.percent ?? 100)]
                        }
                        route["route"] = .object(action.objectValue ?? [:])
                    }
                    route["name"] = .string("\(policy.name)/rules[\(i)]")
                    routes.append((match, route, policy.name, rule.action))
                }
            }
            let fallback: JSON = ["name": "default", "match": ["prefix": "/"], "route": ["cluster": .string(destination.clusterName)]]
            virtualHosts.append([
                "name": .string(destination.name),
                "domains": .array(destination.domains.map { .string($0) }),
                "routes": .array(routes.map(\.route) + (routes.contains { $0.match == TrafficMatch() } ? [] : [fallback])),
            ])
        }

        let cds: JSON = ["resources": .array(clusters.keys.sorted().map { clusterJSON(clusters[$0]!) })]
        let lds: JSON = ["resources": [listenerJSON(service, virtualHosts)]]
        let bootstrap = bootstrapJSON(service)
        var files: [String: String] = [:]
        files["bootstrap.json"] = bootstrap.jsonText
        files["cds.json"] = cds.jsonText
        files["lds.json"] = lds.jsonText
        let hash = sha256(Array((files["bootstrap.json"]! + files["cds.json"]! + files["lds.json"]!).utf8)).hex
        return (SidecarConfig(files: files, hash: hash), outcomes)
    }

    private static func merge(_ outcome: PolicyOutcome?, _ note: String) -> PolicyOutcome {
        if case .conflicted(let existing)? = outcome { return .conflicted(existing + "; " + note) }
        return .conflicted(note)
    }

    private static func orderedDestinations(_ usable: [(Policy, MeshService)]) -> [MeshService] {
        var seen: [MeshService] = []
        for (_, d) in usable where !seen.contains(d) { seen.append(d) }
        return seen
    }

    /// The weighted split for an allow rule: allow rules with a weight, the same match, from
    /// policies of the same source to destinations in the same Lucid cluster.
    private static func split(_ rule: TrafficRule, _ match: TrafficMatch, _ policy: Policy, _ usable: [(Policy, MeshService)],
                              _ byName: [String: MeshService]) -> [(Int, MeshService)] {
        guard rule.action == .allow, let weight = rule.weight, let own = byName[policy.spec.destination] else { return [] }
        var parts: [(Int, MeshService)] = [(weight, own)]
        for (other, dest) in usable where other.name != policy.name && dest.cluster == own.cluster && dest != own {
            for r in other.spec.rules where r.action == .allow && (r.match ?? TrafficMatch()) == match {
                if let w = r.weight, !parts.contains(where: { $0.1 == dest }) { parts.append((w, dest)) }
            }
        }
        return parts.count > 1 ? parts : []
    }

    private static func routeAction(_ rule: TrafficRule, destination: MeshService, split: [(Int, MeshService)]) -> JSON {
        var action = JSONObject()
        if split.isEmpty {
            action["cluster"] = .string(destination.clusterName)
        } else {
            action["weighted_clusters"] = ["clusters": .array(split.map { ["name": .string($0.1.clusterName), "weight": .int(Int64($0.0))] })]
        }
        if let timeout = rule.timeout { action["timeout"] = .string(seconds(timeout)) }
        if let retries = rule.retries {
            var policy: JSON = ["retry_on": .string((retries.retryOn ?? ["5xx", "connect-failure"]).joined(separator: ",")),
                                "num_retries": .int(Int64(retries.attempts))]
            if let per = retries.perTryTimeout { policy["per_try_timeout"] = .string(seconds(per)) }
            action["retry_policy"] = policy
        }
        return .object(action)
    }

    private static func addMirror(_ route: JSON, _ target: MeshService, percent: Int) -> JSON {
        var r = route
        guard var action = r["route"] else { return r }
        action["request_mirror_policies"] = .array((action["request_mirror_policies"]?.arrayValue ?? []) + [mirrorJSON(target, percent: percent)])
        r["route"] = action
        return r
    }

    private static func mirrorJSON(_ target: MeshService, percent: Int) -> JSON {
        ["cluster": .string(target.clusterName), "runtime_fraction": ["default_value": ["numerator": .int(Int64(percent)), "denominator": "HUNDRED"]]]
    }

    private static func matchJSON(_ match: TrafficMatch) -> JSON {
        var m: JSON = ["prefix": .string(match.path ?? "/")]
        var headers: [JSON] = []
        if let method = match.method { headers.append(["name": ":method", "string_match": ["exact": .string(method)]]) }
        for (name, value) in (match.headers ?? [:]).sorted(by: { $0.key < $1.key }) {
            headers.append(["name": .string(name.lowercased()), "string_match": ["exact": .string(value)]])
        }
        if !headers.isEmpty { m["headers"] = .array(headers) }
        return m
    }

    private static func redirectCode(_ code: Int) -> String {
        switch code {
        case 301: "MOVED_PERMANENTLY"
        case 303: "SEE_OTHER"
        case 307: "TEMPORARY_REDIRECT"
        case 308: "PERMANENT_REDIRECT"
        default: "FOUND"
        }
    }

    /// Milliseconds as an Envoy duration: 2500 → "2.500s".
    static func seconds(_ ms: Int) -> String {
        let fraction = String(ms % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)s"
    }

    private static func clusterJSON(_ s: MeshService) -> JSON {
        ["@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": .string(s.clusterName), "type": "STRICT_DNS",
         "connect_timeout": "1s", "lb_policy": "ROUND_ROBIN",
         "load_assignment": ["cluster_name": .string(s.clusterName), "endpoints": [["lb_endpoints": [["endpoint": ["address": [
            "socket_address": ["address": .string(s.fqdn), "port_value": .int(Int64(s.port))]]]]]]]]]
    }

    private static func listenerJSON(_ service: MeshService, _ virtualHosts: [JSON]) -> JSON {
        let hcm: JSON = [
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "outbound",
            "route_config": ["name": "outbound", "virtual_hosts": .array(virtualHosts)],
            "http_filters": [["name": "envoy.filters.http.router",
                              "typed_config": ["@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"]]],
        ]
        return ["@type": "type.googleapis.com/envoy.config.listener.v3.Listener", "name": "outbound",
                "address": ["socket_address": ["address": "127.0.0.1", "port_value": 15001]],
                "filter_chains": [["filters": [["name": "envoy.filters.network.http_connection_manager", "typed_config": hcm]]]]]
    }

    /// Loads cds.json and lds.json from the mounted ConfigMap and reloads them when the kubelet
    /// swaps the folder's contents.
    private static func bootstrapJSON(_ service: MeshService) -> JSON {
        func source(_ file: String) -> JSON {
            ["path_config_source": ["path": .string("\(configPath)/\(file)"), "watched_directory": ["path": .string(configPath)]],
             "resource_api_version": "V3"]
        }
        return ["node": ["id": .string("\(service.name).\(service.namespace)"), "cluster": .string(service.name)],
                "dynamic_resources": ["cds_config": source("cds.json"), "lds_config": source("lds.json")],
                "admin": ["address": ["socket_address": ["address": "127.0.0.1", "port_value": 15000]]]]
    }
}
