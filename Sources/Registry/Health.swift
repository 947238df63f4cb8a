import YAML

extension RegistryEntry.Health {
    /// Health from a Service's EndpointSlices as the API returns them (see the summary form).
    public static func aggregate(endpointSlices: [JSON], service: String, namespace: String, now: String) -> Self {
        aggregate(endpointSlices.map(EndpointSliceSummary.init(json:)), service: service, namespace: namespace, now: now)
    }

    /// Health from a Service's EndpointSlices (those labelled `kubernetes.io/service-name` with
    /// its name, in its namespace; others are ignored).
    ///
    /// An endpoint counts once even when it appears in several slices (dual-stack slices list
    /// the same pod twice): by `targetRef.uid`, else by its first address. Endpoints that are
    /// terminating are leaving and do not count. An endpoint is ready unless
    /// `conditions.ready` is false (the API reads an absent value as true). `passing` when
    /// every counted endpoint is ready, `warning` when some are, `critical` when none are or
    /// there are none.
    public static func aggregate(_ slices: [EndpointSliceSummary], service: String, namespace: String, now: String) -> Self {
        var readiness: [String: Bool] = [:]
        for slice in slices where slice.belongs(to: service, namespace: namespace) {
            for endpoint in slice.endpoints {
                readiness[endpoint.identity] = (readiness[endpoint.identity] ?? false) || endpoint.ready
            }
        }
        let total = readiness.count
        let ready = readiness.values.filter { $0 }.count
        let status: RegistryEntry.HealthStatus = ready == 0 ? .critical : ready == total ? .passing : .warning
        return Self(status: status, ready: ready, total: total, lastHealthCheck: now)
    }
}
