import APIServer
import ArgumentParser
import Foundation
import Logging
import LucidAPI
import ServiceLifecycle
import YAML

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run an embedded Kubernetes API server on 127.0.0.1 with the Lucid CRDs installed.",
        discussion: """
            Writes a kubeconfig for it and prints the kubectl line to use. State lives in memory and
            is gone when the process stops (SIGINT or SIGTERM). The controllers join this command
            with the controller runtime; today it runs the API server only (--no-controllers).
            """)

    @Option(help: "Port on 127.0.0.1; 0 picks a free one.") var port = 0
    @Option(help: "Where to write the kubeconfig.") var kubeconfig = "lucid-dev.kubeconfig"
    @Flag(help: "Run the API server only, without the controllers (the only mode so far).") var noControllers = false
    @Option(help: "Events kept for resuming watches; older resourceVersions get 410.") var historyWindow = 10_000
    @Option(help: "Seconds between watch bookmarks.") var bookmarkSeconds = 10
    @Option(help: "Fault injection: fraction (0-1) of API requests to fail.") var errorRate = 0.0
    @Option(help: "Fault injection: fail with 429 and this Retry-After (seconds) instead of 500.") var tooManyRequestsRetryAfter: Int?
    @Option(help: "Fault injection: milliseconds added to every request.") var latencyMs = 0
    @Option(help: "Fault injection: cut every watch this many seconds after it started.") var dropWatchesEvery: Int?
    @Flag(help: "Fault injection: answer every resumed watch with 410 Expired.") var forceGone = false

    func run() async throws {
        var faults = APIServer.Faults()
        if errorRate > 0 { faults.errorRate["*"] = errorRate }
        faults.tooManyRequestsRetryAfter = tooManyRequestsRetryAfter
        faults.latency = .milliseconds(latencyMs)
        faults.dropWatchesAfter = dropWatchesEvery.map { .seconds($0) }
        faults.forceGone = forceGone
        let configuration = APIServer.Configuration(historyWindow: historyWindow, bookmarkInterval: .seconds(bookmarkSeconds), faults: faults)

        let logger = Logger(label: "lucid.dev")
        let service = EmbeddedAPIServer(configuration: configuration, port: port, kubeconfigPath: kubeconfig,
                                        controllers: !noControllers, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The embedded API server as a lifecycle service: up until graceful shutdown.
struct EmbeddedAPIServer: Service {
    let configuration: APIServer.Configuration
    let port: Int
    let kubeconfigPath: String
    let controllers: Bool
    let logger: Logger

    func run() async throws {
        let path = URL(fileURLWithPath: kubeconfigPath).standardizedFileURL.path
        let logger = logger
        try await APIServer.run(configuration, port: port) { server in
            try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
            try server.kubeconfig().write(toFile: path, atomically: true, encoding: .utf8)
            logger.info("API server listening", metadata: ["url": "\(server.url)", "kubeconfig": "\(path)"])
            var banner = """
                Lucid dev API server on \(server.url), with the Lucid CRDs installed.
                  kubectl --kubeconfig \(path) get crds
                  kubectl --kubeconfig \(path) apply -f manifests/samples/
                  kubectl --kubeconfig \(path) get lucid -A
                Stop with Ctrl-C.

                """
            if controllers {
                banner += "Note: the controllers are not built yet (controller-runtime issue); running the API server only.\n"
            }
            FileHandle.standardOutput.write(Data(banner.utf8))
            try? await gracefulShutdown()
            logger.info("shutting down")
        }
    }
}
