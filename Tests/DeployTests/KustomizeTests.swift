import Foundation
import Testing
import YAML

/// The kustomize bases as `kubectl kustomize` renders them, and what the issue requires of them.
@Suite struct KustomizeTests {
    @Test func everyBaseRenders() async throws {
        let scratch = try Scratch()
        let base = try await kustomize("manifests/default", scratch)
        let kinds = Set(base.map(\.kind))
        #expect(kinds.isSuperset(of: ["Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                                      "Deployment", "PodDisruptionBudget", "Service"]))
        for object in base where !["Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
                                    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"].contains(object.kind) {
            #expect(object[path: "metadata", "namespace"] == "lucid-system", "\(object.kind) \(object.name)")
        }
        let monitoring = try await kustomize("manifests/monitoring", scratch)
        #expect(Set(monitoring.map(\.kind)) == ["ServiceMonitor", "PrometheusRule", "ConfigMap"])
        let argocd = try await kustomize("manifests/argocd", scratch)
        #expect(Set(argocd.map(\.kind)) == ["Application", "ConfigMap"])
    }

    /// The base carries crds/crds.yaml as generated (plus an Argo CD annotation), not a copy.
    @Test func theCRDsAreCrdsYAML() async throws {
        let scratch = try Scratch()
        let rendered = try await kustomize("manifests/default", scratch).all("CustomResourceDefinition")
        let generated = try YAML.parseAll(try String(contentsOfFile: "\(repositoryRoot)/crds/crds.yaml", encoding: .utf8)).filter { $0 != .null }
        #expect(rendered.count == generated.count)
        for crd in generated {
            let shipped = try #require(rendered.first { $0.name == crd.name })
            #expect(shipped["spec"] == crd["spec"], "\(crd.name)")
            #expect(shipped[path: "metadata", "annotations", "argocd.argoproj.io/sync-options"] == "Prune=false,Delete=false")
        }
    }

    @Test func theDeploymentIsHardened() async throws {
        let scratch = try Scratch()
        let objects = try await kustomize("manifests/default", scratch)
        let deployment = try #require(objects.first("Deployment", "lucid-operator"))
        #expect(deployment[path: "spec", "replicas"] == 2)
        let pod = try #require(deployment[path: "spec", "template", "spec"])
        #expect(pod["serviceAccountName"] == "lucid-operator")
        #expect(pod[path: "securityContext", "runAsNonRoot"] == true)
        #expect(pod[path: "securityContext", "runAsUser"] == 65532)
        #expect(pod[path: "securityContext", "seccompProfile", "type"] == "RuntimeDefault")
        let containers = pod["containers"]?.arrayValue ?? []
        #expect(containers.count == 1)
        let container = try #require(containers.first)
        #expect(container["image"] == "ghcr.io/lucid-mesh/lucid-operator:0.1.0")
        let security = try #require(container["securityContext"])
        #expect(security["runAsNonRoot"] == true)
        #expect(security["runAsUser"] == 65532)
        #expect(security["readOnlyRootFilesystem"] == true)
        #expect(security["allowPrivilegeEscalation"] == false)
        #expect(security[path: "capabilities", "drop"] == ["ALL"])
        #expect(security[path: "capabilities", "add"] == nil)
        #expect(security["privileged"] == nil || security["privileged"] == false)
        #expect(security[path: "seccompProfile", "type"] == "RuntimeDefault")
        for key in ["cpu", "memory"] {
            #expect(container[path: "resources", "requests", key] != nil, "requests.\(key)")
            #expect(container[path: "resources", "limits", key] != nil, "limits.\(key)")
        }
        // Probes on the operator's probe port, which `run` binds from its flag.
        #expect(container[path: "livenessProbe", "httpGet", "path"] == "/healthz")
        #expect(container[path: "readinessProbe", "httpGet", "path"] == "/readyz")
        let ports = container["ports"]?.arrayValue ?? []
        #expect(ports.contains { $0["name"] == "health" && $0["containerPort"] == 8081 })
        #expect(ports.contains { $0["name"] == "metrics" && $0["containerPort"] == 8080 })
        let args = container["args"]?.strings ?? []
        #expect(args.first == "run")
        #expect(args.contains("--leader-elect"))
        #expect(args.contains("--health-probe-bind-address=:8081") && args.contains("--metrics-bind-address=:8080"))
        // A writable /tmp on a read-only root file system.
        #expect(container["volumeMounts"]?.arrayValue?.contains { $0["mountPath"] == "/tmp" } == true)
        let spread = pod["topologySpreadConstraints"]?.arrayValue ?? []
        #expect(Set(spread.compactMap { $0["topologyKey"]?.stringValue }) == ["kubernetes.io/hostname", "topology.kubernetes.io/zone"])

        let selector = try #require(deployment[path: "spec", "selector", "matchLabels"])
        let pdb = try #require(objects.first("PodDisruptionBudget", "lucid-operator"))
        #expect(pdb[path: "spec", "selector", "matchLabels"] == selector)
        #expect(pdb[path: "spec", "minAvailable"] == 1)
        let service = try #require(objects.first("Service", "lucid-operator-metrics"))
        #expect(service[path: "spec", "selector"] == selector)
        #expect(service[path: "spec", "ports"]?[0]?["targetPort"] == "metrics")
        let namespace = try #require(objects.first("Namespace", "lucid-system"))
        #expect(namespace[path: "metadata", "labels", "pod-security.kubernetes.io/enforce"] == "restricted")
    }

    /// No wildcards anywhere; the operator's own bindings grant no read of Secrets at all (the
    /// API-key role exists for per-namespace RoleBindings only); the Lease rights are a Role.
    @Test func theRBACIsLeastPrivilege() async throws {
        let scratch = try Scratch()
        let objects = try await kustomize("manifests/default", scratch)
        let roles = objects.filter { $0.kind == "ClusterRole" || $0.kind == "Role" }
        for role in roles {
            for (i, rule) in (role["rules"]?.arrayValue ?? []).enumerated() {
                for field in ["verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs"] {
                    #expect(!(rule[field]?.strings ?? []).contains { $0.contains("*") }, "\(role.kind) \(role.name) rules[\(i)].\(field)")
                }
            }
        }
        let bindings = objects.filter { $0.kind == "ClusterRoleBinding" || $0.kind == "RoleBinding" }
        let operatorBindings = bindings.filter { b in
            (b["subjects"]?.arrayValue ?? []).contains { $0["kind"] == "ServiceAccount" && $0["name"] == "lucid-operator" && $0["namespace"] == "lucid-system" }
        }
        #expect(Set(operatorBindings.map { "\($0.kind)/\($0[path: "roleRef", "name"]?.stringValue ?? "")" })
                == ["ClusterRoleBinding/lucid-operator", "RoleBinding/lucid-operator-leader-election", "RoleBinding/lucid-operator-trongrid-api-key"])
        // The only Secret the installed bindings let the operator read: the TronGrid API key, by
        // name, in lucid-system. API-key Secrets of mesh namespaces are bound per namespace by
        // the cluster's admin; signing keys never.
        for binding in operatorBindings {
            let roleKind = binding[path: "roleRef", "kind"]?.stringValue ?? ""
            let role = try #require(objects.first(roleKind, binding[path: "roleRef", "name"]?.stringValue))
            for rule in role["rules"]?.arrayValue ?? [] where rule["resources"]?.strings.contains("secrets") == true {
                let scoped = binding.kind == "RoleBinding" && binding[path: "metadata", "namespace"] == "lucid-system"
                    && rule["resourceNames"]?.strings == ["trongrid-api-key"] && rule["verbs"]?.strings == ["get"]
                if !scoped { Issue.record("\(role.name) grants \(rule["verbs"]?.strings ?? []) on secrets to the operator") }
            }
        }
        let leases = try #require(objects.first("Role", "lucid-operator-leader-election"))
        #expect(leases[path: "metadata", "namespace"] == "lucid-system")
        #expect(leases["rules"]?.arrayValue?.contains { $0["resourceNames"] == ["lucid-operator-leader"] } == true)
        let clusterRole = try #require(objects.first("ClusterRole", "lucid-operator"))
        #expect(!(clusterRole["rules"]?.arrayValue ?? []).contains { $0["resources"]?.strings.contains("leases") == true })
        #expect(!bindings.contains { $0[path: "roleRef", "name"] == "lucid-operator-api-keys" })
        // Requesting and approving payouts are separate roles; neither may write a payout's status.
        let requester = try #require(objects.first("ClusterRole", "lucid-payout-requester"))
        let approver = try #require(objects.first("ClusterRole", "lucid-payout-approver"))
        for role in [requester, approver] {
            #expect(!(role["rules"]?.arrayValue ?? []).contains { $0["resources"]?.strings.contains("tronpayouts/status") == true })
        }
        #expect(!(requester["rules"]?.arrayValue ?? []).contains { $0["resources"]?.strings.contains("tronpayoutapprovals") == true })
        #expect(!(approver["rules"]?.arrayValue ?? []).contains { $0["resources"] == ["tronpayouts"] && $0["verbs"]?.strings.contains("create") == true })
    }

    @Test func monitoringScrapesTheMetricsServiceAndShipsADashboard() async throws {
        let scratch = try Scratch()
        let base = try await kustomize("manifests/default", scratch)
        let monitoring = try await kustomize("manifests/monitoring", scratch)
        let service = try #require(base.first("Service", "lucid-operator-metrics"))
        let monitor = try #require(monitoring.first("ServiceMonitor"))
        for (key, value) in monitor[path: "spec", "selector", "matchLabels"]?.objectValue ?? [:] {
            #expect(service[path: "metadata", "labels", key] == value, "ServiceMonitor selects \(key)")
        }
        #expect(monitor[path: "spec", "namespaceSelector", "matchNames"] == ["lucid-system"])
        let port = monitor[path: "spec", "endpoints"]?[0]?["port"]
        #expect(service[path: "spec", "ports"]?.arrayValue?.contains { $0["name"] == port } == true)

        let dashboard = try #require(monitoring.first("ConfigMap", "lucid-operator-dashboard"))
        #expect(dashboard[path: "metadata", "labels", "grafana_dashboard"] == "1")
        let json = try JSON.parse(Array((dashboard[path: "data", "lucid-operator.json"]?.stringValue ?? "").utf8))
        let panels = json["panels"]?.arrayValue?.filter { $0["type"] != "row" } ?? []
        #expect(panels.count >= 12)
        #expect(panels.allSatisfy { !($0["targets"]?.arrayValue ?? []).isEmpty })
    }

    @Test func argoCDFollowsTheDefaultBaseAndCarriesTheHealthChecks() async throws {
        let scratch = try Scratch()
        let objects = try await kustomize("manifests/argocd", scratch)
        let application = try #require(objects.first("Application", "lucid-operator"))
        let path = try #require(application[path: "spec", "source", "path"]?.stringValue)
        #expect(path == "manifests/default")
        #expect(FileManager.default.fileExists(atPath: "\(repositoryRoot)/\(path)/kustomization.yaml"))
        #expect(application[path: "spec", "destination", "namespace"] == "lucid-system")
        #expect(application[path: "metadata", "finalizers"] == nil)
        let cm = try #require(objects.first("ConfigMap", "argocd-cm"))
        #expect(cm[path: "metadata", "namespace"] == "argocd")
        let keys = Set(cm["data"]?.objectValue?.keys ?? [])
        #expect(keys == ["resource.customizations.health.mesh.lucid.io_TrafficPolicy", "resource.customizations.health.mesh.lucid.io_SecurityPolicy",
                         "resource.customizations.health.mesh.lucid.io_CircuitBreakerConfig", "resource.customizations.health.payments.lucid.io_TronPayout"])
    }
}
