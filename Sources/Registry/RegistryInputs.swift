import YAML

/// What the registry reads of a Service: identity, labels, annotations, ports and addresses.
///
/// The entry and the DNS records are computed from this alone, so a cache can keep it (or
/// what it is made from) instead of the whole object; `init(json:)` reads it from a Service as
/// the API returns it.
public struct RegistryService: Sendable, Equatable {
    public struct Port: Sendable, Equatable {
        /// "" when the port has no name.
        public var name: String
        public var number: Int
        public var appProtocol: String?
        /// `TCP`, `UDP` or `SCTP` (the API's default is TCP).
        public var transport: String

        public init(name: String, number: Int, appProtocol: String? = nil, transport: String = "TCP") {
            self.name = name
            self.number = number
            self.appProtocol = appProtocol
            self.transport = transport
        }
    }

    /// "" when missing (the entry then refuses the Service).
    public var name: String
    public var namespace: String
    /// "" when missing (the entry then refuses the Service).
    public var uid: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var ports: [Port]
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    public var type: String
    /// As the API has them: `["None"]` for a headless Service.
    public var clusterIPs: [String]
    public var externalName: String?

    public init(name: String, namespace: String, uid: String, labels: [String: String] = [:], annotations: [String: String] = [:],
                ports: [Port] = [], type: String = "ClusterIP", clusterIPs: [String] = [], externalName: String? = nil) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.labels = labels
        self.annotations = annotations
        self.ports = ports
        self.type = type
        self.clusterIPs = clusterIPs
        self.externalName = externalName
    }

    /// From a Service object; ports without a number are left out.
    public init(json service: JSON) {
        func strings(_ value: JSON?) -> [String: String] {
            var out: [String: String] = [:]
            for (key, value) in value?.objectValue ?? [:] { out[key] = value.stringValue ?? value.jsonText }
            return out
        }
        var ips = (service[path: "spec", "clusterIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        if ips.isEmpty, let ip = service[path: "spec", "clusterIP"]?.stringValue { ips = [ip] }
        self.init(
            name: service[path: "metadata", "name"]?.stringValue ?? "",
            namespace: service[path: "metadata", "namespace"]?.stringValue ?? "default",
            uid: service[path: "metadata", "uid"]?.stringValue ?? "",
            labels: strings(service[path: "metadata", "labels"]),
            annotations: strings(service[path: "metadata", "annotations"]),
            ports: (service[path: "spec", "ports"]?.arrayValue ?? []).compactMap { port in
                guard let number = port["port"]?.intValue, let int = Int(exactly: number) else { return nil }
                return Port(name: port["name"]?.stringValue ?? "", number: int, appProtocol: port["appProtocol"]?.stringValue,
                            transport: port["protocol"]?.stringValue ?? "TCP")
            },
            type: service[path: "spec", "type"]?.stringValue ?? "ClusterIP",
            clusterIPs: ips,
            externalName: service[path: "spec", "externalName"]?.stringValue)
    }

    /// `namespace/name`, for messages.
    public var id: String { "\(namespace)/\(name.isEmpty ? "?" : name)" }

    /// No cluster IP: DNS answers with the ready endpoints' addresses.
    public var isHeadless: Bool { clusterIPs.contains("None") }
}

/// What the registry keeps of one EndpointSlice: the Service it belongs to and its endpoints
/// that are not terminating, each with an identity (so a pod listed in two slices, as
/// dual-stack Services have them, counts once), whether it is ready, and — when ready — its
/// addresses (for a headless Service's DNS records).
public struct EndpointSliceSummary: Sendable, Equatable {
    public struct Endpoint: Sendable, Equatable {
        /// `uid:<targetRef.uid>`, else `ip:<first address>`.
        public var identity: String
        public var ready: Bool
        /// Empty unless ready.
        public var addresses: [String]

        public init(identity: String, ready: Bool, addresses: [String] = []) {
            self.identity = identity
            self.ready = ready
            self.addresses = ready ? addresses : []
        }
    }

    /// Label `kubernetes.io/service-name`; "" when the slice has none.
    public var service: String
    public var namespace: String
    public var endpoints: [Endpoint]

    public init(service: String, namespace: String, endpoints: [Endpoint]) {
        self.service = service
        self.namespace = namespace
        self.endpoints = endpoints
    }

    /// From an EndpointSlice object. An endpoint is ready unless `conditions.ready` is false
    /// (the API reads an absent value as true); terminating endpoints and endpoints without an
    /// identity are left out.
    public init(json slice: JSON) {
        var endpoints: [Endpoint] = []
        for endpoint in slice["endpoints"]?.arrayValue ?? [] {
            let conditions = endpoint["conditions"]
            if conditions?["terminating"]?.boolValue == true { continue }
            let addresses = (endpoint["addresses"]?.arrayValue ?? []).compactMap(\.stringValue)
            let identity: String
            if let uid = endpoint[path: "targetRef", "uid"]?.stringValue, !uid.isEmpty {
                identity = "uid:" + uid
            } else if let first = addresses.first {
                identity = "ip:" + first
            } else {
                continue
            }
            endpoints.append(Endpoint(identity: identity, ready: conditions?["ready"]?.boolValue ?? true, addresses: addresses))
        }
        self.init(service: slice[path: "metadata", "labels", RegistryLabels.serviceName]?.stringValue ?? "",
                  namespace: slice[path: "metadata", "namespace"]?.stringValue ?? "default", endpoints: endpoints)
    }

    /// Whether the slice belongs to the Service `namespace/service`.
    public func belongs(to service: String, namespace: String) -> Bool {
        self.service == service && self.namespace == namespace
    }
}
