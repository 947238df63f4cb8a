import Foundation
import ManifestValidation
import Testing
import YAML

/// One case of Tests/Fixtures/invalid-resources.yaml: a base with one mistake, and the field
/// the refusal must name.
struct FixtureCase {
    var number: Int
    var base: String
    var object: JSON
    var field: String
    var semantic: Bool

    static func all() throws -> [FixtureCase] {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/Fixtures/invalid-resources.yaml"), encoding: .utf8)
        let fixture = try YAML.parse(text)
        let bases = fixture["bases"]?.objectValue ?? [:]
        return try (fixture["cases"]?.arrayValue ?? []).enumerated().map { n, c in
            let base = c["base"]?.stringValue ?? ""
            let path = c["path"]?.stringValue ?? ""
            var object = try #require(bases[base], "case \(n): no base \(base)")
            // Not a `?:`: its `nil` would be JSON's null literal rather than "remove".
            if c["remove"]?.boolValue == true {
                object = try edit(object, segments(path), nil)
            } else {
                object = try edit(object, segments(path), c["set"] ?? .null)
            }
            // Each case in its own namespace: cases share names and session ids, which would
            // otherwise collide (the collisions have tests of their own).
            object["metadata"]?["namespace"] = .string("case-\(n)")
            return FixtureCase(number: n, base: base, object: object, field: c["field"]?.stringValue ?? path,
                               semantic: c["semantic"]?.boolValue ?? false)
        }
    }

    enum Segment { case key(String), index(Int) }

    /// "spec.rules[0].match" → spec, rules, 0, match.
    static func segments(_ path: String) -> [Segment] {
        path.split(separator: ".").flatMap { part -> [Segment] in
            let pieces = part.split(separator: "[")
            return [.key(String(pieces[0]))] + pieces.dropFirst().compactMap { Int($0.dropLast()).map(Segment.index) }
        }
    }

    struct BadPath: Error {}

    /// Sets (nil: removes) the value at the path; an index one past the end appends.
    static func edit(_ value: JSON, _ path: [Segment], _ new: JSON?) throws -> JSON {
        guard let first = path.first else { return new ?? .null }
        let rest = Array(path.dropFirst())
        switch (first, value) {
        case (.key(let k), .object(var o)):
            if rest.isEmpty { o[k] = new } else { o[k] = try edit(o[k] ?? [:], rest, new) }
            return .object(o)
        case (.index(let i), .array(var a)):
            if !rest.isEmpty { a[i] = try edit(a[i], rest, new) } else if let new { if i == a.count { a.append(new) } else { a[i] = new } } else { a.remove(at: i) }
            return .array(a)
        default:
            throw BadPath()
        }
    }
}

@Suite struct FixtureTests {
    /// The mesh cases as multi-document YAML files, one per base; the payment cases as one JSON
    /// file each, a directory further down. Returns each case's expected file and document.
    static func writeCases(_ cases: [FixtureCase], under dir: String) throws -> [Int: (file: String, document: Int)] {
        var expected: [Int: (String, Int)] = [:]
        var yaml: [String: [String]] = [:]
        for c in cases {
            if c.base == "payout" || c.base == "approval" {
                let file = "\(dir)/payments/\(c.base)/case-\(c.number).json"
                try write(c.object.jsonText, to: file)
                expected[c.number] = (file, 1)
            } else {
                let file = "\(dir)/mesh/\(c.base).yaml"
                yaml[file, default: []].append(try YAML.emit(c.object))
                expected[c.number] = (file, yaml[file]!.count)
            }
        }
        for (file, documents) in yaml {
            try write("# one mistake per document\n" + documents.map { "---\n" + $0 }.joined(), to: file)
        }
        return expected
    }

    @Test func everyFixtureIsReportedWithItsFileDocumentAndField() async throws {
        let cases = try FixtureCase.all()
        #expect(cases.count >= 100)
        try await withTemporaryDirectory { dir in
            let expected = try Self.writeCases(cases, under: dir)
            let report = ManifestValidator.validate(try ManifestFiles.read([dir]))
            let payments = cases.filter { $0.base == "payout" || $0.base == "approval" }
            #expect(report.files == 3 + payments.count)
            #expect(report.objects == cases.count)
            for c in cases {
                let (file, document) = try #require(expected[c.number])
                let errors = report.problems.filter { $0.file == file && $0.document == document && $0.severity == .error }
                #expect(errors.contains { $0.field == c.field }, "case \(c.number) (\(c.base) \(c.field)): got \(errors.map(\.line))")
                // Nothing but the mistake: no error about another part of the object.
                let unrelated = errors.filter { e in
                    let field = e.field ?? ""
                    return !field.hasPrefix(Self.parent(of: c.field)) && !c.field.hasPrefix(field)
                }
                #expect(unrelated.isEmpty, "case \(c.number): unrelated errors \(unrelated.map(\.line))")
                #expect(errors.allSatisfy { $0.kind == c.object["kind"]?.stringValue && $0.namespace == "case-\(c.number)" })
            }
            // The text lines are `file:document: field: message`.
            let first = try #require(expected[0])
            #expect(report.lines.contains("\(first.file):\(first.document): spec.source: Required value"))
        }
    }

    /// `spec.rules[0].match.headers[x-tenant]` → `spec.rules[0]`: the rule (or top-level field)
    /// a mistake is in; errors about the same rule, or about a field holding it (a CEL rule on
    /// `spec.rules`), belong to the same mistake.
    static func parent(of field: String) -> String {
        let parts = field.split(separator: ".")
        return parts.count > 2 ? parts.prefix(2).joined(separator: ".") : "spec"
    }

    @Test func schemaCasesComeFromTheSchemaAndSemanticOnesFromTheRulesOrTheOperator() throws {
        for c in try FixtureCase.all() {
            let report = ManifestValidator.validate([ManifestFile(path: "c.json", contents: Array(c.object.jsonText.utf8))])
            let checks = Set(report.problems.filter { $0.field == c.field && $0.severity == .error }.map(\.check))
            if c.semantic {
                #expect(checks.isSubset(of: [.rule, .semantic]) && !checks.isEmpty, "case \(c.number): \(checks)")
            } else {
                #expect(checks == [.schema], "case \(c.number): \(checks)")
            }
        }
    }

    @Test func theBasesAreClean() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/Fixtures/invalid-resources.yaml"), encoding: .utf8)
        for (name, base) in try YAML.parse(text)["bases"]?.objectValue ?? [:] {
            let report = ManifestValidator.validate([ManifestFile(path: "\(name).json", contents: Array(base.jsonText.utf8))])
            #expect(report.errors == 0, "\(name): \(report.lines)")
        }
    }

    @Test func theBinaryReportsTheFixturesAsTheLibraryDoes() async throws {
        let cases = try FixtureCase.all()
        try await withTemporaryDirectory { dir in
            _ = try Self.writeCases(cases, under: "\(dir)/in")
            let run = try await runValidate(["-f", "in", "-o", "json"], in: dir)
            #expect(run.status == 1)
            let library = ManifestValidator.validate(try ManifestFiles.read(["\(dir)/in"]))
            // The binary ran in `dir`, so its paths are relative.
            var expected = library.json
            expected["problems"] = .array((library.json["problems"]?.arrayValue ?? []).map { p in
                var p = p
                p["file"] = .string(String(p["file"]!.stringValue!.dropFirst(dir.count + 1)))
                return p
            })
            #expect(try JSON.parse(run.stdout) == expected)
            #expect(library.errors >= cases.count)
        }
    }
}
