import Foundation
import LoopbackServer
import Testing
import YAML

let corpusDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

func corpusFiles() throws -> [URL] {
    try FileManager.default.contentsOfDirectory(at: corpusDirectory, includingPropertiesForKeys: nil)
        .filter { $0.pathExtension == "yaml" }
        .sorted { $0.lastPathComponent < $1.lastPathComponent }
}

@Suite struct YAMLReadingTests {
    @Test func kubectlStyleScalarResolution() throws {
        let doc = try YAML.parse("""
            a: yes
            b: no
            c: on
            d: off
            e: "yes"
            f: '8080'
            g: 8080
            h: 1.5
            i: ~
            j:
            k: 0x10
            l: 1e3
            m: y
            ts: 2024-01-02
            o: !!str 12
            """)
        #expect(doc["a"] == .bool(true))
        #expect(doc["b"] == .bool(false))
        #expect(doc["c"] == .bool(true))
        #expect(doc["d"] == .bool(false))
        #expect(doc["e"] == .string("yes"))
        #expect(doc["f"] == .string("8080"))
        #expect(doc["g"] == .int(8080))
        #expect(doc["h"] == .double(1.5))
        #expect(doc["i"] == .null)
        #expect(doc["j"] == .null)
        #expect(doc["k"] == .int(16))
        #expect(doc["l"] == .double(1000))
        #expect(doc["m"] == .bool(true))
        #expect(doc["ts"] == .string("2024-01-02"))  // timestamps stay strings
        #expect(doc["o"] == .string("12"))
    }

    @Test func plainKeysResolveLikeKubectl() throws {
        // go-yaml v2 (kubectl) reads `y`, `n`, `on` as booleans even as keys; PyYAML keeps `y`/`n` strings.
        let doc = try YAML.parse("y: 1\non: 2\n'n': 3\n")
        #expect(doc.objectValue?.keys == ["true", "n"])
        #expect(doc["true"] == .int(2))  // the later duplicate key wins
        #expect(doc["n"] == .int(3))
    }

    @Test func keysKeepTheirOrder() throws {
        let doc = try YAML.parse("zeta: 1\nalpha: 2\nmid: 3\n")
        #expect(doc.objectValue?.keys == ["zeta", "alpha", "mid"])
    }

    @Test func blockScalarsKeepTheirNewlines() throws {
        let doc = try YAML.parse(try String(contentsOf: corpusDirectory.appendingPathComponent("03-configmap-block-scalars.yaml"), encoding: .utf8))
        #expect(doc[path: "data", "literal"] == .string("line one\n  indented line\nline three\n"))
        #expect(doc[path: "data", "stripped"] == .string("no trailing newline"))
        #expect(doc[path: "data", "kept"] == .string("keeps trailing newlines\n\n"))
        #expect(doc[path: "data", "folded"] == .string("folded text joins into one line\nbut a blank line stays\n"))
    }

    @Test func anchorsAliasesAndMergeKeys() throws {
        let doc = try YAML.parse(try String(contentsOf: corpusDirectory.appendingPathComponent("07-anchors.yaml"), encoding: .utf8))
        #expect(doc[path: "service-a", "settings", "retries"] == .int(3))
        #expect(doc[path: "service-a", "labels", "team"] == .string("payments"))
        #expect(doc[path: "service-b", "retries"] == .int(5))  // explicit key wins over the merge
        #expect(doc[path: "service-b", "timeout"] == .int(30))
        #expect(doc["reuse"] == .array(["a", "b", "c"]))
    }

    @Test func multiDocumentStreamsAndEmptyDocuments() throws {
        let docs = try YAML.parseAll(try String(contentsOf: corpusDirectory.appendingPathComponent("10-empty-docs.yaml"), encoding: .utf8))
        #expect(docs == [.null, ["kind": "A"], .null, ["kind": "B"]])
        #expect(try YAML.parseAll("").isEmpty)
    }

    @Test func syntaxErrorsSayWhere() {
        do {
            _ = try YAML.parse("a: [1, 2\nb: 3\n")
            Issue.record("expected a syntax error")
        } catch {
            #expect(error.kind == .syntax)
            #expect(error.line >= 1)
            #expect(error.description.contains("line"))
        }
    }

    @Test func billionLaughsIsRefused() throws {
        var text = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        for level in 1...9 {
            let prev = String(UnicodeScalar(UInt8(ascii: "a") + UInt8(level - 1)))
            let name = String(UnicodeScalar(UInt8(ascii: "a") + UInt8(level)))
            text += "\(name): &\(name) [" + Array(repeating: "*\(prev)", count: 9).joined(separator: ",") + "]\n"
        }
        #expect {
            try YAML.parse(text)
        } throws: { ($0 as? YAMLError)?.kind == .aliasExpansion }
    }

    @Test func tenThousandDeepNestingIsRefused() {
        let flow = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect { try YAML.parse(flow) } throws: { ($0 as? YAMLError)?.kind == .tooDeep }
        var block = ""
        for depth in 0..<10_000 { block += String(repeating: " ", count: depth) + "k:\n" }
        #expect { try YAML.parse(block) } throws: { ($0 as? YAMLError)?.kind == .tooDeep }
        let mapping = String(repeating: "{a: ", count: 10_000) + "1" + String(repeating: "}", count: 10_000)
        #expect { try YAML.parse(mapping) } throws: { ($0 as? YAMLError)?.kind == .tooDeep }
    }

    @Test func anAliasToAnUnknownAnchorIsAnError() {
        #expect { try YAML.parse("a: *nope\n") } throws: { error in
            let kind = (error as? YAMLError)?.kind
            return kind == .unknownAnchor || kind == .syntax
        }
    }
}

@Suite struct YAMLWritingTests {
    @Test func stringsThatWouldChangeTypeAreQuoted() throws {
        let value: JSON = ["yes": "yes", "num": "123", "e": "", "nul": "null", "f": "1.5", "plain": "hello", "on": "on", "tilde": "~", "n": "y"]
        let text = try YAML.emit(value)
        #expect(text.contains(#""yes": "yes""#))
        #expect(text.contains(#"num: "123""#))
        #expect(text.contains(#""n": "y""#))
        #expect(text.contains(#"e: """#))
        #expect(text.contains("plain: hello"))
        #expect(try YAML.parse(text) == value)
    }

    @Test func emitsBlockStyle() throws {
        let value: JSON = ["metadata": ["name": "x", "labels": ["a": "b"]], "items": [1, 2], "empty": [:], "none": []]
        #expect(try YAML.emit(value) == """
            metadata:
              name: x
              labels:
                a: b
            items:
            - 1
            - 2
            empty: {}
            none: []

            """)
    }

    @Test func multiLineStringsUseLiteralStyle() throws {
        let value: JSON = ["script": "echo one\necho two\n"]
        let text = try YAML.emit(value)
        #expect(text.contains("script: |"))
        #expect(try YAML.parse(text) == value)
    }

    @Test func everyCorpusDocumentRoundTrips() throws {
        let files = try corpusFiles()
        #expect(files.count >= 30)
        for file in files {
            let docs = try YAML.parseAll(try String(contentsOf: file, encoding: .utf8))
            let again = try YAML.parseAll(try YAML.emitAll(docs))
            #expect(again == docs, "\(file.lastPathComponent) changed in a round trip")
        }
    }

    @Test func multiDocumentEmitUsesSeparators() throws {
        let docs: [JSON] = [["kind": "A"], ["kind": "B"]]
        let text = try YAML.emitAll(docs)
        #expect(text.contains("---"))
        #expect(try YAML.parseAll(text) == docs)
    }
}

/// The corpus read by this module and by PyYAML, document by document.
@Suite struct PyYAMLAgreementTests {
    static let python: String? = {
        for candidate in ["python3", "/usr/bin/python3"] {
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("pyyaml-check-\(UUID().uuidString)").path
            if (try? ChildProcess.run(candidate, ["-c", "import yaml"], outputPath: log)) == 0 { return candidate }
        }
        return nil
    }()

    @Test(.enabled(if: python != nil, "skipped: no python3 with PyYAML on this machine, so the corpus cannot be compared"))
    func corpusAgreesWithPyYAML() async throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("pyyaml_to_json.py").path
        var compared = 0
        for file in try corpusFiles() {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("pyyaml-\(UUID().uuidString).jsonl")
            defer { try? FileManager.default.removeItem(at: out) }
            let status = try await ChildProcess.run(Self.python!, [script, file.path], outputPath: out.path)
            let output = try String(contentsOf: out, encoding: .utf8)
            try #require(status == 0, "PyYAML failed on \(file.lastPathComponent): \(output)")
            let theirs = try output.split(separator: "\n").map { try JSON.parse(String($0)) }
            let ours = try YAML.parseAll(try String(contentsOf: file, encoding: .utf8))
            #expect(ours.count == theirs.count, "\(file.lastPathComponent): document count")
            for (i, (a, b)) in zip(ours, theirs).enumerated() {
                #expect(a == b, "\(file.lastPathComponent) document \(i): ours \(a.jsonText) vs PyYAML \(b.jsonText)")
                compared += 1
            }
        }
        #expect(compared >= 30)
    }
}
