import Foundation
import ManifestValidation
import Testing

@Suite struct SampleTests {
    static let samples = repositoryRoot.appendingPathComponent("manifests/samples").path

    @Test func theSamplesHaveNoProblemsEvenStrictly() throws {
        let files = try ManifestFiles.read([Self.samples])
        #expect(files.count == 7)
        let report = ManifestValidator.validate(files, options: ValidationOptions(strictReferences: true, strict: true))
        #expect(report.problems.isEmpty, "\(report.lines)")
        #expect(report.objects == 20)
        #expect(report.summary == "20 objects from 7 files: no problems")
    }

    @Test func theSamplesWithTheGeneratedCRDsHaveNoProblems() throws {
        let files = try ManifestFiles.read([repositoryRoot.appendingPathComponent("crds/crds.yaml").path, Self.samples])
        let report = ManifestValidator.validate(files, options: ValidationOptions(strict: true))
        #expect(report.problems.isEmpty, "\(report.lines)")
        #expect(report.objects == 25)
    }

    @Test func aSampleFileAloneOnlyWarnsAboutWhatTheOthersDefine() throws {
        let file = try ManifestFiles.read(["\(Self.samples)/20-traffic-policies.yaml"])
        let report = ManifestValidator.validate(file)
        #expect(report.errors == 0)
        #expect(report.warnings == 5, "\(report.lines)")  // 2 sources, 2 destinations, 1 mirror target
        #expect(report.problems.allSatisfy { $0.check == .reference && $0.message.hasPrefix("Not found: Service") })
        #expect(ManifestValidator.validate(file, options: ValidationOptions(strictReferences: true)).errors == 5)
    }

    @Test func theBinaryExitsZeroOnTheSamples() async throws {
        try await withTemporaryDirectory { dir in
            let run = try await runValidate(["-f", Self.samples], in: dir)
            #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
            #expect(run.stdout.isEmpty)
            #expect(run.stderr == "lucid-operator validate: 20 objects from 7 files: no problems\n")
        }
    }
}
