import StructuralSchema

/// A breaker for one service, applied in every caller's sidecar (seed: CircuitBreakerConfig,
/// with the DestinationRule's connection-pool limits).
public struct CircuitBreakerConfigSpec: Codable, Sendable, Equatable {
    /// The protected service.
    public var service: String
    /// Consecutive failures (5xx, resets) before a host is ejected.
    public var failureThreshold: Int
    /// Milliseconds an ejected host stays out.
    public var recoveryTimeout: Int
    /// Calls allowed while half-open. Envoy has no half-open state: reported, not honoured.
    public var halfOpenMaxCalls: Int?
    /// Successes needed to close. Envoy has no half-open state: reported, not honoured.
    public var successThreshold: Int?
    public var connectionPool: ConnectionPool?
    public var outlierDetection: OutlierDetection?

    public init(service: String, failureThreshold: Int, recoveryTimeout: Int, halfOpenMaxCalls: Int? = nil,
                successThreshold: Int? = nil, connectionPool: ConnectionPool? = nil, outlierDetection: OutlierDetection? = nil) {
        self.service = service
        self.failureThreshold = failureThreshold
        self.recoveryTimeout = recoveryTimeout
        self.halfOpenMaxCalls = halfOpenMaxCalls
        self.successThreshold = successThreshold
        self.connectionPool = connectionPool
        self.outlierDetection = outlierDetection
    }
}

/// Connection-pool limits (the seed DestinationRule's), enforced by each caller's sidecar for its
/// own traffic to the service. Unset fields take the seed's defaults.
public struct ConnectionPool: Codable, Sendable, Equatable {
    /// Connections open to the service at once (default 100).
    public var maxConnections: Int?
    /// Requests waiting for a connection (default 50).
    public var http1MaxPendingRequests: Int?
    /// Requests sent over one connection before it is closed (default 2).
    public var maxRequestsPerConnection: Int?
    /// Retries in flight at once (default 3).
    public var maxRetries: Int?
    /// Requests in flight at once (default 1024, Envoy's own; Istio's `http2MaxRequests`).
    public var maxRequests: Int?

    public init(maxConnections: Int? = nil, http1MaxPendingRequests: Int? = nil, maxRequestsPerConnection: Int? = nil,
                maxRetries: Int? = nil, maxRequests: Int? = nil) {
        self.maxConnections = maxConnections
        self.http1MaxPendingRequests = http1MaxPendingRequests
        self.maxRequestsPerConnection = maxRequestsPerConnection
        self.maxRetries = maxRetries
        self.maxRequests = maxRequests
    }
}

/// How ejection is swept (the seed DestinationRule's outlier detection).
public struct OutlierDetection: Codable, Sendable, Equatable {
    /// Milliseconds between ejection sweeps (default 30000).
    public var interval: Int?
    /// The largest share of the service's hosts ejected at once, in percent (default 50).
    public var maxEjectionPercent: Int?

    public init(interval: Int? = nil, maxEjectionPercent: Int? = nil) {
        self.interval = interval
        self.maxEjectionPercent = maxEjectionPercent
    }
}

public enum CircuitBreakerConfigKind: ResourceKind {
    public typealias Spec = CircuitBreakerConfigSpec
    public typealias Status = PolicyStatus

    public static let group = "mesh.lucid.io"
    public static let kind = "CircuitBreakerConfig"
    public static let plural = "circuitbreakerconfigs"
    public static let shortNames = ["cb", "cbc"]
    public static let description = "CircuitBreakerConfig declares the breaker for one service: failure threshold, recovery timeout and connection-pool limits. It becomes cluster settings for that service in every caller's sidecar."

    public static let specSchema = Schema.object(
        "Breaker settings for one service.", required: ["service", "failureThreshold", "recoveryTimeout"],
        rules: [Schema.Rule("!has(self.successThreshold) || !has(self.halfOpenMaxCalls) || self.successThreshold <= self.halfOpenMaxCalls",
                            message: "successThreshold cannot exceed halfOpenMaxCalls", fieldPath: ".successThreshold")],
        [
            "service": .string("The protected service.", pattern: dnsLabelPattern, maxLength: 63),
            "failureThreshold": .integer("Consecutive failures before a host is ejected.", minimum: 1, maximum: 1000, format: "int32"),
            "recoveryTimeout": .integer("Milliseconds an ejected host stays out.", minimum: 1000, maximum: 3_600_000, format: "int32"),
            "halfOpenMaxCalls": .integer("Calls allowed half-open (not honoured by Envoy; see status).", minimum: 1, maximum: 1000, default: 3, format: "int32"),
            "successThreshold": .integer("Successes to close (not honoured by Envoy; see status).", minimum: 1, maximum: 1000, default: 3, format: "int32"),
            "connectionPool": .object("Connection-pool limits.", [
                "maxConnections": .integer(minimum: 1, maximum: 100_000, default: 100, format: "int32"),
                "http1MaxPendingRequests": .integer(minimum: 1, maximum: 100_000, default: 50, format: "int32"),
                "maxRequestsPerConnection": .integer(minimum: 1, maximum: 100_000, default: 2, format: "int32"),
                "maxRetries": .integer(minimum: 0, maximum: 1000, default: 3, format: "int32"),
                "maxRequests": .integer("Requests in flight at once (Istio's http2MaxRequests).", minimum: 1, maximum: 1_000_000, default: 1024, format: "int32"),
            ]),
            "outlierDetection": .object("Ejection sweep settings.", [
                "interval": .integer("Milliseconds between sweeps.", minimum: 1000, maximum: 3_600_000, default: 30_000, format: "int32"),
                "maxEjectionPercent": .integer(minimum: 0, maximum: 100, default: 50, format: "int32"),
            ]),
        ])

    public static let statusSchema = PolicyStatus.schema

    public static let printerColumns = [
        PrinterColumn("Service", "string", ".spec.service"),
        PrinterColumn("Failures", "integer", ".spec.failureThreshold", description: "Failures before ejection"),
        PrinterColumn.ready,
        PrinterColumn.age,
    ]

    public static func semanticErrors(_ spec: CircuitBreakerConfigSpec) -> [FieldError] {
        if let s = spec.successThreshold, let h = spec.halfOpenMaxCalls, s > h {
            return [FieldError(.invalid, "spec.successThreshold", "Invalid value: \(s): cannot exceed halfOpenMaxCalls (\(h))")]
        }
        return []
    }
}

public typealias CircuitBreakerConfig = Resource<CircuitBreakerConfigKind>
