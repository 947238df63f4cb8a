import ArgumentParser
import Foundation
import Mesh
import YAML

struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render every mesh Service's sidecar, and the status each mesh resource would get, from manifests alone.",
        discussion: """
            Reads Services, Secrets and the Lucid mesh resources from the files (other kinds are ignored)
            and prints, per mesh Service, the ConfigMap <service>-sidecar (its Envoy files indented), the
            Secret <service>-sidecar-keys with its values withheld, the NetworkPolicy and, with
            --certificate-issuer, the Certificate; then each TrafficPolicy, SecurityPolicy and
            CircuitBreakerConfig with the status the operator would write (without times). The same
            functions as the controllers compute it; no cluster is needed. Objects without a namespace are
            in --namespace; those without a creation time count as created in the order given. Unless
            --no-assume-certificates, every mesh Service's certificate counts as issued (cert-manager's
            steady state).
            """)

    @Option(name: .shortAndLong, parsing: .singleValue, help: "A manifest file, a directory of them (.yaml, .yml, .json), or - for standard input.")
    var filename: [String] = []
    @Option(help: "Only this sidecar (NAMESPACE/NAME), and the resources it renders.") var service: String?
    @Option(name: .shortAndLong, help: "yaml or json.") var output: OfflineRender.Format = .yaml
    @Option(help: "The namespace of objects that name none.") var namespace = "default"
    @Flag(inversion: .prefixedNo, help: "Count every mesh Service's certificate as issued.") var assumeCertificates = true
    @OptionGroup(title: "Sidecars") var mesh: MeshOptions

    func validate() throws {
        if filename.isEmpty { throw ValidationError("give the manifests with -f FILE or -f DIR (or -f - for standard input)") }
        if let service, ObjectPath(service) == nil { throw ValidationError("--service \(service): give NAMESPACE/NAME") }
    }

    func run() async throws {
        let objects = try Manifests.read(filename)
        let sources = ManifestSources(objects: objects, defaultNamespace: namespace, assumeCertificatesIssued: assumeCertificates)
        let settings = mesh.settings()
        let options = OfflineRender.Options(settings: settings.security, certificates: settings.certificates,
                                            service: service.flatMap(ObjectPath.init).map { ($0.namespace, $0.name) })
        do {
            print(try OfflineRender.format(try await OfflineRender.documents(sources, options), as: output), terminator: "")
        } catch let error as OfflineRender.NotFound {
            throw CommandFailure(error.description)
        }
    }
}

extension OfflineRender.Format: ExpressibleByArgument {}

/// `NAMESPACE/NAME`.
struct ObjectPath {
    var namespace: String
    var name: String

    init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        namespace = parts[0]
        name = parts[1]
    }
}

/// A failure the user can act on: its message on standard error, exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Reading `-f` arguments as kubectl does (without recursion): files, the manifest files of a
/// directory in name order, or standard input.
enum Manifests {
    static func read(_ paths: [String]) throws -> [JSON] {
        var objects: [JSON] = []
        for path in paths {
            for (name, text) in try texts(path) {
                do {
                    for document in try YAML.parseAll(text) where document != .null {
                        if document["kind"] == "List", let items = document["items"]?.arrayValue { objects += items } else { objects.append(document) }
                    }
                } catch {
                    throw CommandFailure("\(name): \(error)")
                }
            }
        }
        return objects
    }

    static func texts(_ path: String) throws -> [(String, String)] {
        if path == "-" {
            return [("<stdin>", String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self))]
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CommandFailure("\(path): no such file or directory") }
        let files: [String]
        if isDirectory.boolValue {
            files = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }.sorted()
                .map { (path as NSString).appendingPathComponent($0) }
        } else {
            files = [path]
        }
        return try files.map { file in
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CommandFailure("\(file): cannot be read as UTF-8 text") }
            return (file, text)
        }
    }
}
