import LucidAPI
import YAML

/// A CircuitBreakerConfig in Envoy's terms, with the seed DestinationRule's defaults for what
/// it leaves unset (100 connections, 50 pending, 2 requests per connection, 3 retries, sweeps
/// every 30 s, at most 50 % ejected) and Envoy's own 1024 requests in flight.
struct BreakerSettings: Equatable {
    var consecutive5xx: Int
    /// Milliseconds; every ejection lasts exactly this long.
    var ejectionTime: Int
    var interval: Int
    var maxEjectionPercent: Int
    var maxConnections: Int
    var maxPendingRequests: Int
    var maxRequests: Int
    var maxRetries: Int
    var maxRequestsPerConnection: Int

    init(_ spec: CircuitBreakerConfigSpec) {
        consecutive5xx = spec.failureThreshold
        ejectionTime = spec.recoveryTimeout
        interval = spec.outlierDetection?.interval ?? 30_000
        maxEjectionPercent = spec.outlierDetection?.maxEjectionPercent ?? 50
        maxConnections = spec.connectionPool?.maxConnections ?? 100
        maxPendingRequests = spec.connectionPool?.http1MaxPendingRequests ?? 50
        maxRequests = spec.connectionPool?.maxRequests ?? 1024
        maxRetries = spec.connectionPool?.maxRetries ?? 3
        maxRequestsPerConnection = spec.connectionPool?.maxRequestsPerConnection ?? 2
    }

    /// `outlier_detection`: Envoy multiplies the ejection time by the number of times a host has
    /// been ejected, up to `max_ejection_time`; setting both to recoveryTimeout keeps every
    /// ejection at recoveryTimeout, as declared.
    var outlierDetection: JSON {
        ["consecutive_5xx": .int(Int64(consecutive5xx)),
         "interval": .string(EnvoyJSON.duration(milliseconds: interval)),
         "base_ejection_time": .string(EnvoyJSON.duration(milliseconds: ejectionTime)),
         "max_ejection_time": .string(EnvoyJSON.duration(milliseconds: ejectionTime)),
         "max_ejection_percent": .int(Int64(maxEjectionPercent))]
    }

    /// `circuit_breakers`: the connection-pool limits, for default-priority traffic.
    var circuitBreakers: JSON {
        ["thresholds": [["priority": "DEFAULT",
                         "max_connections": .int(Int64(maxConnections)),
                         "max_pending_requests": .int(Int64(maxPendingRequests)),
                         "max_requests": .int(Int64(maxRequests)),
                         "max_retries": .int(Int64(maxRetries))]]]
    }

    /// `typed_extension_protocol_options`: requests per connection live in the upstream HTTP
    /// protocol options now (the cluster's own field is deprecated); HTTP/1.1 upstream, as a
    /// cluster without options speaks.
    var protocolOptions: JSON {
        [EnvoyJSON.httpProtocolOptionsName: [
            "@type": .string(EnvoyJSON.typeURL(EnvoyJSON.httpProtocolOptionsName)),
            "common_http_protocol_options": ["max_requests_per_connection": .int(Int64(maxRequestsPerConnection))],
            "explicit_http_config": ["http_protocol_options": [:]],
        ]]
    }

    /// The fields of `spec` that Envoy cannot enforce, and why (status `unhonoured`).
    static func unhonoured(_ spec: CircuitBreakerConfigSpec) -> [UnhonouredField] {
        var fields: [UnhonouredField] = []
        if spec.halfOpenMaxCalls != nil {
            fields.append(UnhonouredField(field: "spec.halfOpenMaxCalls",
                reason: "Envoy has no half-open state with a call budget: when recoveryTimeout ends, an ejected host takes its full share of traffic again, and failureThreshold consecutive failures eject it again"))
        }
        if spec.successThreshold != nil {
            fields.append(UnhonouredField(field: "spec.successThreshold",
                reason: "Envoy does not count successes to close a breaker: an ejected host returns when its ejection time (recoveryTimeout) ends"))
        }
        return fields
    }
}

/// Step 3 of a render: the breaker for each Service this sidecar calls. One CircuitBreakerConfig
/// per Service: of several, the oldest valid one wins (creation time, then name) and the others
/// report `Conflict`; an invalid one reports `Invalid` and takes no part.
struct BreakerPlan {
    /// Service name → the winner's settings.
    var settings: [String: BreakerSettings] = [:]
    /// A report for every breaker of a Service with a cluster in this sidecar.
    var reports: [String: PolicyReport] = [:]

    init(_ breakers: [SidecarRenderer.Breaker], upstreams: [String: MeshService], sidecar: String) {
        let ordered = breakers.sorted { ($0.creationTimestamp, $0.name) < ($1.creationTimestamp, $1.name) }
        for service in upstreams.keys.sorted() {
            var winner: SidecarRenderer.Breaker?
            for breaker in ordered where breaker.spec.service == service {
                if let problems = Self.problems(breaker.spec) {
                    reports[breaker.name] = .notApplied("Invalid", problems)
                } else if let first = winner {
                    let message = "CircuitBreakerConfig \(first.name) is older and already sets the breaker for \(service): one config per service; delete this one, or move its settings into \(first.name)"
                    reports[breaker.name] = PolicyReport(outcome: .notApplied(reason: "Conflict", message: message), conflicts: [message])
                } else {
                    winner = breaker
                    settings[service] = BreakerSettings(breaker.spec)
                    reports[breaker.name] = PolicyReport(outcome: .applied, appliedTo: [sidecar], unhonoured: BreakerSettings.unhonoured(breaker.spec))
                }
            }
        }
    }

    /// The CRD's rules and the semantic ones, or nil when the spec passes them.
    private static func problems(_ spec: CircuitBreakerConfigSpec) -> String? {
        let errors: [String]
        do {
            errors = CircuitBreakerConfig.validate(specJSON: try JSON.encode(spec)).map(\.description)
        } catch {
            errors = ["spec: cannot be encoded: \(error)"]
        }
        return errors.isEmpty ? nil : errors.joined(separator: "; ")
    }
}
