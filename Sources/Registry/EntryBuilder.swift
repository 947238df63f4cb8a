import YAML

extension RegistryEntry {
    /// The entry of a Service (a JSON object as the API returns it), with the health of its
    /// EndpointSlices (slices of other Services are ignored) as of `now` (RFC 3339).
    ///
    /// Field by field:
    /// - `serviceId`: `metadata.uid`; `serviceName`: `metadata.name`.
    /// - `cluster`: label `mesh.lucid.io/cluster`, one of the nine `LucidCluster`s; `plane`:
    ///   label `mesh.lucid.io/plane` (ops, chain, wallet). Anything else is an error.
    /// - `endpoint`: host `<name>.<namespace>.svc.<cluster domain>`; the port named (or numbered)
    ///   by annotation `mesh.lucid.io/port`, else the first; protocol from the port's
    ///   `appProtocol`, else its name (`http`, `http2`, `https`, `grpc`, `grpc-web`, with an
    ///   optional `-suffix` as in Istio), else `http`; path from annotation `mesh.lucid.io/path`
    ///   (default `/`). A port that declares another protocol (tcp, udp, redis, ...) is an error.
    /// - `version`: label `app.kubernetes.io/version` (default `unknown`).
    /// - `metadata`: annotations `mesh.lucid.io/metadata.<key>`.
    /// - `healthCheck`: annotations `mesh.lucid.io/health-check-{path,interval,timeout,retries}`
    ///   (defaults `/health`, 10 s, 5 s, 3; whole seconds; the timeout may not exceed the interval,
    ///   and its default shrinks to a shorter interval).
    /// - `health`: see `Health.aggregate`.
    public init(service: JSON, endpointSlices: [JSON], options: RegistryOptions, now: String) throws(RegistryError) {
        try self.init(service: RegistryService(json: service), endpointSlices: endpointSlices.map(EndpointSliceSummary.init(json:)),
                      options: options, now: now)
    }

    /// The entry of a Service as the registry reads it (see `init(service:endpointSlices:options:now:)`
    /// for the JSON form and the rules, field by field).
    public init(service: RegistryService, endpointSlices: [EndpointSliceSummary], options: RegistryOptions, now: String) throws(RegistryError) {
        let id = service.id
        guard !service.name.isEmpty, !service.uid.isEmpty else {
            throw RegistryError(.missingField, "the Service has no metadata.name or metadata.uid", service: id)
        }
        let cluster = try Self.cluster(service, id)
        let plane = try Self.plane(service, id)
        let port = try Self.port(service, id)
        let endpoint = Endpoint(host: "\(service.name).\(service.namespace).svc.\(options.clusterDomain)", port: port.number,
                                protocol: try Self.protocol(of: port, id), path: try Self.path(service, id))
        self.init(serviceId: service.uid, serviceName: service.name, cluster: cluster, plane: plane, endpoint: endpoint,
                  version: service.labels[RegistryLabels.version].flatMap { $0.isEmpty ? nil : $0 } ?? "unknown",
                  metadata: try Self.metadata(service, id), healthCheck: try Self.healthCheck(service, id),
                  health: Health.aggregate(endpointSlices, service: service.name, namespace: service.namespace, now: now))
    }

    /// The same entry with `previous`'s `lastHealthCheck` when the health has not changed, so
    /// recomputing an unchanged entry gives the same bytes (and no write).
    public func keepingHealthTime(of previous: RegistryEntry?) -> RegistryEntry {
        guard let previous, previous.health.sameCounts(as: health) else { return self }
        var entry = self
        entry.health.lastHealthCheck = previous.health.lastHealthCheck
        return entry
    }

    // MARK: steps

    private static func cluster(_ service: RegistryService, _ id: String) throws(RegistryError) -> LucidCluster {
        guard let raw = service.labels[RegistryLabels.cluster], !raw.isEmpty else {
            throw RegistryError(.missingClusterLabel, "label \(RegistryLabels.cluster) is missing; set it to one of \(Self.clusterList)", service: id)
        }
        guard let cluster = LucidCluster(rawValue: raw) else {
            throw RegistryError(.unknownCluster, "label \(RegistryLabels.cluster)=\(raw) is not a Lucid cluster; use one of \(Self.clusterList)", service: id)
        }
        return cluster
    }

    private static var clusterList: String { LucidCluster.allCases.map(\.rawValue).joined(separator: ", ") }

    private static func plane(_ service: RegistryService, _ id: String) throws(RegistryError) -> Plane {
        guard let raw = service.labels[RegistryLabels.plane], !raw.isEmpty else {
            throw RegistryError(.missingPlaneLabel, "label \(RegistryLabels.plane) is missing; set it to ops, chain or wallet", service: id)
        }
        guard let plane = Plane(rawValue: raw) else {
            throw RegistryError(.unknownPlane, "label \(RegistryLabels.plane)=\(raw) is not a plane; use ops, chain or wallet", service: id)
        }
        return plane
    }

    private static func port(_ service: RegistryService, _ id: String) throws(RegistryError) -> RegistryService.Port {
        let ports = service.ports
        guard let first = ports.first else {
            throw RegistryError(.noPorts, "the Service has no ports to register", service: id)
        }
        guard let wanted = service.annotations[RegistryLabels.port] else { return first }
        guard let port = ports.first(where: { $0.name == wanted || String($0.number) == wanted }) else {
            let known = ports.map { $0.name.isEmpty ? String($0.number) : "\($0.name) (\($0.number))" }.joined(separator: ", ")
            throw RegistryError(.unknownPort, "annotation \(RegistryLabels.port)=\(wanted) names no port of the Service; it has \(known)", service: id)
        }
        return port
    }

    /// Protocols a port may declare that are not HTTP: such a port cannot be registered.
    static let otherProtocols: Set<String> = ["tcp", "tls", "udp", "sctp", "mongo", "mysql", "redis", "kafka", "amqp", "postgres", "zookeeper"]

    private static func `protocol`(of port: RegistryService.Port, _ id: String) throws(RegistryError) -> EndpointProtocol {
        guard port.transport.uppercased() == "TCP" else {
            throw RegistryError(.unsupportedProtocol, "port \(port.number) is \(port.transport); the registry holds http, https and grpc endpoints", service: id)
        }
        if let declared = port.appProtocol?.lowercased(), !declared.isEmpty {
            switch declared {
            case "http", "http2", "kubernetes.io/h2c", "kubernetes.io/ws": return .http
            case "https", "kubernetes.io/wss": return .https
            case "grpc", "grpc-web": return .grpc
            default:
                throw RegistryError(.unsupportedProtocol, "port \(port.number) has appProtocol \(declared); use http, https or grpc", service: id)
            }
        }
        let family = port.name.lowercased().split(separator: "-", maxSplits: 1).first.map(String.init) ?? ""
        switch family {
        case "http", "http2": return .http
        case "https": return .https
        case "grpc": return .grpc
        case let other where otherProtocols.contains(other):
            throw RegistryError(.unsupportedProtocol, "port \(port.name) (\(port.number)) is named for \(other); the registry holds http, https and grpc endpoints", service: id)
        default: return .http
        }
    }

    private static func path(_ service: RegistryService, _ id: String) throws(RegistryError) -> String {
        guard let path = service.annotations[RegistryLabels.path] else { return "/" }
        guard path.hasPrefix("/") else {
            throw RegistryError(.invalidAnnotation, "annotation \(RegistryLabels.path)=\(path) must be a path starting with /", service: id)
        }
        return path
    }

    private static func metadata(_ service: RegistryService, _ id: String) throws(RegistryError) -> [String: String] {
        var metadata: [String: String] = [:]
        for key in service.annotations.keys.sorted() where key.hasPrefix(RegistryLabels.metadataPrefix) {
            let value = service.annotations[key] ?? ""
            let name = String(key.dropFirst(RegistryLabels.metadataPrefix.count))
            guard !name.isEmpty else {
                throw RegistryError(.invalidAnnotation, "annotation \(key) has no metadata key after \(RegistryLabels.metadataPrefix)", service: id)
            }
            metadata[name] = value
        }
        return metadata
    }

    private static func healthCheck(_ service: RegistryService, _ id: String) throws(RegistryError) -> HealthCheck {
        var check = HealthCheck.defaults
        if let path = service.annotations[RegistryLabels.healthCheckPath] {
            guard path.hasPrefix("/") else {
                throw RegistryError(.invalidAnnotation, "annotation \(RegistryLabels.healthCheckPath)=\(path) must be a path starting with /", service: id)
            }
            check.endpoint = path
        }
        func seconds(_ key: String, _ range: ClosedRange<Int>, _ fallback: Int) throws(RegistryError) -> Int {
            guard let raw = service.annotations[key] else { return fallback }
            guard let value = Int(raw), range.contains(value) else {
                throw RegistryError(.invalidAnnotation, "annotation \(key)=\(raw) must be a whole number in \(range.lowerBound)...\(range.upperBound)", service: id)
            }
            return value
        }
        check.interval = try seconds(RegistryLabels.healthCheckInterval, 1...86_400, check.interval)
        check.timeout = try seconds(RegistryLabels.healthCheckTimeout, 1...86_400, min(check.timeout, check.interval))
        check.retries = try seconds(RegistryLabels.healthCheckRetries, 0...100, check.retries)
        guard check.timeout <= check.interval else {
            throw RegistryError(.invalidAnnotation, "the health-check timeout (\(check.timeout) s) must not exceed its interval (\(check.interval) s)", service: id)
        }
        return check
    }
}
