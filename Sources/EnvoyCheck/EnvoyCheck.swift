import Foundation
import HTTP
import LoopbackServer
import YAML

/// Test support: checks rendered Envoy configs against Envoy's own v3 API definitions, with
/// `hack/envoy-check.py` (protobuf's strict JSON parse over the `xds-protos` package, every
/// extension type registered, plus the protoc-gen-validate rules and the checks Envoy makes in
/// code: see the script). Unknown fields, wrong types, bad durations, unknown `@type`s,
/// deprecated fields, weighted splits adding up to 0 and routes to clusters not in cds.json fail.
///
///     try await EnvoyCheck.validate(render.files)          // one sidecar's files
///     let problems = try await EnvoyCheck.problems([a, b]) // many in one round trip
///
/// One checker process serves the whole test run (started on first use, on a free loopback
/// port; it exits when this process does), so a check costs milliseconds, not an interpreter
/// start. Its Python is `LUCID_ENVOY_CHECK_PYTHON` or the repository's `.venv/bin/python3`,
/// which `hack/install-deps.sh` creates.
public enum EnvoyCheck {
    /// A config Envoy would refuse: every problem, one line each (`FILE: PATH: MESSAGE`).
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let problems: [String]
        public var description: String { "Envoy would refuse this config:\n" + problems.joined(separator: "\n") }
    }

    /// The checker could not run (not installed, crashed, or answered nonsense).
    public struct SetupError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The Python that runs the check: `LUCID_ENVOY_CHECK_PYTHON`, or the repository's
    /// `.venv/bin/python3` (made by `hack/install-deps.sh`).
    public static var python: String {
        ProcessInfo.processInfo.environment["LUCID_ENVOY_CHECK_PYTHON"] ?? repository.appendingPathComponent(".venv/bin/python3").path
    }

    /// `hack/envoy-check.py`, which also runs from a shell: `.venv/bin/python3 hack/envoy-check.py out/*.json`.
    public static var script: String { repository.appendingPathComponent("hack/envoy-check.py").path }

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Checks one config (file name → JSON text, e.g. `cds.json`); throws `Failure` listing
    /// every problem when Envoy would refuse it.
    public static func validate(_ files: [String: String]) async throws {
        let problems = try await problems([files])[0]
        if !problems.isEmpty { throw Failure(problems: problems) }
    }

    /// Checks one config given as JSON values (file name → document).
    public static func validate(_ files: [String: JSON]) async throws {
        try await validate(files.mapValues(\.jsonText))
    }

    /// Checks many configs in one round trip: the problems of each, in order (empty = valid).
    public static func problems(_ configs: [[String: String]]) async throws -> [[String]] {
        let (url, client) = try await Checker.shared.connection()
        let body: JSON = ["configs": .array(configs.enumerated().map { i, files in
            ["name": .string("config \(i)"), "files": .object(JSONObject(files.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) }))]
        })]
        let response = try await client.execute(HTTPRequest(method: .post, url: "\(url)/check",
            headers: ["Content-Type": "application/json"], body: body.serialized(), timeout: .seconds(600)))
        guard response.status == 200, let results = (try? JSON.parse(response.body))?["results"]?.arrayValue, results.count == configs.count else {
            throw SetupError(description: "the Envoy check answered \(response.status): \(String(decoding: response.body.prefix(2000), as: UTF8.self))")
        }
        return results.map { ($0["problems"]?.arrayValue ?? []).compactMap(\.stringValue) }
    }
}

extension JSONObject {
    fileprivate init(_ pairs: [(String, JSON)]) {
        self.init()
        for (key, value) in pairs { self[key] = value }
    }
}

/// The one checker process of this test run, started on first use.
private actor Checker {
    static let shared = Checker()

    private var process: ChildProcess?
    private var endpoint: (url: String, client: HTTPClient)?
    private var failure: EnvoyCheck.SetupError?
    private let folder = FileManager.default.temporaryDirectory.appendingPathComponent("envoy-check-\(getpid())-\(UUID().uuidString)")

    /// The checker's base URL and a client for it; starts the checker if it is not running.
    func connection() async throws -> (url: String, client: HTTPClient) {
        if let endpoint { return endpoint }
        if let failure { throw failure }
        let portFile = folder.appendingPathComponent("port")
        let log = folder.appendingPathComponent("log")
        if process == nil {
            guard FileManager.default.isExecutableFile(atPath: EnvoyCheck.python) else {
                throw fail("no Python for the Envoy check at \(EnvoyCheck.python): run hack/install-deps.sh (it creates .venv with xds-protos), or set LUCID_ENVOY_CHECK_PYTHON")
            }
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            process = try ChildProcess(EnvoyCheck.python, [EnvoyCheck.script, "--serve", "--port-file", portFile.path, "--parent-pid", "\(getpid())",
                                                      "--idle-exit", "7200"],
                                       outputPath: log.path, lifetime: .seconds(7200))
        }
        let started = process
        // Other callers wait here too (the actor is reentrant); the first to see the port connects.
        try await waitUntil(.seconds(180), "the Envoy check to start", interval: .milliseconds(20)) {
            FileManager.default.fileExists(atPath: portFile.path) || started?.isRunning != true
        }
        if let endpoint { return endpoint }
        if let failure { throw failure }
        guard let text = try? String(contentsOf: portFile, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw fail("the Envoy check did not start (\(EnvoyCheck.python)): \(output.suffix(2000))")
        }
        let connection = (url: "http://127.0.0.1:\(port)", client: try HTTPClient())
        endpoint = connection
        return connection
    }

    private func fail(_ text: String) -> EnvoyCheck.SetupError {
        let error = EnvoyCheck.SetupError(description: text)
        failure = error
        return error
    }
}
