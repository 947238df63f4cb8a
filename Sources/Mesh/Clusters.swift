import YAML

/// Step 4 of a render: one Envoy cluster per upstream Service, found by DNS through its
/// cluster-local name, with the Service's breaker and upstream transport socket when it has them.
enum Clusters {
    static func cluster(_ service: MeshService, breaker: BreakerSettings?, transportSocket: JSON?) -> JSON {
        var cluster: JSON = [
            "@type": .string(EnvoyJSON.typeURL("envoy.config.cluster.v3.Cluster")),
            "name": .string(service.clusterName), "type": "STRICT_DNS", "connect_timeout": "1s", "lb_policy": "ROUND_ROBIN",
            "load_assignment": [
                "cluster_name": .string(service.clusterName),
                "endpoints": [["lb_endpoints": [["endpoint": ["address": ["socket_address": [
                    "address": .string(service.fqdn), "port_value": .int(Int64(service.port))]]]]]]],
            ],
        ]
        if let breaker {
            cluster["circuit_breakers"] = breaker.circuitBreakers
            cluster["outlier_detection"] = breaker.outlierDetection
            cluster["typed_extension_protocol_options"] = breaker.protocolOptions
        }
        if let transportSocket { cluster["transport_socket"] = transportSocket }
        return cluster
    }
}
