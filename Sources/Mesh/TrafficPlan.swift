import LucidAPI
import YAML

/// Step 1 of a render: which TrafficPolicies can be rendered (the others get a reason that says
/// what to fix), and the weighted splits their allow rules form.
///
/// A split is every weighted allow rule for one match from this source to the Services of one
/// Lucid cluster (Services sharing `mesh.lucid.io/cluster`, e.g. a canary), the first such rule
/// per Service. Envoy refuses a split whose weights add up to 0, so the policies of such a
/// split are `Invalid`; it divides each weight by the total, so a total other than 100 (or a
/// lone weighted rule, which takes all the traffic) is reported as not honoured as written.
struct TrafficPlan {
    struct Part: Equatable {
        var policy: String
        var rule: Int
        var destination: MeshService
        var weight: Int
    }

    struct SplitKey: Hashable {
        var match: RouteMatch
        var lucidCluster: String
    }

    /// The policies that render, in policy order, with their destination.
    var usable: [(policy: SidecarRenderer.Policy, destination: MeshService)] = []
    /// Reports of the policies that do not render.
    var rejected: [String: PolicyReport] = [:]
    var splits: [SplitKey: [Part]] = [:]
    /// Weights Envoy does not honour as written, by policy.
    var unhonoured: [String: [UnhonouredField]] = [:]

    init(_ inputs: SidecarInputs) {
        let namespace = inputs.service.namespace
        for policy in SidecarRenderer.ordered(inputs.policies) {
            if let report = Self.rejection(policy, inputs.services, namespace: namespace) {
                rejected[policy.name] = report
            } else if let destination = inputs.services[policy.spec.destination] {
                usable.append((policy, destination))
            }
        }
        // A split that adds up to 0 takes its policies out; that can change other splits.
        while true {
            splits = Self.splits(usable)
            let zero = splits.filter { $0.value.reduce(0) { $0 + $1.weight } == 0 }
            guard !zero.isEmpty else { break }
            for (key, parts) in zero {
                let who = parts.map { "\($0.policy) rules[\($0.rule)]" }.joined(separator: ", ")
                for part in parts {
                    rejected[part.policy] = .notApplied("Invalid",
                        "spec.rules[\(part.rule)].weight: the weights of the allow rules for \(key.match.words) to Lucid cluster \(key.lucidCluster) add up to 0 (\(who)); Envoy refuses a weighted split with a total of 0: give a destination a weight above 0, or refuse these requests with a deny rule")
                }
            }
            usable.removeAll { rejected[$0.policy.name] != nil }
        }
        noteWeights()
    }

    /// Why a policy cannot be rendered at all, or nil.
    private static func rejection(_ policy: SidecarRenderer.Policy, _ services: [String: MeshService], namespace: String) -> PolicyReport? {
        if policy.spec.enabled == false {
            return .notApplied("Disabled", "spec.enabled is false: the policy is kept but not rendered")
        }
        if services[policy.spec.destination] == nil {
            return .notApplied("DestinationNotFound",
                "destination \"\(policy.spec.destination)\" is not a mesh Service in namespace \(namespace): create it, or label it with \(MeshService.clusterLabel) and \(MeshService.planeLabel)")
        }
        if let missing = policy.spec.rules.compactMap(\.mirror).first(where: { services[$0.service] == nil }) {
            return .notApplied("MirrorTargetNotFound",
                "mirror target \"\(missing.service)\" is not a mesh Service in namespace \(namespace): create it, or label it with \(MeshService.clusterLabel) and \(MeshService.planeLabel)")
        }
        // The CRD's rules and the semantic ones, as the API server and `validate` apply them:
        // a spec that skipped admission (a server without the CRD's schema, a manifest) must
        // not reach Envoy with a value it would refuse (a negative weight, a timeout of 0).
        let errors: [String]
        do {
            errors = TrafficPolicy.validate(specJSON: try JSON.encode(policy.spec)).map(\.description)
        } catch {
            errors = ["spec: cannot be encoded: \(error)"]
        }
        return errors.isEmpty ? nil : .notApplied("Invalid", errors.joined(separator: "; "))
    }

    private static func splits(_ usable: [(policy: SidecarRenderer.Policy, destination: MeshService)]) -> [SplitKey: [Part]] {
        var splits: [SplitKey: [Part]] = [:]
        for (policy, destination) in usable {
            for (i, rule) in policy.spec.rules.enumerated() where rule.action == .allow {
                guard let weight = rule.weight else { continue }
                let key = SplitKey(match: RouteMatch(rule.match), lucidCluster: destination.cluster)
                guard splits[key]?.contains(where: { $0.destination == destination }) != true else { continue }
                splits[key, default: []].append(Part(policy: policy.name, rule: i, destination: destination, weight: weight))
            }
        }
        return splits
    }

    private mutating func noteWeights() {
        for (key, parts) in splits.sorted(by: { $0.key.match.words < $1.key.match.words }) {
            let total = parts.reduce(0) { $0 + $1.weight }
            guard total != 100 else { continue }
            for part in parts {
                let reason: String
                if parts.count == 1 {
                    reason = "no other Service of Lucid cluster \(key.lucidCluster) has a weighted allow rule for \(key.match.words), so \(part.destination.name) gets all of it, not \(part.weight)%: declare the rest of the split in a TrafficPolicy to another Service of the cluster"
                } else {
                    let shares = parts.map { "\($0.destination.name) \(Self.percent($0.weight, of: total))" }.joined(separator: ", ")
                    reason = "the weights for \(key.match.words) to Lucid cluster \(key.lucidCluster) add up to \(total), not 100: Envoy divides each by the total (\(shares))"
                }
                unhonoured[part.policy, default: []].append(UnhonouredField(field: "spec.rules[\(part.rule)].weight", reason: reason))
            }
        }
        for (policy, _) in usable {
            for (i, rule) in policy.spec.rules.enumerated() where rule.weight != nil && rule.action != .allow {
                unhonoured[policy.name, default: []].append(UnhonouredField(field: "spec.rules[\(i)].weight",
                    reason: "weights split allow rules only; a \(rule.action.rawValue) rule ignores it\(rule.action == .mirror ? " (mirror.percent sets the copied share)" : "")"))
            }
        }
    }

    /// `part` of `total` as a whole percentage, e.g. "47%".
    private static func percent(_ part: Int, of total: Int) -> String {
        "\((part * 100 + total / 2) / total)%"
    }
}
