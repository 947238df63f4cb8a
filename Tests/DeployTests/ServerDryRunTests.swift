import Foundation
import LoopbackServer
import Testing
import YAML

/// `lucid-operator dev --rbac` (HTTPS, the admin's token), and the real kubectl applying the
/// bases to it: server dry runs first, then the real thing.
@Suite struct ServerDryRunTests {
    struct Dev {
        let process: ChildProcess
        let kubeconfig: String
        let scratch: Scratch

        static func start(_ scratch: Scratch) async throws -> Dev {
            let binary = try #require(operatorBinary, "lucid-operator is not built")
            let kubeconfig = scratch.file("dev.kubeconfig")
            let log = scratch.file("dev.log")
            let process = try ChildProcess(binary, ["dev", "--no-controllers", "--rbac", "--port", "0", "--kubeconfig", kubeconfig],
                                           outputPath: log, workingDirectory: repositoryRoot, lifetime: .seconds(300))
            try await waitUntil(.seconds(30), "dev to write its kubeconfig") {
                ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("Stop with Ctrl-C")
            }
            return Dev(process: process, kubeconfig: kubeconfig, scratch: scratch)
        }

        func kubectl(_ arguments: String...) async throws -> (status: Int32, output: String) {
            try await run("kubectl", ["--kubeconfig", kubeconfig, "--cache-dir", scratch.file("cache"), "--request-timeout=20s"] + arguments, in: scratch)
        }
    }

    @Test(.timeLimit(.minutes(3))) func theBasesApplyToDev() async throws {
        let scratch = try Scratch()
        let dev = try await Dev.start(scratch)
        defer { dev.process.stop() }
        let config = try String(contentsOfFile: dev.kubeconfig, encoding: .utf8)
        #expect(config.contains("server: https://127.0.0.1:") && config.contains("token: ") && config.contains("certificate-authority-data: "))

        // A server dry run changes nothing: lucid-system is still not there afterwards.
        let fresh = try await dev.kubectl("apply", "--dry-run=server", "-f", "\(repositoryRoot)/manifests/default/namespace.yaml")
        #expect(fresh.status == 0, "\(fresh.output)")
        #expect(fresh.output.contains("namespace/lucid-system created (server dry run)"))
        #expect(try await dev.kubectl("get", "namespace", "lucid-system").status != 0)

        // As on a real server, a dry run cannot put objects in a namespace it did not create:
        // the namespace must exist first.
        let noNamespace = try await dev.kubectl("apply", "--dry-run=server", "-k", "\(repositoryRoot)/manifests/default")
        #expect(noNamespace.status != 0)
        #expect(noNamespace.output.contains(#"namespaces "lucid-system" not found"#), "\(noNamespace.output)")
        #expect(try await dev.kubectl("create", "namespace", "lucid-system").status == 0)
        let before = try await dev.kubectl("get", "--raw", "/api/v1/namespaces/lucid-system")
        let dryRun = try await dev.kubectl("apply", "--dry-run=server", "-k", "\(repositoryRoot)/manifests/default")
        #expect(dryRun.status == 0, "\(dryRun.output)")
        for line in ["deployment.apps/lucid-operator created (server dry run)", "poddisruptionbudget.policy/lucid-operator created (server dry run)",
                     "clusterrole.rbac.authorization.k8s.io/lucid-operator created (server dry run)",
                     "role.rbac.authorization.k8s.io/lucid-operator-leader-election created (server dry run)",
                     "service/lucid-operator-metrics created (server dry run)",
                     "validatingadmissionpolicy.admissionregistration.k8s.io/lucid-payout-approver-is-the-requester created (server dry run)"] {
            #expect(dryRun.output.contains(line), "\(line)\n\(dryRun.output)")
        }
        #expect(try await dev.kubectl("get", "deployment", "lucid-operator", "-n", "lucid-system").status != 0)
        let after = try await dev.kubectl("get", "--raw", "/api/v1/namespaces/lucid-system")
        #expect(try JSON.parse(Array(before.output.utf8))[path: "metadata", "resourceVersion"] == (try JSON.parse(Array(after.output.utf8)))[path: "metadata", "resourceVersion"])

        // Installing for real as the README says, then again: the second time writes nothing.
        let install = try await dev.kubectl("apply", "--server-side", "-k", "\(repositoryRoot)/manifests/default")
        #expect(install.status == 0, "\(install.output)")
        #expect(install.output.contains("deployment.apps/lucid-operator serverside-applied"), "\(install.output)")
        let version = { () async throws -> JSON? in
            try JSON.parse(Array(try await dev.kubectl("get", "--raw", "/api/v1/namespaces?limit=1").output.utf8))[path: "metadata", "resourceVersion"]
        }
        let installed = try await version()
        let again = try await dev.kubectl("apply", "--server-side", "-k", "\(repositoryRoot)/manifests/default")
        #expect(again.status == 0, "\(again.output)")
        #expect(try await version() == installed, "re-applying changed something:\n\(again.output)")
        // And a server dry run over the installed base (what an upgrade checks first) passes too.
        let upgrade = try await dev.kubectl("apply", "--server-side", "--dry-run=server", "-k", "\(repositoryRoot)/manifests/default")
        #expect(upgrade.status == 0, "\(upgrade.output)")
        let replicas = try await dev.kubectl("get", "deployment", "lucid-operator", "-n", "lucid-system", "-o", "jsonpath={.spec.replicas}")
        #expect(replicas.output == "2")
        // The operator's account can now do what its ClusterRole says (as kubectl --as shows).
        let canI = try await dev.kubectl("auth", "can-i", "update", "trafficpolicies", "--subresource=status", "-n", "shop",
                                         "--as=system:serviceaccount:lucid-system:lucid-operator")
        #expect(canI.output.trimmingCharacters(in: .whitespacesAndNewlines) == "yes", "\(canI.output)")
        let secrets = try await dev.kubectl("auth", "can-i", "get", "secrets", "-n", "lucid-payment",
                                            "--as=system:serviceaccount:lucid-system:lucid-operator")
        #expect(secrets.output.trimmingCharacters(in: .whitespacesAndNewlines) == "no", "\(secrets.output)")

        // Monitoring and Argo CD, with their CRDs as those projects install them (subsets).
        #expect(try await dev.kubectl("apply", "-f", "\(fixtures)/third-party-crds.yaml").status == 0)
        let monitoring = try await dev.kubectl("apply", "--dry-run=server", "-k", "\(repositoryRoot)/manifests/monitoring")
        #expect(monitoring.status == 0, "\(monitoring.output)")
        #expect(monitoring.output.contains("prometheusrule.monitoring.coreos.com/lucid-operator created (server dry run)"), "\(monitoring.output)")
        #expect(monitoring.output.contains("servicemonitor.monitoring.coreos.com/lucid-operator created (server dry run)"))
        #expect(monitoring.output.contains("configmap/lucid-operator-dashboard created (server dry run)"))
        #expect(try await dev.kubectl("apply", "-k", "\(repositoryRoot)/manifests/monitoring").status == 0)

        #expect(try await dev.kubectl("create", "namespace", "argocd").status == 0)
        // An argocd-cm Argo CD installed with settings of its own: server-side apply adds the checks and keeps them.
        #expect(try await dev.kubectl("create", "configmap", "argocd-cm", "-n", "argocd", "--from-literal=url=https://argocd.example").status == 0)
        let argo = try await dev.kubectl("apply", "--server-side", "--dry-run=server", "-k", "\(repositoryRoot)/manifests/argocd")
        #expect(argo.status == 0, "\(argo.output)")
        let applied = try await dev.kubectl("apply", "--server-side", "-k", "\(repositoryRoot)/manifests/argocd")
        #expect(applied.status == 0, "\(applied.output)")
        let cm = try JSON.parse(Array(try await dev.kubectl("get", "configmap", "argocd-cm", "-n", "argocd", "-o", "json").output.utf8))
        #expect(cm[path: "data", "url"] == "https://argocd.example")
        #expect(cm[path: "data", "resource.customizations.health.payments.lucid.io_TronPayout"] != nil)
    }
}
