import Foundation
import ManifestValidation
import Testing
import YAML

/// The real `lucid-operator validate`: exit codes, stdin, output formats.
@Suite struct CommandTests {
    static let clean = Manifest.service("api") + "\n---\n" + Manifest.breaker("api", service: "api")
    static let broken = Manifest.breaker("api", service: "api").replacingOccurrences(of: "failureThreshold: 5", with: "failureThreshold: 0")

    @Test func exitCodes() async throws {
        try await withTemporaryDirectory { dir in
            try write(Self.clean, to: "\(dir)/ok/clean.yaml")
            try write(Self.broken, to: "\(dir)/bad/broken.yml")
            try write(Manifest.traffic("p", source: "a", destination: "b"), to: "\(dir)/warn/policy.yaml")

            let ok = try await runValidate(["-f", "ok"], in: dir)
            #expect(ok.status == 0 && ok.stdout.isEmpty)
            #expect(ok.stderr == "lucid-operator validate: 2 objects from 1 file: no problems\n")

            let bad = try await runValidate(["-f", "bad", "warn"], in: dir)
            #expect(bad.status == 1)
            #expect(bad.lines == [
                "bad/broken.yml:1: spec.failureThreshold: Invalid value: 0: spec.failureThreshold in body should be greater than or equal to 1",
                "warn/policy.yaml:1: spec.source: warning: Not found: Service \"a\" is not among the manifests in namespace shop; it must exist in the cluster, and until it does the policy reports SourceNotFound",
                "warn/policy.yaml:1: spec.destination: warning: Not found: Service \"b\" is not among the manifests in namespace shop; it must exist in the cluster, and until it does the policy reports DestinationNotFound",
            ])
            #expect(bad.stderr == "lucid-operator validate: 1 error, 2 warnings in 2 objects from 2 files\n")

            // Warnings alone pass; --strict-references and --strict make them errors.
            #expect(try await runValidate(["-f", "warn"], in: dir).status == 0)
            #expect(try await runValidate(["-f", "warn", "--strict-references"], in: dir).status == 1)
            #expect(try await runValidate(["--strict", "-f", "warn/policy.yaml"], in: dir).status == 1)

            // Usage errors: 64, nothing checked.
            let missing = try await runValidate(["-f", "ok", "nowhere"], in: dir)
            #expect(missing.status == 64 && missing.stdout.isEmpty)
            #expect(missing.stderr == "lucid-operator validate: nowhere: no such file or directory\n")
            try FileManager.default.createDirectory(atPath: "\(dir)/empty", withIntermediateDirectories: true)
            #expect(try await runValidate(["-f", "empty"], in: dir).status == 64)
            #expect(try await runValidate([], in: dir).status == 64)
            #expect(try await runValidate(["-f", "ok", "--no-such-flag"], in: dir).status == 64)
            #expect(try await runValidate(["-f", "ok", "-o", "yaml"], in: dir).status == 64)
        }
    }

    @Test func stdinAndJSONOutput() async throws {
        try await withTemporaryDirectory { dir in
            let run = try await runValidate(["-f", "-", "-o", "json", "-n", "shop"], stdin: Manifest.service("api") + "\n---\n" + Self.broken, in: dir)
            #expect(run.status == 1)
            let report = try JSON.parse(run.stdout)
            #expect(report["summary"] == ["files": 1, "objects": 2, "errors": 1, "warnings": 0])
            #expect(report["problems"] == [[
                "file": "<stdin>", "document": 2, "field": "spec.failureThreshold", "severity": "error", "check": "schema",
                "message": "Invalid value: 0: spec.failureThreshold in body should be greater than or equal to 1",
                "kind": "CircuitBreakerConfig", "namespace": "shop", "name": "api",
            ]])
            #expect(run.stderr.isEmpty)
        }
    }
}

@Suite struct ManifestFilesTests {
    @Test func directoriesAreReadRecursivelyInNameOrderSkippingHiddenEntries() async throws {
        try await withTemporaryDirectory { dir in
            for path in ["b/d.json", "b/c.yml", "a.yaml", "e.txt", ".git/x.yaml", ".hidden.yaml", "B.YAML"] {
                try write("{}", to: "\(dir)/m/\(path)")
            }
            let files = try ManifestFiles.read(["\(dir)/m/"])
            #expect(files.map { String($0.path.dropFirst(dir.count + 3)) } == ["B.YAML", "a.yaml", "b/c.yml", "b/d.json"])
            #expect(files.map(\.format) == [.yaml, .yaml, .yaml, .json])
            // A file named on its own is read whatever its extension.
            #expect(try ManifestFiles.read(["\(dir)/m/e.txt"]).map(\.path) == ["\(dir)/m/e.txt"])
        }
    }

    @Test func unreadablePathsAreUsageErrors() async throws {
        try await withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: "\(dir)/empty/.git", withIntermediateDirectories: true)
            #expect(throws: ManifestFiles.Unreadable(path: "\(dir)/empty", reason: "no .yaml, .yml or .json files in this directory")) {
                try ManifestFiles.read(["\(dir)/empty"])
            }
            #expect(throws: ManifestFiles.Unreadable(path: "\(dir)/none", reason: "no such file or directory")) {
                try ManifestFiles.read(["\(dir)/none"])
            }
            #expect(throws: ManifestFiles.Unreadable(path: "-", reason: "stdin is given twice")) {
                try ManifestFiles.read(["-", "-"], stdin: { [] })
            }
            #expect(try ManifestFiles.read(["-"], stdin: { Array("a: 1".utf8) }) == [ManifestFile(path: "<stdin>", contents: Array("a: 1".utf8), format: .yaml)])
        }
    }
}
