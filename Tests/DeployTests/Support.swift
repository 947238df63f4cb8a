import APIServer
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import YAML

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let fixtures = "\(repositoryRoot)/Tests/DeployTests/Fixtures"

/// A temporary folder removed when the value goes away.
final class Scratch: @unchecked Sendable {  // immutable after init
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-deploy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { "\(path)/\(name)" }
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: file(name), atomically: true, encoding: .utf8)
        return file(name)
    }
}

/// Runs a command to completion in the repository: its exit status and everything it printed.
func run(_ executable: String, _ arguments: [String], in scratch: Scratch) async throws -> (status: Int32, output: String) {
    let out = scratch.file("out-\(UUID().uuidString)")
    let p = try ChildProcess(executable, arguments, outputPath: out, workingDirectory: repositoryRoot, lifetime: .seconds(1500))
    let status = await p.exit()
    return (status, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
}

/// `kubectl kustomize` of a base (a path relative to the repository): the objects it renders.
func kustomize(_ base: String, _ scratch: Scratch) async throws -> [JSON] {
    let result = try await run("kubectl", ["kustomize", "\(repositoryRoot)/\(base)"], in: scratch)
    guard result.status == 0 else { throw TestFailure("kubectl kustomize \(base) failed: \(result.output)") }
    return try YAML.parseAll(result.output).filter { $0 != .null }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension JSON {
    var kind: String { self["kind"]?.stringValue ?? "" }
    var name: String { self[path: "metadata", "name"]?.stringValue ?? "" }
    var strings: [String] { arrayValue?.compactMap(\.stringValue) ?? [] }
}

extension Optional where Wrapped == JSON {
    var strings: [String] { self?.strings ?? [] }
}

extension Array where Element == JSON {
    func first(_ kind: String, _ name: String? = nil) -> JSON? { first { $0.kind == kind && (name == nil || $0.name == name) } }
    func all(_ kind: String) -> [JSON] { filter { $0.kind == kind } }
}

/// The built `lucid-operator`, beside the test bundle.
let operatorBinary: String? = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return [dir, dir.deletingLastPathComponent()].map { $0.appendingPathComponent("lucid-operator").path }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}()

extension APIServer {
    /// A KubeClient configuration for this server with a token (and its CA, over HTTPS).
    func clientConfig(token: String) -> KubeConfig {
        KubeConfig(server: url, tls: TLSConfiguration(certificateAuthority: certificateAuthority.map { .pem(Array($0.utf8)) }), credentials: .token(token))
    }
}

/// The metric names of a Prometheus text exposition, and which are histograms.
struct Scrape {
    var names: Set<String> = []
    var histograms: Set<String> = []

    init(_ text: String) {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count >= 4, parts[3] == "histogram" { histograms.insert(String(parts[2])) }
                if parts.count >= 3 { names.insert(String(parts[2])) }
            } else if !line.hasPrefix("#"), let end = line.firstIndex(where: { $0 == "{" || $0 == " " }) {
                names.insert(String(line[..<end]))
            }
        }
    }

    /// Whether a name used in PromQL is exported: itself, or the series of a histogram.
    func exports(_ name: String) -> Bool {
        if names.contains(name) { return true }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            if histograms.contains(String(name.dropLast(suffix.count))) { return true }
        }
        return false
    }
}

/// The metric names a PromQL expression selects (every selector in these manifests has a
/// label matcher, so a metric is a name followed by `{`).
func metricNames(in expression: String) -> Set<String> {
    var names = Set<String>()
    let characters = Array(expression)
    var i = 0
    while i < characters.count {
        let c = characters[i]
        if c == "\"" {  // skip string literals (label values, label_replace arguments)
            i += 1
            while i < characters.count && characters[i] != "\"" { i += characters[i] == "\\" ? 2 : 1 }
            i += 1
            continue
        }
        if c.isLetter || c == "_" || c == ":" {
            var j = i
            while j < characters.count && (characters[j].isLetter || characters[j].isNumber || characters[j] == "_" || characters[j] == ":") { j += 1 }
            if j < characters.count && characters[j] == "{" { names.insert(String(characters[i..<j])) }
            i = j
            continue
        }
        i += 1
    }
    return names
}

/// Polls `produce` until it gives a value; throws after `limit`.
func waitFor<T: Sendable>(_ what: String, within limit: Duration = .seconds(30), _ produce: @Sendable () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + limit
    while true {
        if let value = try await produce() { return value }
        guard ContinuousClock.now < deadline else { throw TestFailure("timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
