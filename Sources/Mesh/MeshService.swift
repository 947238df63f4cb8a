import YAML

/// A Service that is part of the mesh: labelled `mesh.lucid.io/cluster` and `mesh.lucid.io/plane`.
public struct MeshService: Sendable, Equatable {
    public static let clusterLabel = "mesh.lucid.io/cluster"
    public static let planeLabel = "mesh.lucid.io/plane"
    public static let planes: Set<String> = ["ops", "chain", "wallet"]

    public var name: String
    public var namespace: String
    public var uid: String
    /// One of the nine Lucid clusters (the logical service; several Services may share it).
    public var cluster: String
    public var plane: String
    public var port: Int
    /// The application's port behind `port` (the Service's `targetPort`, which defaults to
    /// `port`); nil when the Service names it, since the number is then only in the pods.
    public var targetPort: Int?
    /// The Service's pod selector: the pods a NetworkPolicy for this Service selects.
    public var selector: [String: String]

    public init(name: String, namespace: String, uid: String, cluster: String, plane: String, port: Int,
                targetPort: Int? = nil, selector: [String: String] = [:]) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.cluster = cluster
        self.plane = plane
        self.port = port
        self.targetPort = targetPort ?? port
        self.selector = selector
    }

    /// A mesh Service from a Service object; nil when it lacks the labels or has a plane outside
    /// ops/chain/wallet.
    public init?(_ service: JSON) {
        guard let name = service[path: "metadata", "name"]?.stringValue,
              let labels = service[path: "metadata", "labels"]?.objectValue,
              let cluster = labels[Self.clusterLabel]?.stringValue, !cluster.isEmpty,
              let plane = labels[Self.planeLabel]?.stringValue, Self.planes.contains(plane) else { return nil }
        let port = Int(service[path: "spec", "ports"]?[0]?["port"]?.intValue ?? 80)
        let target = service[path: "spec", "ports"]?[0]?["targetPort"]
        var selector: [String: String] = [:]
        for (key, value) in service[path: "spec", "selector"]?.objectValue ?? [:] {
            if let value = value.stringValue { selector[key] = value }
        }
        self.init(name: name, namespace: service[path: "metadata", "namespace"]?.stringValue ?? "default",
                  uid: service[path: "metadata", "uid"]?.stringValue ?? "", cluster: cluster, plane: plane,
                  port: port, selector: selector)
        switch target {
        case nil, .null?: targetPort = port
        case let value?: targetPort = value.intValue.map(Int.init)
        }
    }

    public var fqdn: String { "\(name).\(namespace).svc.cluster.local" }
    /// Envoy cluster name, Istio-style.
    public var clusterName: String { "outbound|\(port)||\(fqdn)" }
    public var domains: [String] {
        [name, "\(name):\(port)", "\(name).\(namespace)", "\(name).\(namespace).svc", fqdn, "\(fqdn):\(port)"]
    }
    /// The sidecar ConfigMap's name.
    public var sidecarName: String { "\(name)-sidecar" }
}
