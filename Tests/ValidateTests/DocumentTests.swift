import ManifestValidation
import Testing

@Suite struct DocumentTests {
    @Test func documentsAreCountedAsKubectlSplitsThem() {
        let report = validate(["m.yaml": """
            # a leading comment: no document
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: a}
            ---   # a comment on the separator
            # nothing but comments: no document
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: b, labels: {version: 1.0}}
            --- {apiVersion: v1, kind: ConfigMap, metadata: {name: Bad_Name}}
            """])
        #expect(report.objects == 3)
        #expect(report.lines == [
            "m.yaml:2: metadata.labels: Invalid value: 1.0: the value of version must be a string: quote it",
            "m.yaml:3: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ])
    }

    @Test func aBrokenDocumentDoesNotHideTheOthers() throws {
        let report = validate(["m.yaml": """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: a}
            ---
            apiVersion: v1
            kind: [ConfigMap
            ---
            apiVersion: v1
            kind: Secret
            metadata: {}
            """])
        #expect(report.objects == 2)
        let parse = try #require(report.at(2).first)
        #expect(parse.check == .parse && parse.field == nil && parse.severity == .error)
        // The line is the file's, not the document's.
        #expect(parse.message.hasPrefix("YAML line 7, "), "\(parse.message)")
        #expect(report.at(3).map(\.line) == ["m.yaml:3: metadata.name: Required value: name or generateName is required"])
    }

    @Test func jsonErrorsSayWhere() {
        let report = validate(["m.json": "{\"apiVersion\": \"v1\",\n  \"kind\": }"])
        #expect(report.lines.count == 1)
        #expect(report.lines.first?.hasPrefix("m.json:1: JSON line 2, column 11: ") == true, "\(report.lines)")
    }

    @Test func theItemsOfAListAreObjectsWithTheirOwnPaths() {
        let report = validate(["""
            apiVersion: v1
            kind: List
            items:
            - {apiVersion: v1, kind: ConfigMap, metadata: {name: fine}}
            - {apiVersion: v1, kind: Service, metadata: {name: Bad_Name}, spec: {ports: [{port: 80}]}}
            - {apiVersion: example.com/v1, kind: Gadget, metadata: {name: g}}
            """])
        #expect(report.objects == 3)
        #expect(report.problems.map(\.field) == ["items[1].metadata.name", "items[2]"])
        #expect(report.problems.first?.kind == "Service")
    }

    @Test func aDocumentMustBeAnObject() {
        #expect(validate(["- a\n- b"]).lines == ["m.yaml:1: not a Kubernetes object: a document must be a mapping with apiVersion, kind and metadata, not a array"])
    }

    @Test func bytesThatAreNotUTF8AreAProblemOfTheFile() {
        let report = ManifestValidator.validate([ManifestFile(path: "bad.yaml", contents: [0x61, 0x3A, 0x20, 0xFF, 0xFE])])
        #expect(report.lines == ["bad.yaml: not UTF-8 text: manifests are YAML or JSON in UTF-8"])
        #expect(report.errors == 1)
    }

    @Test func jsonFilesAreJSONAndStdinMayBeEither() {
        #expect(ManifestFile(path: "a.json", contents: Array("[]".utf8)).format == .json)
        #expect(ManifestFile(path: "a.yaml", contents: Array("{}".utf8)).format == .yaml)
        // What `kubectl get -o json` prints, on stdin: YAML reads JSON.
        let json = #"{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "A"}}]}"#
        #expect(validate(["<stdin>": json]).problems.map(\.field) == ["items[0].metadata.name"])
        // A byte-order mark and CRLF line ends are fine.
        let crlf = "\u{FEFF}apiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: a}\r\n---\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: b}\r\n"
        let report = ManifestValidator.validate([ManifestFile(path: "w.yaml", contents: Array(crlf.utf8))])
        #expect(report.objects == 2 && report.problems.isEmpty, "\(report.lines)")
    }
}
