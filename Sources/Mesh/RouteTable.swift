import LucidAPI
import YAML

/// Step 2 of a render: the outbound route table. One virtual host per destination, its routes
/// in policy order and rule order, because Envoy takes the first route that matches.
///
/// Rules for the same requests (equal matches) become one route: a mirror rule adds a request
/// mirror to the allow or mirror route before it; any other rule whose effect differs from the
/// route already there loses, and so does a rule that an earlier, broader match hides (a route
/// for `/api` before one for `/api/admin`). Losing rules are reported as conflicts of their
/// policy, never dropped in silence. Requests no rule matches go to the destination.
struct RouteTable {
    /// Envoy's `virtual_hosts`, in order.
    var virtualHosts: [JSON] = []
    /// Every Service a route (or a virtual host) sends to, by name.
    var upstreams: [String: MeshService] = [:]
    /// Rules that lose, in words, by policy.
    var conflicts: [String: [String]] = [:]

    private struct Entry {
        var match: RouteMatch
        var owner: String
        var rule: Int
        var action: TrafficAction
        var route: JSON
        /// What the route does, without its name, mirrors or deny body: two rules with the
        /// same effect for the same match agree.
        var effect: JSON
    }

    init(_ plan: TrafficPlan, services: [String: MeshService]) {
        var destinations: [MeshService] = []
        for (_, destination) in plan.usable where !destinations.contains(destination) { destinations.append(destination) }
        for destination in destinations {
            upstreams[destination.name] = destination
            var entries: [Entry] = []
            for (policy, _) in plan.usable.filter({ $0.destination == destination }) {
                for (i, rule) in policy.spec.rules.enumerated() {
                    add(rule, i, of: policy, to: &entries, destination: destination, plan: plan, services: services)
                }
            }
            var routes = entries.map(\.route)
            if !entries.contains(where: \.match.isCatchAll) {
                routes.append(["name": "default", "match": ["prefix": "/"], "route": ["cluster": .string(destination.clusterName)]])
            }
            virtualHosts.append([
                "name": .string(destination.name),
                "domains": .array(destination.domains.map { .string($0) }),
                "routes": .array(routes),
            ])
        }
    }

    private mutating func add(_ rule: TrafficRule, _ i: Int, of policy: SidecarRenderer.Policy, to entries: inout [Entry],
                              destination: MeshService, plan: TrafficPlan, services: [String: MeshService]) {
        let match = RouteMatch(rule.match)
        let mirror = rule.mirror.flatMap { services[$0.service] }
        let split = weightedSplit(rule, i, policy, match, destination, plan)
        let candidate = entry(rule, i, policy, match, destination, split: split, mirror: mirror)
        if let j = entries.firstIndex(where: { $0.match == match }) {
            let existing = entries[j]
            if rule.action == .mirror, let mirror, existing.action == .allow || existing.action == .mirror {
                let mirrors = existing.route[path: "route", "request_mirror_policies"]?.arrayValue ?? []
                let added = Self.mirrorJSON(mirror, rule.mirror?.percent)
                if let same = mirrors.first(where: { $0["cluster"] == added["cluster"] }) {
                    if same != added {
                        note(policy.name, "rules[\(i)] (mirror) for \(match.words) is shadowed by another mirror to \(mirror.name) on \(who(existing, policy)), with another percent")
                    }
                    return
                }
                entries[j].route["route"]?["request_mirror_policies"] = .array(mirrors + [added])
                upstreams[mirror.name] = mirror
                if (rule.timeout != nil || rule.retries != nil) && candidate.effect != existing.effect {
                    note(policy.name, "rules[\(i)] (mirror) for \(match.words) adds its mirror to \(who(existing, policy)), whose timeout and retries apply instead of its own")
                }
            } else if candidate.effect != existing.effect {
                note(policy.name, "rules[\(i)] (\(rule.action.rawValue)) for \(match.words) is shadowed by \(who(existing, policy)) (\(existing.action.rawValue)), which takes the same requests first")
            }
            return
        }
        if let earlier = entries.first(where: { $0.match.covers(match) }) {
            note(policy.name, "rules[\(i)] (\(rule.action.rawValue)) for \(match.words) never matches: \(who(earlier, policy)) (\(earlier.action.rawValue), \(earlier.match.words)) takes those requests first")
            return
        }
        entries.append(candidate)
        for part in split { upstreams[part.destination.name] = part.destination }
        if rule.action == .mirror, let mirror { upstreams[mirror.name] = mirror }
    }

    private mutating func note(_ policy: String, _ text: String) {
        conflicts[policy, default: []].append(text)
    }

    private func who(_ entry: Entry, _ policy: SidecarRenderer.Policy) -> String {
        entry.owner == policy.name ? "rules[\(entry.rule)] of this policy" : "policy \(entry.owner) rules[\(entry.rule)]"
    }

    /// The split this rule leads for its destination, when it has peers; empty otherwise.
    private func weightedSplit(_ rule: TrafficRule, _ i: Int, _ policy: SidecarRenderer.Policy, _ match: RouteMatch,
                               _ destination: MeshService, _ plan: TrafficPlan) -> [TrafficPlan.Part] {
        guard rule.action == .allow, rule.weight != nil,
              let parts = plan.splits[TrafficPlan.SplitKey(match: match, lucidCluster: destination.cluster)], parts.count > 1,
              parts.contains(where: { $0.policy == policy.name && $0.rule == i }) else { return [] }
        return parts
    }

    private func entry(_ rule: TrafficRule, _ i: Int, _ policy: SidecarRenderer.Policy, _ match: RouteMatch,
                       _ destination: MeshService, split: [TrafficPlan.Part], mirror: MeshService?) -> Entry {
        var route: JSON = ["name": .string("\(policy.name)/rules[\(i)]"), "match": match.json]
        let effect: JSON
        switch rule.action {
        case .deny:
            route["direct_response"] = ["status": 403, "body": ["inline_string": .string("denied by TrafficPolicy \(policy.name)")]]
            effect = ["status": 403]
        case .redirect:
            var redirect = JSONObject()
            if let host = rule.redirect?.host { redirect["host_redirect"] = .string(host) }
            if let path = rule.redirect?.path { redirect["path_redirect"] = .string(path) }
            redirect["response_code"] = .string(Self.redirectCode(rule.redirect?.responseCode ?? 302))
            route["redirect"] = .object(redirect)
            effect = .object(redirect)
        case .allow, .mirror:
            let action = Self.routeAction(rule, destination, split)
            effect = action
            route["route"] = action
            if rule.action == .mirror, let mirror {
                route["route"]?["request_mirror_policies"] = [Self.mirrorJSON(mirror, rule.mirror?.percent)]
            }
        }
        return Entry(match: match, owner: policy.name, rule: i, action: rule.action, route: route, effect: effect)
    }

    private static func routeAction(_ rule: TrafficRule, _ destination: MeshService, _ split: [TrafficPlan.Part]) -> JSON {
        var action = JSONObject()
        if split.isEmpty {
            action["cluster"] = .string(destination.clusterName)
        } else {
            action["weighted_clusters"] = ["clusters": .array(split.map {
                ["name": .string($0.destination.clusterName), "weight": .int(Int64($0.weight))]
            })]
        }
        if let timeout = rule.timeout { action["timeout"] = .string(EnvoyJSON.duration(milliseconds: timeout)) }
        if let retries = rule.retries {
            var policy: JSON = ["retry_on": .string((retries.retryOn ?? ["5xx", "connect-failure"]).joined(separator: ",")),
                                "num_retries": .int(Int64(retries.attempts))]
            if let perTry = retries.perTryTimeout { policy["per_try_timeout"] = .string(EnvoyJSON.duration(milliseconds: perTry)) }
            action["retry_policy"] = policy
        }
        return .object(action)
    }

    private static func mirrorJSON(_ target: MeshService, _ percent: Int?) -> JSON {
        ["cluster": .string(target.clusterName),
         "runtime_fraction": ["default_value": ["numerator": .int(Int64(percent ?? 100)), "denominator": "HUNDRED"]]]
    }

    /// Envoy's `RedirectResponseCode` for a status the schema allows (301, 302, 303, 307, 308).
    private static func redirectCode(_ code: Int) -> String {
        switch code {
        case 301: "MOVED_PERMANENTLY"
        case 303: "SEE_OTHER"
        case 307: "TEMPORARY_REDIRECT"
        case 308: "PERMANENT_REDIRECT"
        default: "FOUND"
        }
    }
}
