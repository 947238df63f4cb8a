import YAML

extension RegistryEntry.Health {
    /// Health from a Service's EndpointSlices (those labelled `kubernetes.io/service-name` with
    /// its name, in its namespace; others are ignored).
    ///
    /// An endpoint counts once even when it appears in several slices (dual-stack slices list
    /// the same pod twice): by `targetRef.uid`, else by its first address. Endpoints that are
    /// terminating are leaving and do not count. An endpoint is ready unless
    /// `conditions.ready` is false (the API reads an absent value as true). `passing` when
    /// every counted endpoint is ready, `warning` when some are, `critical` when none are or
    /// there are none.
    public static func aggregate(endpointSlices: [JSON], service: String, namespace: String, now: String) -> Self {
        var readiness: [String: Bool] = [:]
        for slice in endpointSlices where belongs(slice, service: service, namespace: namespace) {
            for endpoint in slice["endpoints"]?.arrayValue ?? [] {
                guard let identity = identity(of: endpoint) else { continue }
                let conditions = endpoint["conditions"]
                if conditions?["terminating"]?.boolValue == true { continue }
                let ready = conditions?["ready"]?.boolValue ?? true
                readiness[identity] = (readiness[identity] ?? false) || ready
            }
        }
        let total = readiness.count
        let ready = readiness.values.filter { $0 }.count
        let status: RegistryEntry.HealthStatus = ready == 0 ? .critical : ready == total ? .passing : .warning
        return Self(status: status, ready: ready, total: total, lastHealthCheck: now)
    }

    static func belongs(_ slice: JSON, service: String, namespace: String) -> Bool {
        slice[path: "metadata", "labels", RegistryLabels.serviceName]?.stringValue == service
            && (slice[path: "metadata", "namespace"]?.stringValue ?? "default") == namespace
    }

    static func identity(of endpoint: JSON) -> String? {
        if let uid = endpoint[path: "targetRef", "uid"]?.stringValue, !uid.isEmpty { return "uid:" + uid }
        return endpoint["addresses"]?[0]?.stringValue.map { "ip:" + $0 }
    }
}
