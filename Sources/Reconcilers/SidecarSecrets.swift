import ControllerRuntime
import Mesh

/// The Secrets the sidecar controllers may see: one informer over every namespace (nil
/// `SidecarSettings.secretNamespaces`), or one per namespace where the operator is granted
/// Secrets (`--secret-namespaces`), since RBAC grants them per namespace: a RoleBinding of
/// ClusterRole `lucid-operator-api-keys` only in mesh namespaces that hold no signing keys.
/// A namespace outside the list has no Secrets for the sidecars: API-key policies there report
/// `SecretsNotPermitted`, and certificates count as not issued (plaintext only).
public struct SidecarSecrets: Sendable {
    /// The informers, each a `CachedSecret` (no data kept).
    public let informers: [Informer<CachedSecret>]
    /// nil: every namespace.
    public let namespaces: Set<String>?

    init(_ manager: Manager, scope namespace: String?, permitted: Set<String>?) {
        if let permitted {
            let visible = namespace.map { permitted.contains($0) ? [$0] : [] } ?? permitted.sorted()
            informers = visible.map { manager.informer(.secrets, namespace: $0) { CachedSecret($0) } }
            namespaces = Set(visible)
        } else {
            informers = [manager.informer(.secrets, namespace: namespace) { CachedSecret($0) }]
            namespaces = nil
        }
    }

    /// Whether the operator may see Secrets in `namespace`.
    public func permits(_ namespace: String) -> Bool { namespaces?.contains(namespace) ?? true }

    /// The informer holding `namespace`'s Secrets; nil where the operator may not see them.
    public func informer(for namespace: String) -> Informer<CachedSecret>? {
        guard permits(namespace) else { return nil }
        return informers.count == 1 && namespaces == nil ? informers[0] : informers.first { $0.namespace == namespace }
    }

    public func get(_ ref: ObjectRef) -> CachedSecret? { informer(for: ref.namespace)?.get(ref) }
}

extension StatusReport {
    /// A SecurityPolicy that needs a Secret in a namespace where the operator may not read
    /// Secrets: says which permission is missing instead of "not found".
    static func secretsNotPermitted(_ report: StatusReport, namespace: String) -> StatusReport {
        guard !report.ready, report.reason == "SecretNotFound" else { return report }
        var changed = report
        changed.reason = "SecretsNotPermitted"
        changed.message = "The operator may not read Secrets in namespace \(namespace), so its API keys cannot be enforced (every key is refused): "
            + "bind ClusterRole lucid-operator-api-keys to ServiceAccount lucid-system/lucid-operator with a RoleBinding in \(namespace) "
            + "(only where no payout signing keys live) and add \(namespace) to --secret-namespaces. \(report.message)"
        return changed
    }
}
