import YAML

/// The `NetworkPolicy` (networking.k8s.io/v1) that enforces plane isolation at the network for
/// one mesh Service, owned by it: the pods its selector picks accept ingress only from the pods
/// of the Services that who-can-call finds allowed for some call (its own plane unless denied,
/// and the sources SecurityPolicies allow), or from anywhere when anonymous callers or other
/// namespaces are allowed something. Pods are selected through the Services' selectors, as the
/// Service itself does. Pods picked by several Services accept the union (NetworkPolicies add up).
public enum NetworkPolicyBuilder {
    public static func name(_ service: String) -> String { "\(service)-mesh-ingress" }

    /// The NetworkPolicy for `inputs.destination`; it reads every mesh Service of the namespace
    /// (peers and sources are selected by their selectors). Nil when plane isolation is off or the
    /// Service has no selector (no pods to select): the reconciler removes any it owns then.
    public static func networkPolicy(_ inputs: InboundInputs) -> JSON? {
        networkPolicy(inputs, report: WhoCanCall.analyze(inputs))
    }

    /// The same from a who-can-call report of the same inputs.
    public static func networkPolicy(_ inputs: InboundInputs, report: WhoCanCallReport) -> JSON? {
        let destination = inputs.destination
        guard inputs.settings.planeIsolation == .strict, !destination.selector.isEmpty else { return nil }
        let open = report.callers.contains { $0.plane == nil && $0.mayConnect }
        var rule = JSONObject()
        if !open {
            let byName = Dictionary(inputs.services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            var seen: Set<[String: String]> = []
            var peers: [JSON] = []
            for caller in report.callers where caller.plane != nil && caller.mayConnect {
                guard let service = byName[caller.caller], !service.selector.isEmpty, seen.insert(service.selector).inserted else { continue }
                peers.append(["podSelector": ["matchLabels": matchLabels(service.selector)]])
            }
            if peers.isEmpty { return deny(destination) }
            rule["from"] = .array(peers)
        }
        return object(destination, ingress: [.object(rule)])
    }

    static func deny(_ destination: MeshService) -> JSON { object(destination, ingress: []) }

    static func object(_ destination: MeshService, ingress: [JSON]) -> JSON {
        ["apiVersion": "networking.k8s.io/v1",
         "kind": "NetworkPolicy",
         "metadata": [
            "name": .string(name(destination.name)),
            "namespace": .string(destination.namespace),
            "labels": ["app.kubernetes.io/managed-by": "lucid-operator", "mesh.lucid.io/service": .string(destination.name)],
            "ownerReferences": [CertificateBuilder.ownerReference(destination)],
         ],
         "spec": [
            "podSelector": ["matchLabels": matchLabels(destination.selector)],
            "policyTypes": ["Ingress"],
            "ingress": .array(ingress),
         ]]
    }

    static func matchLabels(_ labels: [String: String]) -> JSON {
        var o = JSONObject()
        for key in labels.keys.sorted() { o[key] = .string(labels[key] ?? "") }
        return .object(o)
    }
}
