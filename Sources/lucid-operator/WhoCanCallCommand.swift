import ArgumentParser
import Foundation
import KubeClient
import LucidAPI
import Mesh
import YAML

struct WhoCanCallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "who-can-call",
        abstract: "List who may call a mesh Service: each caller, path, method and authentication, and the policy rule that decides.",
        discussion: """
            Reads the namespace's mesh Services, SecurityPolicies and Secrets from the cluster (kubeconfig as for
            `run`), or with -f from manifests, and evaluates them as the destination's sidecar does. Give
            --plane-isolation as the operator runs. Offline, every mesh Service's certificate counts as issued
            unless --no-assume-certificates; against a cluster, the Secrets say.
            """)

    @Argument(help: "The destination, NAMESPACE/SERVICE.") var destination: String
    @Option(name: .shortAndLong, parsing: .singleValue, help: "Manifests instead of a cluster: a file, a directory, or -.") var filename: [String] = []
    @Option(help: "A kubeconfig file; default: in-cluster, else KUBECONFIG, else ~/.kube/config.") var kubeconfig: String?
    @Option(help: "The kubeconfig context to use.") var context: String?
    @Flag(inversion: .prefixedNo, help: "Offline: count every mesh Service's certificate as issued.") var assumeCertificates = true
    @OptionGroup(title: "Sidecars") var mesh: MeshOptions

    func validate() throws {
        if ObjectPath(destination) == nil { throw ValidationError("\(destination): give NAMESPACE/SERVICE") }
    }

    func run() async throws {
        guard let target = ObjectPath(destination) else { return }
        let sources: ManifestSources
        if filename.isEmpty {
            sources = ManifestSources(objects: try await Self.listed(namespace: target.namespace, kubeconfig: kubeconfig, context: context))
        } else {
            sources = ManifestSources(objects: try Manifests.read(filename), assumeCertificatesIssued: assumeCertificates)
        }
        guard let service = sources.service(namespace: target.namespace, name: target.name) else {
            throw CommandFailure("\(destination) is not a mesh Service (a Service labelled \(MeshService.clusterLabel) and \(MeshService.planeLabel))")
        }
        let inputs = sources.whoCanCallInputs(for: service, settings: mesh.settings().security)
        print(WhoCanCall.format(WhoCanCall.analyze(inputs)), terminator: "")
    }

    /// The namespace's Services, SecurityPolicies and Secrets, from the cluster.
    static func listed(namespace: String, kubeconfig: String?, context: String?) async throws -> [JSON] {
        var environment = ProcessInfo.processInfo.environment
        if let kubeconfig { environment["KUBECONFIG"] = kubeconfig }
        let client = try KubeClient(config: try KubeConfig.load(environment: environment, context: context), userAgent: "lucid-operator/0.1 (who-can-call)")
        let securityPolicies = GroupVersionResource(group: SecurityPolicyKind.group, version: SecurityPolicyKind.version, resource: SecurityPolicyKind.plural)
        var objects: [JSON] = []
        for resource in [GroupVersionResource.services, securityPolicies, .secrets] {
            do throws(KubeError) {
                let list = try await client.listAll(resource, namespace: namespace)
                let (apiVersion, kind) = resource == .services ? ("v1", "Service") : resource == .secrets ? ("v1", "Secret")
                    : (SecurityPolicyKind.apiVersion, SecurityPolicyKind.kind)
                objects += list.items.map { item in
                    var o = item
                    o["apiVersion"] = .string(apiVersion)
                    o["kind"] = .string(kind)
                    return o
                }
            } catch {
                if resource == .secrets, error.httpStatus == 403 {
                    FileHandle.standardError.write(Data("who-can-call: cannot list Secrets in \(namespace) (\(error)): API keys and certificates count as missing\n".utf8))
                    continue
                }
                throw CommandFailure("listing \(resource.resource) in \(namespace): \(error)")
            }
        }
        return objects
    }
}
