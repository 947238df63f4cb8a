import YAML

/// How strict `validate` is about what it cannot see.
public struct ValidationOptions: Sendable, Equatable {
    /// A reference to an object that is not among the manifests is an error, not a warning.
    public var strictReferences: Bool
    /// Every warning is an error (references, kinds without a schema, rules left unchecked).
    public var strict: Bool
    /// The namespace of namespaced objects that name none (kubectl's `-n`).
    public var defaultNamespace: String

    public init(strictReferences: Bool = false, strict: Bool = false, defaultNamespace: String = "default") {
        self.strictReferences = strictReferences
        self.strict = strict
        self.defaultNamespace = defaultNamespace
    }
}

/// Offline validation of manifests, as the API server and the operator would judge them: the
/// CRDs' structural schemas and CEL rules, the operator's semantic rules, and the references
/// between the objects. Pure: bytes in, a report out.
public enum ManifestValidator {
    public static func validate(_ files: [ManifestFile], options: ValidationOptions = ValidationOptions()) -> ValidationReport {
        var slots: [(file: Int, document: Int, problems: [Problem])] = []
        var objects: [(file: Int, object: ManifestObject)] = []
        for (f, file) in files.enumerated() {
            let read = Documents.read(file)
            for problem in read.problems { slots.append((f, problem.document ?? 0, [problem])) }
            objects += read.objects.map { (f, $0) }
        }

        let crds = objects.map(\.object.value).filter {
            $0["apiVersion"] == "apiextensions.k8s.io/v1" && $0["kind"] == "CustomResourceDefinition"
        }
        let kinds = KindRegistry(manifestCRDs: crds)
        var checked: [CheckedObject] = []
        var checkedFiles: [Int] = []
        for (f, object) in objects {
            guard let result = ObjectChecks.check(object, kinds: kinds, defaultNamespace: options.defaultNamespace) else { continue }
            checked.append(result)
            checkedFiles.append(f)
        }
        var references = References(checked, options: options)
        checked = references.run()
        for (i, object) in checked.enumerated() { slots.append((checkedFiles[i], object.object.document, object.problems)) }

        // Stable: file, then document, then reading order within a document.
        let ordered = slots.enumerated().sorted { a, b in
            (a.element.file, a.element.document, a.offset) < (b.element.file, b.element.document, b.offset)
        }
        var problems = ordered.flatMap(\.element.problems)
        if options.strict {
            for i in problems.indices { problems[i].severity = .error }
        }
        return ValidationReport(problems: problems, files: files.count, objects: checked.count)
    }
}
