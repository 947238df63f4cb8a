import YAML

/// One mesh Service's registry entry: the seed's `ServiceRegistration` (with its
/// `HealthCheckConfig`) plus the health aggregated from the Service's EndpointSlices.
///
/// `encoded()` is canonical — fields in the seed's order, metadata keys sorted, no whitespace —
/// so two equal entries are byte-equal and "unchanged" is a byte comparison.
public struct RegistryEntry: Sendable, Equatable {
    public enum EndpointProtocol: String, Sendable, CaseIterable {
        case http, https, grpc
    }

    /// Where clients reach the service.
    public struct Endpoint: Sendable, Equatable {
        /// The Service's DNS name, `<service>.<namespace>.svc.<cluster domain>`.
        public var host: String
        public var port: Int
        public var `protocol`: EndpointProtocol
        public var path: String

        public init(host: String, port: Int, protocol: EndpointProtocol, path: String) {
            self.host = host
            self.port = port
            self.protocol = `protocol`
            self.path = path
        }
    }

    /// The seed's `HealthCheckConfig`: how the service's health is checked (seconds).
    public struct HealthCheck: Sendable, Equatable {
        public var endpoint: String
        public var interval: Int
        public var timeout: Int
        public var retries: Int

        /// `/health` every 10 s, 5 s timeout, 3 retries.
        public static let defaults = HealthCheck(endpoint: "/health", interval: 10, timeout: 5, retries: 3)

        public init(endpoint: String, interval: Int, timeout: Int, retries: Int) {
            self.endpoint = endpoint
            self.interval = interval
            self.timeout = timeout
            self.retries = retries
        }
    }

    public enum HealthStatus: String, Sendable, CaseIterable {
        /// Every endpoint is ready (and there is at least one).
        case passing
        /// Some endpoints are ready, some are not.
        case warning
        /// No endpoint is ready (or there are none).
        case critical
    }

    /// Health from the Service's EndpointSlices.
    public struct Health: Sendable, Equatable {
        public var status: HealthStatus
        public var ready: Int
        public var total: Int
        /// RFC 3339: when this health was last found to change.
        public var lastHealthCheck: String

        public init(status: HealthStatus, ready: Int, total: Int, lastHealthCheck: String) {
            self.status = status
            self.ready = ready
            self.total = total
            self.lastHealthCheck = lastHealthCheck
        }

        /// Same status and counts (the time aside).
        public func sameCounts(as other: Health) -> Bool {
            status == other.status && ready == other.ready && total == other.total
        }
    }

    /// The Service's uid.
    public var serviceId: String
    public var serviceName: String
    public var cluster: LucidCluster
    public var plane: Plane
    public var endpoint: Endpoint
    public var version: String
    public var metadata: [String: String]
    public var healthCheck: HealthCheck
    public var health: Health

    public init(serviceId: String, serviceName: String, cluster: LucidCluster, plane: Plane, endpoint: Endpoint,
                version: String, metadata: [String: String] = [:], healthCheck: HealthCheck = .defaults, health: Health) {
        self.serviceId = serviceId
        self.serviceName = serviceName
        self.cluster = cluster
        self.plane = plane
        self.endpoint = endpoint
        self.version = version
        self.metadata = metadata
        self.healthCheck = healthCheck
        self.health = health
    }

    /// The entry as a JSON value, fields in a fixed order.
    public var json: JSON {
        var meta = JSONObject()
        for key in metadata.keys.sorted() { meta[key] = .string(metadata[key] ?? "") }
        return [
            "serviceId": .string(serviceId),
            "serviceName": .string(serviceName),
            "cluster": .string(cluster.rawValue),
            "plane": .string(plane.rawValue),
            "endpoint": [
                "host": .string(endpoint.host),
                "port": .int(Int64(endpoint.port)),
                "protocol": .string(endpoint.protocol.rawValue),
                "path": .string(endpoint.path),
            ],
            "version": .string(version),
            "metadata": .object(meta),
            "healthCheck": [
                "endpoint": .string(healthCheck.endpoint),
                "interval": .int(Int64(healthCheck.interval)),
                "timeout": .int(Int64(healthCheck.timeout)),
                "retries": .int(Int64(healthCheck.retries)),
            ],
            "health": [
                "status": .string(health.status.rawValue),
                "ready": .int(Int64(health.ready)),
                "total": .int(Int64(health.total)),
                "lastHealthCheck": .string(health.lastHealthCheck),
            ],
        ]
    }

    /// The canonical bytes written to etcd.
    public func encoded() -> [UInt8] { json.serialized() }

    /// An entry read back from etcd (for example to keep its `lastHealthCheck`); an error when
    /// the bytes are not an entry of this shape (a hand edit, another writer).
    public init(decoding bytes: [UInt8]) throws(RegistryError) {
        let json: JSON
        do { json = try JSON.parse(bytes) } catch {
            throw RegistryError(.invalidEntry, "not JSON: \(error)")
        }
        func string(_ path: String...) throws(RegistryError) -> String {
            guard let value = json[path: path]?.stringValue else {
                throw RegistryError(.invalidEntry, "\(path.joined(separator: ".")) is missing or not a string")
            }
            return value
        }
        func int(_ path: String...) throws(RegistryError) -> Int {
            guard let value = json[path: path]?.intValue, let int = Int(exactly: value) else {
                throw RegistryError(.invalidEntry, "\(path.joined(separator: ".")) is missing or not an integer")
            }
            return int
        }
        func value<T: RawRepresentable>(_ type: T.Type, _ path: String...) throws(RegistryError) -> T where T.RawValue == String {
            guard let raw = json[path: path]?.stringValue, let value = T(rawValue: raw) else {
                throw RegistryError(.invalidEntry, "\(path.joined(separator: ".")) is missing or not a known value")
            }
            return value
        }
        var metadata: [String: String] = [:]
        for (key, value) in json["metadata"]?.objectValue ?? [:] {
            guard let text = value.stringValue else { throw RegistryError(.invalidEntry, "metadata.\(key) is not a string") }
            metadata[key] = text
        }
        self.init(
            serviceId: try string("serviceId"), serviceName: try string("serviceName"),
            cluster: try value(LucidCluster.self, "cluster"), plane: try value(Plane.self, "plane"),
            endpoint: Endpoint(host: try string("endpoint", "host"), port: try int("endpoint", "port"),
                               protocol: try value(EndpointProtocol.self, "endpoint", "protocol"), path: try string("endpoint", "path")),
            version: try string("version"), metadata: metadata,
            healthCheck: HealthCheck(endpoint: try string("healthCheck", "endpoint"), interval: try int("healthCheck", "interval"),
                                     timeout: try int("healthCheck", "timeout"), retries: try int("healthCheck", "retries")),
            health: Health(status: try value(HealthStatus.self, "health", "status"), ready: try int("health", "ready"),
                           total: try int("health", "total"), lastHealthCheck: try string("health", "lastHealthCheck")))
    }
}

extension JSON {
    subscript(path keys: [String]) -> JSON? {
        keys.reduce(Optional(self)) { $0?[$1] }
    }
}
