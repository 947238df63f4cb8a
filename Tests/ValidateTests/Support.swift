import Foundation
import ManifestValidation
import Testing
import YAML

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh directory under the system's temporary one, removed by `body`'s end.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("validate-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try await body(dir)
}

func write(_ text: String, to path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

/// Validates in-memory files (name → YAML or JSON text).
func validate(_ files: KeyValuePairs<String, String>, _ options: ValidationOptions = ValidationOptions()) -> ValidationReport {
    ManifestValidator.validate(files.map { ManifestFile(path: $0.key, contents: Array($0.value.utf8)) }, options: options)
}

/// One YAML file of documents.
func validate(_ documents: [String], _ options: ValidationOptions = ValidationOptions()) -> ValidationReport {
    validate(["m.yaml": documents.joined(separator: "\n---\n")], options)
}

extension ValidationReport {
    var lines: [String] { problems.map(\.line) }
    func at(_ document: Int) -> [Problem] { problems.filter { $0.document == document } }
}

/// Objects the reference tests build on.
enum Manifest {
    static func service(_ name: String, namespace: String = "shop", mesh: Bool = true, plane: String = "ops") -> String {
        let labels = mesh ? "labels: {mesh.lucid.io/cluster: \(name), mesh.lucid.io/plane: \(plane)}" : "labels: {app: \(name)}"
        return """
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: \(namespace), \(labels)}
            spec: {selector: {app: \(name)}, ports: [{name: http, port: 80, targetPort: 8080}]}
            """
    }

    static func traffic(_ name: String, source: String, destination: String, namespace: String = "shop", mirror: String? = nil,
                        enabled: Bool = true) -> String {
        let mirrorRule = mirror.map { "\n  - {action: mirror, match: {path: /m}, mirror: {service: \($0)}}" } ?? ""
        return """
            apiVersion: mesh.lucid.io/v1alpha1
            kind: TrafficPolicy
            metadata: {name: \(name), namespace: \(namespace)}
            spec:
              source: \(source)
              destination: \(destination)
              enabled: \(enabled)
              rules:
              - {action: allow, match: {path: /api}}\(mirrorRule)
            """
    }

    static func breaker(_ name: String, service: String, created: String? = nil) -> String {
        let timestamp = created.map { ", creationTimestamp: \"\($0)\"" } ?? ""
        return """
            apiVersion: mesh.lucid.io/v1alpha1
            kind: CircuitBreakerConfig
            metadata: {name: \(name), namespace: shop\(timestamp)}
            spec: {service: \(service), failureThreshold: 5, recoveryTimeout: 60000}
            """
    }

    static func secret(_ name: String, entries: [String] = ["key"]) -> String {
        let data = entries.map { "\($0): \"c2VjcmV0\"" }.joined(separator: ", ")
        return """
            apiVersion: v1
            kind: Secret
            metadata: {name: \(name), namespace: shop}
            data: {\(data)}
            """
    }

    static func payout(_ name: String, session: String = "s1", secret: String = "signer", key: String? = nil, uid: String? = nil) -> String {
        let keyField = key.map { ", key: \($0)" } ?? ""
        let uidField = uid.map { ", uid: \($0)" } ?? ""
        return """
            apiVersion: payments.lucid.io/v1alpha1
            kind: TronPayout
            metadata: {name: \(name), namespace: shop\(uidField)}
            spec:
              sessionId: \(session)
              recipient: TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru
              amount: "1.50"
              currency: USDT
              network: nile
              signer: {secretRef: {name: \(secret)\(keyField)}, address: THKrowiEfCe8evdbaBzDDvQjM5DGeB3s3F}
            """
    }

    static func approval(_ name: String, payout: String, uid: String? = nil) -> String {
        let uidField = uid.map { "\n  payoutUID: \($0)" } ?? ""
        return """
            apiVersion: payments.lucid.io/v1alpha1
            kind: TronPayoutApproval
            metadata: {name: \(name), namespace: shop}
            spec:
              payoutName: \(payout)\(uidField)
              decision: Approved
              approver: treasury-admin
            """
    }
}

/// The built `lucid-operator`, beside the test bundle.
let operatorBinary: String? = {
    let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return [dir, dir.deletingLastPathComponent()].map { $0.appendingPathComponent("lucid-operator").path }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}()

struct CommandRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }
}

/// Runs `lucid-operator validate` with `arguments` (and `stdin`), in `directory`.
func runValidate(_ arguments: [String], stdin: String = "", in directory: String) async throws -> CommandRun {
    let binary = try #require(operatorBinary, "lucid-operator is not built")
    let id = UUID().uuidString
    let inPath = "\(directory)/.run-\(id).in", outPath = "\(directory)/.run-\(id).out", errPath = "\(directory)/.run-\(id).err"
    try write(stdin, to: inPath)
    try write("", to: outPath)
    try write("", to: errPath)
    defer { for path in [inPath, outPath, errPath] { try? FileManager.default.removeItem(atPath: path) } }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = ["validate"] + arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    process.standardInput = FileHandle(forReadingAtPath: inPath)
    process.standardOutput = FileHandle(forWritingAtPath: outPath)
    process.standardError = FileHandle(forWritingAtPath: errPath)
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try process.run() } catch { continuation.resume(throwing: error) }
    }
    return CommandRun(status: status, stdout: try String(contentsOfFile: outPath, encoding: .utf8),
                      stderr: try String(contentsOfFile: errPath, encoding: .utf8))
}
