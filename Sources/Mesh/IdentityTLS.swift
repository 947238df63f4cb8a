import YAML

/// Mesh identities and the TLS that carries them.
///
/// Scheme: `spiffe://<trust-domain>/ns/<namespace>/plane/<plane>/svc/<service>`, the URI SAN of
/// the certificate cert-manager issues for each mesh Service (Secret `<service>-mesh-tls`). The
/// plane is part of the identity so that "any caller of my plane" is one prefix in RBAC
/// (`spiffe://<td>/ns/<ns>/plane/<plane>/`): a Service joining a plane changes no other sidecar.
/// Moving a Service to another plane changes its identity, and cert-manager reissues it.
public enum MeshIdentity {
    /// The URI SAN of a mesh Service's certificate.
    public static func of(_ service: MeshService, trustDomain: String) -> String {
        "\(planePrefix(namespace: service.namespace, plane: service.plane, trustDomain: trustDomain))svc/\(service.name)"
    }

    /// What the identities of one plane of one namespace start with.
    public static func planePrefix(namespace: String, plane: String, trustDomain: String) -> String {
        "\(trustDomainPrefix(trustDomain))ns/\(namespace)/plane/\(plane)/"
    }

    /// What every mesh identity starts with.
    public static func trustDomainPrefix(_ trustDomain: String) -> String { "spiffe://\(trustDomain)/" }

    /// The Secret cert-manager writes a mesh Service's certificate into.
    public static func certificateSecretName(_ service: String) -> String { "\(service)-mesh-tls" }

    /// The entries a sidecar loads from a `<service>-mesh-tls` Secret: a certificate, its key and
    /// the CA that issued it.
    public static let certificateEntries: Set<String> = ["tls.crt", "tls.key", "ca.crt"]

    /// Whether a `<service>-mesh-tls` Secret holds every one of `certificateEntries`, none empty.
    public static func isReady(_ secret: SecretData?) -> Bool {
        guard let secret else { return false }
        return certificateEntries.allSatisfy { !(secret.entries[$0] ?? []).isEmpty }
    }

    /// The same, from the names of the entries that hold something.
    public static func isReady(presentEntries: Set<String>) -> Bool { certificateEntries.isSubset(of: presentEntries) }
}

/// The TLS pieces of a sidecar: its certificate and the mesh CA are loaded through SDS files
/// in the sidecar's ConfigMap that point at the mounted `<service>-mesh-tls` Secret, so Envoy
/// picks up cert-manager's renewals without a restart.
public enum MeshTLS {
    /// Where the pod mounts its `<service>-mesh-tls` Secret.
    public static let certificateDirectory = "/etc/lucid/mesh-tls"
    static let certificateSDSFile = "mesh-tls-sds.json"
    static let caSDSFile = "mesh-ca-sds.json"
    static let certificateSecret = "mesh-tls"
    static let caSecret = "mesh-ca"

    /// The two SDS files every sidecar's ConfigMap carries (file names and paths only: no key).
    public static var configMapFiles: [String: String] {
        let certificate: JSON = ["resources": [[
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
            "name": .string(certificateSecret),
            "tls_certificate": [
                "certificate_chain": ["filename": .string("\(certificateDirectory)/tls.crt")],
                "private_key": ["filename": .string("\(certificateDirectory)/tls.key")],
                "watched_directory": ["path": .string(certificateDirectory)],
            ],
        ]]]
        let ca: JSON = ["resources": [[
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
            "name": .string(caSecret),
            "validation_context": [
                "trusted_ca": ["filename": .string("\(certificateDirectory)/ca.crt")],
                "watched_directory": ["path": .string(certificateDirectory)],
            ],
        ]]]
        return [certificateSDSFile: certificate.jsonText, caSDSFile: ca.jsonText]
    }

    static func sds(_ name: String, file: String) -> JSON {
        ["name": .string(name),
         "sds_config": ["path_config_source": ["path": .string("\(SidecarRenderer.configPath)/\(file)"),
                                               "watched_directory": ["path": .string(SidecarRenderer.configPath)]],
                        "resource_api_version": "V3"]]
    }

    /// The inbound side's TLS: the Service's own certificate, and a client certificate from the
    /// mesh CA with a URI SAN in the trust domain required of every caller on this filter chain.
    static func downstreamTransportSocket(trustDomain: String) -> JSON {
        ["name": "envoy.transport_sockets.tls",
         "typed_config": [
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "require_client_certificate": true,
            "common_tls_context": [
                "tls_certificate_sds_secret_configs": [sds(certificateSecret, file: certificateSDSFile)],
                "combined_validation_context": [
                    "default_validation_context": ["match_typed_subject_alt_names": [[
                        "san_type": "URI", "matcher": ["prefix": .string(MeshIdentity.trustDomainPrefix(trustDomain))],
                    ]]],
                    "validation_context_sds_secret_config": sds(caSecret, file: caSDSFile),
                ],
                "alpn_protocols": ["h2", "http/1.1"],
            ],
         ]]
    }

    /// The `transport_socket` a caller's cluster for `destination` carries: it presents the
    /// caller's own certificate and accepts only the destination's identity. Nil while either
    /// certificate is not issued (the call then goes in plaintext and the destination treats it
    /// as anonymous).
    public static func upstreamTransportSocket(from caller: MeshService, to destination: MeshService,
                                               secrets: [String: SecretData], trustDomain: String) -> JSON? {
        guard MeshIdentity.isReady(secrets[MeshIdentity.certificateSecretName(caller.name)]),
              MeshIdentity.isReady(secrets[MeshIdentity.certificateSecretName(destination.name)]) else { return nil }
        return upstreamTransportSocket(to: destination, trustDomain: trustDomain)
    }

    /// The same, without the readiness check.
    public static func upstreamTransportSocket(to destination: MeshService, trustDomain: String) -> JSON {
        ["name": "envoy.transport_sockets.tls",
         "typed_config": [
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "sni": .string(destination.fqdn),
            "common_tls_context": [
                "tls_certificate_sds_secret_configs": [sds(certificateSecret, file: certificateSDSFile)],
                "combined_validation_context": [
                    "default_validation_context": ["match_typed_subject_alt_names": [[
                        "san_type": "URI", "matcher": ["exact": .string(MeshIdentity.of(destination, trustDomain: trustDomain))],
                    ]]],
                    "validation_context_sds_secret_config": sds(caSecret, file: caSDSFile),
                ],
            ],
         ]]
    }
}
