import YAML

/// The cert-manager issuer that signs mesh certificates (`--mesh-issuer Kind/name`).
public struct IssuerRef: Sendable, Equatable {
    public var name: String
    /// `Issuer` (in the Service's namespace) or `ClusterIssuer`.
    public var kind: String
    public var group: String

    public init(name: String, kind: String = "ClusterIssuer", group: String = "cert-manager.io") {
        self.name = name
        self.kind = kind
        self.group = group
    }

    /// Reads `ClusterIssuer/name`, `Issuer/name` or a bare name (a ClusterIssuer).
    public static func parse(_ text: String) -> IssuerRef? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let label = #/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/#
        switch parts.count {
        case 1 where parts[0].wholeMatch(of: label) != nil:
            return IssuerRef(name: parts[0])
        case 2 where ["Issuer", "ClusterIssuer"].contains(parts[0]) && parts[1].wholeMatch(of: label) != nil:
            return IssuerRef(name: parts[1], kind: parts[0])
        default:
            return nil
        }
    }
}

/// The cert-manager `Certificate` (cert-manager.io/v1) of a mesh Service: its identity as the
/// URI SAN, its DNS names, written to the Secret `<service>-mesh-tls`, owned by the Service.
public enum CertificateBuilder {
    public static let apiVersion = "cert-manager.io/v1"

    public struct Settings: Sendable, Equatable {
        public var issuer: IssuerRef
        public var trustDomain: String
        /// Go durations, as cert-manager reads them. Short-lived: a leaked key expires soon.
        public var duration: String
        public var renewBefore: String

        public init(issuer: IssuerRef, trustDomain: String = "cluster.local", duration: String = "24h", renewBefore: String = "8h") {
            self.issuer = issuer
            self.trustDomain = trustDomain
            self.duration = duration
            self.renewBefore = renewBefore
        }
    }

    public static func certificate(for service: MeshService, settings: Settings) -> JSON {
        let name = MeshIdentity.certificateSecretName(service.name)
        let labels: JSON = ["app.kubernetes.io/managed-by": "lucid-operator", "mesh.lucid.io/service": .string(service.name)]
        return [
            "apiVersion": .string(apiVersion),
            "kind": "Certificate",
            "metadata": [
                "name": .string(name),
                "namespace": .string(service.namespace),
                "labels": labels,
                "ownerReferences": [ownerReference(service)],
            ],
            "spec": [
                "secretName": .string(name),
                "secretTemplate": ["labels": labels],
                "issuerRef": ["name": .string(settings.issuer.name), "kind": .string(settings.issuer.kind), "group": .string(settings.issuer.group)],
                "uris": [.string(MeshIdentity.of(service, trustDomain: settings.trustDomain))],
                "dnsNames": [.string(service.name), .string("\(service.name).\(service.namespace)"),
                             .string("\(service.name).\(service.namespace).svc"), .string(service.fqdn)],
                "duration": .string(settings.duration),
                "renewBefore": .string(settings.renewBefore),
                "privateKey": ["algorithm": "ECDSA", "size": 256, "encoding": "PKCS8", "rotationPolicy": "Always"],
                "usages": ["digital signature", "server auth", "client auth"],
            ],
        ]
    }

    static func ownerReference(_ service: MeshService) -> JSON {
        ["apiVersion": "v1", "kind": "Service", "name": .string(service.name), "uid": .string(service.uid),
         "controller": true, "blockOwnerDeletion": true]
    }
}
