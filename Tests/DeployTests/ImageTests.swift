import Foundation
import Testing

/// The image without a container engine: the release binaries built as the Dockerfile builds
/// them need nothing but the Debian packages its runtime stage installs.
@Suite(.serialized) struct ImageTests {
    static let out = "\(repositoryRoot)/.build-image/out"

    @Test(.timeLimit(.minutes(25))) func theBinariesNeedOnlyTheRuntimePackages() async throws {
        let scratch = try Scratch()
        // hack/test.sh builds them before any test runs; elsewhere the check builds them itself.
        let built = ProcessInfo.processInfo.environment["LUCID_IMAGE_BINARIES_BUILT"] == "1"
        let result = try await run("bash", ["hack/check-image.sh"] + (built ? ["--no-build"] : []) + [Self.out], in: scratch)
        #expect(result.status == 0, "\(result.output)")
        for line in ["libcurl.so.4 -> libcurl4", "libyaml-0.so.2 -> libyaml-0-2", "libsecp256k1.so.1 -> libsecp256k1-1", "libc.so.6 -> libc6"] {
            #expect(result.output.contains(line), "\(line)\n\(result.output)")
        }
        #expect(!result.output.contains("libswiftCore"), "the Swift runtime is linked dynamically:\n\(result.output)")
        #expect(result.output.contains("check-image: every library the binaries load comes from"))

        // The check itself refuses a runtime stage that lacks a library the binaries load.
        let dockerfile = try String(contentsOfFile: "\(repositoryRoot)/Dockerfile", encoding: .utf8)
        let without = try scratch.write("Dockerfile", dockerfile.replacingOccurrences(of: " libyaml-0-2", with: ""))
        let refused = try await run("env", ["DOCKERFILE=\(without)", "bash", "hack/check-image.sh", "--no-build", Self.out], in: scratch)
        #expect(refused.status != 0)
        #expect(refused.output.contains("libyaml-0.so.2 -> libyaml-0-2: NOT installed by RUNTIME_PACKAGES"), "\(refused.output)")
    }

    @Test func imageShSaysWhyItCannotBuildWithoutAnEngine() async throws {
        let scratch = try Scratch()
        let engine = try await run("bash", ["-c", "command -v podman || command -v buildah || (docker info >/dev/null 2>&1 && echo docker)"], in: scratch)
        guard engine.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return }  // an engine would build for real
        let result = try await run("bash", ["hack/image.sh", "lucid-operator:test"], in: scratch)
        #expect(result.status == 2)
        #expect(result.output.contains("image.sh: cannot build lucid-operator:test"), "\(result.output)")
        #expect(result.output.contains("hack/check-image.sh"))
    }
}
