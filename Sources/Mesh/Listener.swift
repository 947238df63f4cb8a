import YAML

/// Step 5 of a render: the outbound listener the application sends its calls to
/// (127.0.0.1:15001), with the route table inline.
enum Listener {
    static let outboundPort: Int64 = 15001

    static func outbound(_ service: MeshService, virtualHosts: [JSON]) -> JSON {
        let manager: JSON = [
            "@type": .string(EnvoyJSON.typeURL("envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager")),
            "stat_prefix": "outbound",
            // Envoy reloads cds.json and lds.json one after the other, in no fixed order. With
            // the default (true for an inline route table) a route to a cluster that is new in
            // the same change fails the whole listener update when lds.json is read first, and
            // nothing retries a file. Like Istio, the table loads anyway; a route to a cluster
            // still warming answers 503 for that moment. Every cluster a route names is checked
            // to be in cds.json before the config is written (the Envoy check in the tests).
            "route_config": ["name": "outbound", "validate_clusters": false, "virtual_hosts": .array(virtualHosts)],
            "local_reply_config": ["mappers": [noRoute(service)]],
            "http_filters": [["name": "envoy.filters.http.router",
                              "typed_config": ["@type": .string(EnvoyJSON.typeURL("envoy.extensions.filters.http.router.v3.Router"))]]],
        ]
        return [
            "@type": .string(EnvoyJSON.typeURL("envoy.config.listener.v3.Listener")), "name": "outbound",
            "address": ["socket_address": ["address": "127.0.0.1", "port_value": .int(outboundPort)]],
            "filter_chains": [["filters": [["name": "envoy.filters.network.http_connection_manager", "typed_config": manager]]]],
        ]
    }

    /// A call to a host no TrafficPolicy of this source names finds no virtual host (Envoy's
    /// `NR` flag): the caller gets a 404 whose body names the host and the policy to create.
    private static func noRoute(_ service: MeshService) -> JSON {
        let text = "lucid: no TrafficPolicy routes \(service.name) to %REQ(:AUTHORITY)%: create one in namespace \(service.namespace) with spec.source \(service.name) and spec.destination the Service it calls\n"
        return [
            "filter": ["response_flag_filter": ["flags": ["NR"]]],
            "status_code": 404,
            "body_format_override": ["text_format_source": ["inline_string": .string(text)], "content_type": "text/plain"],
            "headers_to_add": [["header": ["key": "x-lucid-no-route", "value": .string(service.name)],
                                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"]],
        ]
    }
}
