import YAML

/// One thing `validate` found: where (file, document, field), how bad, and what to do about it.
public struct Problem: Sendable, Equatable {
    public enum Severity: String, Sendable, Equatable {
        /// The API server or the operator would refuse or ignore what the manifest says.
        case error
        /// May be fine in a cluster (e.g. a reference to an object outside the manifests).
        case warning
    }

    /// Which check found it, for machines that filter (`-o json`).
    public enum Check: String, Sendable, Equatable {
        /// The file or a document cannot be read (YAML/JSON syntax, not UTF-8).
        case parse
        /// `apiVersion`, `kind`, `metadata`: the envelope every object needs.
        case object
        /// A kind no schema is known for.
        case kind
        /// The CRD's structural schema (types, required, enums, patterns, bounds, unknown fields).
        case schema
        /// The CRD's CEL rules (`x-kubernetes-validations`).
        case rule
        /// The rules beyond the schema that the operator applies (checksums, contradictions).
        case semantic
        /// Another object this one names, or an object that collides with another.
        case reference
    }

    /// The file's path as given (`<stdin>` for stdin).
    public var file: String
    /// 1-based position of the document in its file; nil for the file as a whole.
    public var document: Int?
    /// The API server's field path (`spec.rules[0].action`); nil for the document as a whole.
    public var field: String?
    public var severity: Severity
    public var check: Check
    /// What is wrong and what would be right, in the API server's words where it has them.
    public var message: String
    /// The object the problem is about, when known.
    public var kind: String?
    public var namespace: String?
    public var name: String?

    public init(file: String, document: Int?, field: String?, severity: Severity, check: Check, message: String,
                kind: String? = nil, namespace: String? = nil, name: String? = nil) {
        self.file = file
        self.document = document
        self.field = field
        self.severity = severity
        self.check = check
        self.message = message
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// `file:document: field: message`, warnings marked: `file:2: spec.destination: warning: ...`;
    /// always one line.
    public var line: String {
        var out = file
        if let document { out += ":\(document)" }
        out += ": "
        if let field { out += "\(field): " }
        if severity == .warning { out += "warning: " }
        return out + message.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " ")
    }

    /// The problem for machines: every field, `document` and `field` null when absent.
    public var json: JSON {
        var o: JSON = ["file": .string(file)]
        o["document"] = document.map { .int(Int64($0)) } ?? .null
        o["field"] = field.map(JSON.string) ?? .null
        o["severity"] = .string(severity.rawValue)
        o["check"] = .string(check.rawValue)
        o["message"] = .string(message)
        if let kind { o["kind"] = .string(kind) }
        if let namespace { o["namespace"] = .string(namespace) }
        if let name { o["name"] = .string(name) }
        return o
    }
}

/// What a run of `validate` found over a set of manifests.
public struct ValidationReport: Sendable, Equatable {
    /// In file order, then document order, then the order the checks ran.
    public var problems: [Problem]
    /// Files read.
    public var files: Int
    /// Objects checked (documents, and the items of `List`s).
    public var objects: Int

    public init(problems: [Problem], files: Int, objects: Int) {
        self.problems = problems
        self.files = files
        self.objects = objects
    }

    public var errors: Int { problems.count { $0.severity == .error } }
    public var warnings: Int { problems.count { $0.severity == .warning } }

    /// One line per problem.
    public var text: String { problems.map { $0.line + "\n" }.joined() }

    /// `3 errors, 1 warning in 12 objects from 5 files`, or `12 objects in 5 files: no problems`.
    public var summary: String {
        let scope = "\(Self.count(objects, "object")) from \(Self.count(files, "file"))"
        if problems.isEmpty { return "\(scope): no problems" }
        return "\(Self.count(errors, "error")), \(Self.count(warnings, "warning")) in \(scope)"
    }

    /// The report for machines: `{"problems": [...], "summary": {...}}`.
    public var json: JSON {
        [
            "problems": .array(problems.map(\.json)),
            "summary": ["files": .int(Int64(files)), "objects": .int(Int64(objects)),
                        "errors": .int(Int64(errors)), "warnings": .int(Int64(warnings))],
        ]
    }

    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
}
