import LucidAPI
import YAML

/// The pieces of the inbound listener: filter chains, HTTP filters, clusters, Secret files.
struct InboundFilters {
    /// Set by the API-key filters to `<secret>/<entry>` of the key that came; dropped first from
    /// what the client sent, so only a verified key can set it.
    static let apiKeyClientHeader = "x-lucid-api-key-client"

    var analysis: SecurityAnalysis
    var settings: SecuritySettings

    var destination: MeshService { analysis.destination }

    func filterChain(_ chain: InboundChain, targetPort: Int) -> JSON {
        var o: JSON = [
            "name": .string("inbound-\(chain.rawValue)"),
            "filter_chain_match": ["transport_protocol": chain == .mtls ? "tls" : "raw_buffer"],
            "filters": [["name": "envoy.filters.network.http_connection_manager", "typed_config": connectionManager(chain, targetPort: targetPort)]],
        ]
        if chain == .mtls { o["transport_socket"] = MeshTLS.downstreamTransportSocket(trustDomain: settings.trustDomain) }
        return o
    }

    func connectionManager(_ chain: InboundChain, targetPort: Int) -> JSON {
        let rbac = InboundRBAC(program: analysis.program, chain: chain, identities: analysis.identities,
                               planePrefix: MeshIdentity.planePrefix(namespace: destination.namespace, plane: destination.plane,
                                                                     trustDomain: settings.trustDomain))
        var filters: [JSON] = [stripClientHeader]
        if let jwt = jwtAuthentication { filters.append(["name": "envoy.filters.http.jwt_authn", "typed_config": jwt]) }
        for header in analysis.apiKeys.keys.sorted() {
            filters.append(["name": .string(apiKeyFilterName(header)),
                            "config_discovery": [
                                "config_source": ["path_config_source": ["path": .string("\(InboundRenderer.keysDirectory)/\(apiKeyFile(header))"),
                                                                         "watched_directory": ["path": .string(InboundRenderer.keysDirectory)]],
                                                  "resource_api_version": "V3"],
                                "type_urls": ["type.googleapis.com/envoy.extensions.common.matching.v3.ExtensionWithMatcher"],
                            ]])
        }
        filters.append(["name": "envoy.filters.http.rbac", "typed_config": rbac.config])
        filters.append(["name": "envoy.filters.http.router",
                        "typed_config": ["@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"]])
        var hcm: JSON = [
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": .string("inbound_\(chain.rawValue)"),
            "codec_type": "AUTO",
            "normalize_path": true,
            "merge_slashes": true,
            "path_with_escaped_slashes_action": "UNESCAPE_AND_FORWARD",
            "route_config": ["name": "inbound", "virtual_hosts": [[
                "name": "inbound", "domains": ["*"],
                "routes": [["name": "application", "match": ["prefix": "/"],
                            "route": ["cluster": .string(applicationClusterName(targetPort)), "timeout": "0s"]]],
            ]]],
            "http_filters": .array(filters),
            "access_log": [accessLog(chain)],
        ]
        if chain == .mtls {
            // The application gets the caller's identity in x-forwarded-client-cert; a client-sent one is replaced.
            hcm["forward_client_cert_details"] = "SANITIZE_SET"
            hcm["set_current_client_cert_details"] = ["uri": true]
        } else {
            hcm["forward_client_cert_details"] = "SANITIZE"
        }
        return hcm
    }

    var stripClientHeader: JSON {
        ["name": "lucid.strip-api-key-client",
         "typed_config": ["@type": "type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutation",
                          "mutations": ["request_mutations": [["remove": .string(Self.apiKeyClientHeader)]]]]]
    }

    /// Verifies a bearer token when one comes and puts its payload in the dynamic metadata under
    /// the provider's name; rejects nothing (`allow_missing_or_failed`), so that RBAC decides
    /// with the caller's identity in view. Audiences, roles and permissions are checked in RBAC.
    var jwtAuthentication: JSON? {
        guard !analysis.providers.isEmpty else { return nil }
        var providers = JSONObject()
        for p in analysis.providers {
            providers[p.name] = [
                "issuer": .string(p.key.issuer),
                "remote_jwks": [
                    "http_uri": ["uri": .string(p.key.jwksUri), "cluster": .string(p.endpoint.clusterName), "timeout": "5s"],
                    "cache_duration": "300s",
                    "async_fetch": [:],
                ],
                "require_expiration": true,
                "forward": true,
                "payload_in_metadata": .string(p.name),
            ]
        }
        let requirements: [JSON] = analysis.providers.map { ["provider_name": .string($0.name)] } + [["allow_missing_or_failed": [:]]]
        return ["@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
                "providers": .object(providers),
                "rules": [["match": ["prefix": "/"], "requires": ["requires_any": ["requirements": .array(requirements)]]]]]
    }

    var jwksClusters: [JSON] {
        var seen: Set<String> = []
        var clusters: [JSON] = []
        for p in analysis.providers where seen.insert(p.endpoint.clusterName).inserted {
            let e = p.endpoint
            var cluster: JSON = [
                "@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
                "name": .string(e.clusterName),
                "type": e.isIP ? "STATIC" : "STRICT_DNS",
                "connect_timeout": "5s",
                "load_assignment": ["cluster_name": .string(e.clusterName), "endpoints": [["lb_endpoints": [["endpoint": ["address": [
                    "socket_address": ["address": .string(e.host), "port_value": .int(Int64(e.port))]]]]]]]],
            ]
            if e.tls {
                var tls: JSON = [
                    "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                    "common_tls_context": ["validation_context": [
                        "trusted_ca": ["filename": .string(settings.jwksCAFile)],
                        "match_typed_subject_alt_names": [["san_type": e.isIP ? "IP_ADDRESS" : "DNS", "matcher": ["exact": .string(e.host)]]],
                    ]],
                ]
                if !e.isIP { tls["sni"] = .string(e.host) }
                cluster["transport_socket"] = ["name": "envoy.transport_sockets.tls", "typed_config": tls]
            }
            clusters.append(cluster)
        }
        return clusters
    }

    func applicationClusterName(_ port: Int) -> String { "inbound|\(port)||" }

    func applicationCluster(targetPort: Int) -> JSON {
        let name = applicationClusterName(targetPort)
        return ["@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": .string(name), "type": "STATIC",
                "connect_timeout": "1s",
                "load_assignment": ["cluster_name": .string(name), "endpoints": [["lb_endpoints": [["endpoint": ["address": [
                    "socket_address": ["address": "127.0.0.1", "port_value": .int(Int64(targetPort))]]]]]]]]]
    }

    func apiKeyFilterName(_ header: String) -> String { "lucid.api_key_auth.\(header)" }
    func apiKeyFile(_ header: String) -> String { "api-keys-\(header).json" }

    /// One ECDS file per key header: `api_key_auth` with the keys, run only when the request
    /// carries the header (otherwise skipped, and RBAC sees no client).
    var secretFiles: [String: String] {
        var files: [String: String] = [:]
        for (header, keys) in analysis.apiKeys {
            let apiKeyAuth: JSON = [
                "@type": "type.googleapis.com/envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuth",
                "credentials": .array(keys.map { ["key": .string(String(decoding: $0.key, as: UTF8.self)), "client": .string($0.client)] }),
                "key_sources": [["header": .string(header)]],
                "forwarding": ["header": .string(Self.apiKeyClientHeader), "hide_credentials": true],
            ]
            let skipWithoutHeader: JSON = ["matcher_list": ["matchers": [[
                "predicate": ["not_matcher": ["single_predicate": [
                    "input": ["name": "request-header",
                              "typed_config": ["@type": "type.googleapis.com/envoy.type.matcher.v3.HttpRequestHeaderMatchInput",
                                               "header_name": .string(header)]],
                    "value_match": ["safe_regex": ["google_re2": [:], "regex": ".+"]],
                ]]],
                "on_match": ["action": ["name": "skip",
                                        "typed_config": ["@type": "type.googleapis.com/envoy.extensions.filters.common.matcher.action.v3.SkipFilter"]]],
            ]]]]
            let resource: JSON = ["resources": [[
                "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
                "name": .string(apiKeyFilterName(header)),
                "typed_config": [
                    "@type": "type.googleapis.com/envoy.extensions.common.matching.v3.ExtensionWithMatcher",
                    "xds_matcher": skipWithoutHeader,
                    "extension_config": ["name": "envoy.filters.http.api_key_auth", "typed_config": apiKeyAuth],
                ],
            ]]]
            files[apiKeyFile(header)] = resource.jsonText
        }
        return files
    }

    /// One JSON line per call: who called (certificate URI SAN, API-key client, JWT subject),
    /// what, the answer, and the RBAC step that decided (a denial's policy is in `details`, an
    /// allowing step in `allowed_by`).
    func accessLog(_ chain: InboundChain) -> JSON {
        var format: JSONObject = [
            "time": "%START_TIME%",
            "log": "lucid-inbound",
            "destination": .string("\(destination.namespace)/\(destination.name)"),
            "transport": .string(chain.rawValue),
            "caller": "%DOWNSTREAM_PEER_URI_SAN%",
            "source_address": "%DOWNSTREAM_REMOTE_ADDRESS%",
            "method": "%REQ(:METHOD)%",
            "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
            "status": "%RESPONSE_CODE%",
            "details": "%RESPONSE_CODE_DETAILS%",
            "allowed_by": "%DYNAMIC_METADATA(envoy.filters.http.rbac:shadow_effective_policy_id)%",
            "api_key_client": .string("%REQ(\(Self.apiKeyClientHeader.uppercased()))%"),
            "request_id": "%REQ(X-REQUEST-ID)%",
        ]
        for p in analysis.providers {
            format["jwt_subject.\(p.name)"] = .string("%DYNAMIC_METADATA(\(InboundRBAC.jwtFilter):\(p.name):sub)%")
        }
        return ["name": "envoy.access_loggers.file",
                "typed_config": ["@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                                 "path": "/dev/stdout", "log_format": ["json_format": .object(format)]]]
    }
}
