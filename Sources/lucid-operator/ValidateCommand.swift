import ArgumentParser
import Foundation
import ManifestValidation

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check manifests offline as the API server and the operator would: schemas, CEL rules, semantic rules, references.",
        discussion: """
            Prints one line per problem, `file:document: field: message` (document: the 1-based \
            index in the file; field: the API server's path, such as spec.rules[0].action); \
            warnings say so. A reference to an object that is not among the manifests (a Service, \
            a Secret, a payout) may be in the cluster: a warning, or an error with \
            --strict-references.

            Exit status: 0 no errors (warnings allowed), 1 errors, 64 usage (flags, unreadable path).
            """)

    enum Output: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: [.customShort("f"), .customLong("filename")], parsing: .upToNextOption,
            help: "Files or directories (recursively: .yaml, .yml, .json), or - for stdin.")
    var filenames: [String] = []

    @Option(name: [.customShort("o"), .long], help: "text: a line per problem; json: one JSON document.")
    var output: Output = .text

    @Option(name: [.customShort("n"), .long], help: "The namespace of objects that name none.")
    var namespace = "default"

    @Flag(help: "A reference to an object that is not among the manifests is an error.")
    var strictReferences = false

    @Flag(help: "Every warning is an error.")
    var strict = false

    func validate() throws {
        guard !filenames.isEmpty else { throw ValidationError("give the manifests with -f FILE|DIR (or -f - for stdin)") }
    }

    func run() throws {
        let files: [ManifestFile]
        do {
            files = try ManifestFiles.read(filenames)
        } catch {
            FileHandle.standardError.write(Data("lucid-operator validate: \(error)\n".utf8))
            throw ExitCode.validationFailure
        }
        let report = ManifestValidator.validate(files, options: ValidationOptions(strictReferences: strictReferences, strict: strict,
                                                                                 defaultNamespace: namespace))
        switch output {
        case .text:
            FileHandle.standardOutput.write(Data(report.text.utf8))
            FileHandle.standardError.write(Data("lucid-operator validate: \(report.summary)\n".utf8))
        case .json:
            FileHandle.standardOutput.write(Data((report.json.jsonText + "\n").utf8))
        }
        if report.errors > 0 { throw ExitCode.failure }
    }
}
