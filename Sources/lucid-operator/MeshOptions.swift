import ArgumentParser
import Foundation
import Mesh
import Reconcilers

/// The flags of the sidecar path, shared by `run`, `dev`, `render` and `who-can-call`.
struct MeshOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The cert-manager issuer of the mesh certificates: ClusterIssuer/NAME or Issuer/NAME (one Certificate per mesh Service). Without it the operator creates none and uses whatever <service>-mesh-tls Secrets exist.",
                               valueName: "kind/name"))
    var certificateIssuer: String?

    @Option(help: "The SPIFFE trust domain of mesh identities (spiffe://DOMAIN/ns/NS/plane/PLANE/svc/NAME).")
    var trustDomain = "cluster.local"

    @Option(help: "strict: a call from one plane to another is denied unless a SecurityPolicy allows it (RBAC and NetworkPolicies); off: planes are not isolated.")
    var planeIsolation: PlaneIsolation = .strict

    @Option(help: ArgumentHelp("The namespaces where the operator may read Secrets (API keys of SecurityPolicies, the sidecars' own key Secrets, mesh certificates), comma-separated: where ClusterRole lucid-operator-api-keys is bound with a RoleBinding. Never a namespace holding payout signing keys. Default: every namespace (a cluster-wide grant); \"\" for none.",
                               valueName: "ns,ns"))
    var secretNamespaces: String?

    func validate() throws {
        if let issuer = certificateIssuer, IssuerRef.parse(issuer) == nil {
            throw ValidationError("--certificate-issuer \(issuer): give ClusterIssuer/NAME or Issuer/NAME (NAME a DNS label)")
        }
        for namespace in secretNamespaceSet ?? [] where namespace.wholeMatch(of: #/[a-z0-9]([-a-z0-9]*[a-z0-9])?/#) == nil {
            throw ValidationError("--secret-namespaces: \"\(namespace)\" is not a namespace name")
        }
        if trustDomain.isEmpty || trustDomain.contains("/") || trustDomain.contains(":") {
            throw ValidationError("--trust-domain \(trustDomain): give a domain name such as cluster.local")
        }
    }

    /// The controllers' settings; `defaultIssuer` applies when no issuer is given.
    func settings(defaultIssuer: String? = nil) -> SidecarSettings {
        let security = SecuritySettings(planeIsolation: planeIsolation, trustDomain: trustDomain)
        let issuer = (certificateIssuer ?? defaultIssuer).flatMap(IssuerRef.parse)
        return SidecarSettings(security: security, certificates: issuer.map { CertificateBuilder.Settings(issuer: $0, trustDomain: trustDomain) },
                               secretNamespaces: secretNamespaceSet)
    }

    var secretNamespaceSet: Set<String>? {
        secretNamespaces.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }) }
    }
}

extension PlaneIsolation: ExpressibleByArgument {}
