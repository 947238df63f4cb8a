import YAML

/// The `NetworkPolicy` (networking.k8s.io/v1) that enforces plane isolation at the network for
/// one mesh Service, owned by it. The pods its selector picks accept ingress from:
///
/// - the pods of its own plane, by the pod label `mesh.lucid.io/plane: <plane>` (mesh pods carry
///   their Service's plane label in their template), unless a policy denies every caller of the
///   plane that no policy names;
/// - the pods of each Service a SecurityPolicy names as a source and allows something, by that
///   Service's selector;
/// - anywhere, when anonymous callers or other namespaces are allowed something;
///
/// and nothing else (no ingress rule at all when nobody may call). Who may call is decided by
/// the same evaluation as the sidecar's RBAC (`WhoCanCall`), with every named source taken as
/// identified: the network does not depend on certificates, and L7 is the finer check.
///
/// The plane is one pod selector rather than the list of its Services' selectors, so that a
/// Service joining or leaving a plane rewrites no other Service's NetworkPolicy, and a
/// NetworkPolicy's size follows the policies, not the plane. The price: a same-plane caller
/// that a policy denies everything still reaches the pods at L3 (RBAC denies it).
public enum NetworkPolicyBuilder {
    public static func name(_ service: String) -> String { "\(service)-mesh-ingress" }

    /// The NetworkPolicy for `inputs.destination`, from the destination, its SecurityPolicies
    /// and the Services they name. Nil when plane isolation is off or the Service has no selector
    /// (no pods to select): the reconciler removes any it owns then.
    public static func networkPolicy(_ inputs: InboundInputs) -> JSON? {
        let destination = inputs.destination
        guard inputs.settings.planeIsolation == .strict, !destination.selector.isEmpty else { return nil }
        let analysis = SecurityAnalysis(inputs)
        func mayConnect(_ caller: CallerIdentity) -> Bool { WhoCanCall.lines(for: caller, analysis).contains(where: \.allowed) }
        if mayConnect(.anonymous) || mayConnect(.otherMeshIdentity) { return object(destination, ingress: [[:]]) }

        var peers: [JSON] = []
        // A caller of the plane that no policy names ("" is never a Service's name).
        if mayConnect(.service(name: "", plane: destination.plane)) {
            peers.append(["podSelector": ["matchLabels": [MeshService.planeLabel: .string(destination.plane)]]])
        }
        let byName = Dictionary(inputs.services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let named = Set(inputs.policies.filter { $0.spec.destination == destination.name && $0.spec.source != "*" }.map(\.spec.source))
        var seen: Set<[String: String]> = []
        for name in named.sorted() {
            guard let source = byName[name], !source.selector.isEmpty, mayConnect(.service(name: source.name, plane: source.plane)),
                  seen.insert(source.selector).inserted else { continue }
            peers.append(["podSelector": ["matchLabels": matchLabels(source.selector)]])
        }
        return object(destination, ingress: peers.isEmpty ? [] : [["from": .array(peers)]])
    }

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
