import APIServer
import ControllerRuntime
import DevJobRunner
import FakeTronGrid
import Foundation
import HTTP
import KubeClient
import Logging
import LoopbackServer
import LucidAPI
import Payouts
import Reconcilers
import Synchronization
import Testing
import Tron
import YAML

let namespace = "lucid-payment"
/// The dev sample's throwaway signer key and its address.
let signerKeyHex = "8e812436a0e3323166e1f0e8ba79e19e217b2c4a53c970d4cca0cfb1078979df"
let signer = "THKrowiEfCe8evdbaBzDDvQjM5DGeB3s3F"
let recipient = "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru"
let payoutsResource = PayoutReconciler.tronPayouts
let approvalsResource = PayoutReconciler.tronPayoutApprovals
let nileUSDT = TronNetwork.nile.usdtContract

/// A built executable of this package, beside the test bundle.
func builtBinary(_ name: String) -> String? {
    let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return [bundleDir, bundleDir.deletingLastPathComponent()].map { $0.appendingPathComponent(name).path }
        .first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// What the tests run the controller with: fast chain polling, a short Job deadline.
let testSettings = PayoutSettings(
    approvalThresholds: [.usdt: try! Amount(decimal: "1000", currency: .usdt), .trx: try! Amount(decimal: "20000", currency: .trx)],
    chainPollInterval: .milliseconds(200),
    job: JobSettings(image: "lucid-payout:test", activeDeadlineSeconds: 60, tronTimeoutSeconds: 10))

/// A payout as a user writes it.
func payoutObject(_ name: String, amount: String, currency: String = "USDT", network: String = "nile", session: String? = nil,
                  recipient: String = recipient, secret: String = "payout-signer", signer: String = signer) -> JSON {
    ["apiVersion": "payments.lucid.io/v1alpha1", "kind": "TronPayout",
     "metadata": ["name": .string(name), "namespace": .string(namespace)],
     "spec": ["sessionId": .string(session ?? name), "recipient": .string(recipient), "amount": .string(amount), "currency": .string(currency),
              "network": .string(network), "signer": ["secretRef": ["name": .string(secret), "key": "key"], "address": .string(signer)]]]
}

func approvalObject(_ name: String, payout: String, decision: String, approver: String = "treasury-admin", reason: String? = "checked against the ledger",
                    payoutUID: String? = nil) -> JSON {
    var spec: JSON = ["payoutName": .string(payout), "decision": .string(decision), "approver": .string(approver)]
    if let reason { spec["reason"] = .string(reason) }
    if let payoutUID { spec["payoutUID"] = .string(payoutUID) }
    return ["apiVersion": "payments.lucid.io/v1alpha1", "kind": "TronPayoutApproval",
            "metadata": ["name": .string(name), "namespace": .string(namespace)], "spec": spec]
}

/// The embedded API server (CRDs, the payments namespace, the signer Secret), a simulated chain,
/// and the dev Job runner running the payout Jobs with the built `lucid-payout`.
struct PayoutCluster: Sendable {
    let server: APIServer
    /// The test's own client: it retries through injected faults.
    let client: KubeClient
    let fake: FakeTronGrid
    let runner: DevJobRunner
    let folder: String
    var kubeconfig: String { "\(folder)/kubeconfig" }

    /// `crds` replaces the generated CRDs (a looser TronPayout schema, say).
    static func with(_ configuration: APIServer.Configuration = APIServer.Configuration(), blockInterval: Duration = .milliseconds(10),
                     solidLag: Int64 = 3, crds: [JSON]? = nil, _ body: @Sendable (PayoutCluster) async throws -> Void) async throws {
        let binary = try #require(builtBinary("lucid-payout"), "lucid-payout is not built (swift build --build-tests builds it)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-payctl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await APIServer.run(configuration) { server in
            try server.install(try crds ?? YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
            try server.install([
                ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]],
                ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "payout-signer", "namespace": .string(namespace)],
                 "stringData": ["key": .string(signerKeyHex)]],
            ])
            try server.kubeconfig().write(toFile: "\(folder)/kubeconfig", atomically: true, encoding: .utf8)
            let client = try KubeClient(config: KubeConfig(server: server.url), retry: RetryPolicy(maxAttempts: 12, baseDelay: .milliseconds(20)))
            try await FakeTronGrid.run(blockInterval: blockInterval, solidLag: solidLag) { fake in
                let runner = DevJobRunner(client: client, configuration: DevJobRunner.Configuration(
                    payoutBinary: binary, namespace: namespace, workDirectory: "\(folder)/jobs"))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await runner.run() }
                    defer { group.cancelAll() }
                    try await waitUntil(.seconds(30), "the Job runner's first list") { runner.hasListed }
                    try await body(PayoutCluster(server: server, client: client, fake: fake, runner: runner, folder: folder))
                }
            }
        }
    }

    /// Every network at the simulated chain.
    var endpoints: TronEndpoints { TronEndpoints(overrides: Dictionary(uniqueKeysWithValues: TronNetwork.all.map { ($0.name, fake.baseURL) })) }

    /// Runs the payout controller in this process for the duration of `body`.
    func withOperator(settings: PayoutSettings = testSettings, apiKeySecret: TronAPIKeySecret? = nil,
                      _ body: @Sendable (PayoutReconciler) async throws -> Void) async throws {
        let operatorClient = try KubeClient(config: KubeConfig(server: server.url), userAgent: "lucid-operator/test")
        let manager = Manager(client: operatorClient)
        let http = try HTTPClient()
        defer { http.shutdown() }
        let reconciler = try await PayoutReconciler.make(
            manager: manager, events: EventRecorder(client: operatorClient, instance: "test"),
            configuration: PayoutConfiguration(settings: settings, endpoints: endpoints, apiKeySecret: apiKeySecret),
            http: http, namespace: nil, logger: Logger(label: "test.payouts"))
        let controller = reconciler.controller(workers: 2)
        manager.add(controller)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in manager.services(leaderElector: nil) { group.addTask { try await service.run() } }
            do {
                try await waitUntil(.seconds(30), "the payout controller's caches") { controller.hasSynced }
                try await body(reconciler)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    // MARK: reading and writing

    /// Creates, retrying through injected failures (the client does not retry a create);
    /// one that turns out to exist counts as created.
    @discardableResult
    func create(_ resource: GroupVersionResource, _ object: JSON) async throws -> JSON {
        var attempt = 0
        while true {
            attempt += 1
            do throws(KubeError) {
                return try await client.create(resource, namespace: namespace, object)
            } catch {
                let name = object[path: "metadata", "name"]?.stringValue ?? ""
                if error.isAlreadyExists { return try await client.get(resource, namespace: namespace, name: name) }
                guard attempt < 20, (error.httpStatus ?? 500) >= 500 || error.httpStatus == 429 else { throw error }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    func payout(_ name: String) async throws -> TronPayout { try TronPayout.decode(try await client.get(payoutsResource, namespace: namespace, name: name)) }

    func ready(_ payout: TronPayout) -> Condition? { payout.status?.conditions?.first("Ready") }

    /// Waits until the payout is in `phase`; returns it.
    @discardableResult
    func wait(_ name: String, _ phase: PayoutPhase, within limit: Duration = .seconds(30)) async throws -> TronPayout {
        try await waitUntil(limit, "payout \(name) to be \(phase.rawValue)", interval: .milliseconds(20)) {
            try await payout(name).status?.phase == phase
        }
        return try await payout(name)
    }

    /// The Jobs of a payout (by its label).
    func jobs(of payout: String) async throws -> [JSON] {
        try await client.list(.jobs, namespace: namespace, options: ListOptions(labelSelector: "\(PayoutJob.payoutLabel)=\(payout)")).items
    }

    /// Events about `name`, by reason.
    func events(about name: String) async throws -> [JSON] {
        try await client.list(.events, namespace: namespace).items.filter { $0[path: "regarding", "name"]?.stringValue == name }
    }

    /// The transfers that paid `amount` to `to` in `currency` on the simulated chain.
    func transfers(_ amount: String, _ currency: Currency, to: String = recipient) -> [FakeTronGrid.Transfer] {
        fake.transfers(to: to, amount: amount, token: currency == .usdt ? nileUSDT : nil)
    }

    /// `kubectl wait --for=condition=Ready` on payouts, as a process (returns its exit status when it ends).
    func kubectlWait(_ names: [String], timeout: Int = 60) throws -> ChildProcess {
        try ChildProcess("kubectl", ["--kubeconfig", kubeconfig, "-n", namespace, "wait", "--for=condition=Ready", "--timeout=\(timeout)s"]
                         + names.map { "tronpayout/\($0)" }, outputPath: "\(folder)/kubectl-wait-\(names.joined(separator: "-")).log")
    }
}

/// The phases each payout went through, as a watch saw them.
final class PhaseLog: Sendable {
    private let phases = Mutex<[String: [PayoutPhase]]>([:])

    func add(_ name: String, _ phase: PayoutPhase) {
        phases.withLock { if $0[name]?.last != phase { $0[name, default: []].append(phase) } }
    }

    subscript(_ name: String) -> [PayoutPhase] { phases.withLock { $0[name] ?? [] } }

    /// Watches payouts from now on, recording each phase change, until the task is cancelled.
    static func watching(_ cluster: PayoutCluster) async throws -> (PhaseLog, Task<Void, Never>) {
        let log = PhaseLog()
        let stream = try await cluster.client.watch(payoutsResource, namespace: namespace, options: WatchOptions(resourceVersion: cluster.server.resourceVersion))
        let task = Task {
            do {
                for try await event in stream where event.type == .added || event.type == .modified {
                    guard let name = event.object[path: "metadata", "name"]?.stringValue else { continue }
                    if let phase = event.object[path: "status", "phase"]?.stringValue.flatMap(PayoutPhase.init(rawValue:)) { log.add(name, phase) }
                }
            } catch {}
        }
        return (log, task)
    }
}
