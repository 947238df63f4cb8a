// The registry controller's cold registration against a bare client making the same puts, in
// one run, for N mesh Services (each with one EndpointSlice of one ready endpoint). Each side
// writes to a fresh real etcd (the fixture's: free loopback port, data in RAM). Prints, for
// each N: the ratio against the bare puts and against the same writes as the compare-and-set
// transactions the operator sends, the operator's start-up and CPU, etcd and API writes per
// Service, RSS, idle etcd writes and CPU over 10 s, a restart over the converged entries (its
// etcd and API writes), and EndpointSlice change → entry updated p50/p99.
//
//   swift build -c release && swift run -c release registry-benchmark [N ...]   (default: 1000 10000)
//
// The operator is the release `lucid-operator` beside this executable, run as its own process
// (`run --no-leader-elect --etcd-endpoints ...`) against the embedded API server in this one
// (no CRDs are installed, so the sidecar controller waits and the registry has the machine).
// The bare client is the project's HTTP client posting `/v3/kv/put` (or `/v3/kv/txn`) bodies
// prepared beforehand (the entries' exact bytes), from as many lanes as the operator has workers.
import APIServer
import EtcdClient
import EtcdServer
import Foundation
import HTTP
import KubeClient
import Registry
import Synchronization
import YAML

let operatorBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lucid-operator").path
let namespace = "bench"
let workers = 2  // the operator's default --workers

extension Array { var nonEmpty: Self? { isEmpty ? nil : self } }

enum Bench {
    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
    static func ms(_ d: Duration) -> String { String(format: "%.1f ms", seconds(d) * 1000) }
    static func percentile(_ values: [Duration], _ p: Double) -> Duration {
        guard !values.isEmpty else { return .zero }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    // MARK: the objects

    static func service(_ i: Int) -> JSON {
        ["apiVersion": "v1", "kind": "Service",
         "metadata": ["name": .string("svc-\(i)"), "namespace": .string(namespace), "uid": .string("uid-\(i)"),
                      "labels": ["mesh.lucid.io/cluster": .string(LucidCluster.allCases[i % 9].rawValue),
                                 "mesh.lucid.io/plane": .string(["ops", "chain", "wallet"][i % 3]), "app.kubernetes.io/version": "1.0.0"]],
         "spec": ["ports": [["name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"]]]]
    }

    static func endpoints(_ i: Int, ready: Bool) -> JSON {
        [["addresses": [.string("10.\(i / 65536).\(i / 256 % 256).\(i % 256)")], "conditions": ["ready": .bool(ready)],
          "targetRef": ["kind": "Pod", "namespace": .string(namespace), "name": .string("pod-\(i)"), "uid": .string("pod-uid-\(i)")]]]
    }

    static func slice(_ i: Int) -> JSON {
        ["apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
         "metadata": ["name": .string("svc-\(i)-1"), "namespace": .string(namespace), "labels": ["kubernetes.io/service-name": .string("svc-\(i)")]],
         "ports": [["name": "http", "port": 8080, "protocol": "TCP"]], "endpoints": endpoints(i, ready: true)]
    }

    static func load(_ server: APIServer, _ n: Int) throws {
        try server.install([["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]]])
        try server.install((0..<n).map(service))
        try server.install((0..<n).map(slice))
    }

    // MARK: the bare client

    /// The N entries' puts (the bytes the operator writes), from `workers` lanes over keep-alive connections.
    static func bareClient(_ etcd: EtcdServer, _ n: Int, transactions: Bool = false) async throws -> Duration {
        let options = try RegistryOptions()
        var bodies: [[UInt8]] = []
        for i in 0..<n {
            let records = try ServiceRegistry.records(service: service(i), endpointSlices: [slice(i)], options: options,
                                                      now: "2026-01-01T00:00:00Z", observedEntry: nil)
            let put: JSON = ["key": .string(base64(Array(records.entryKey.utf8))), "value": .string(base64(records.records[records.entryKey] ?? []))]
            let txn: JSON = ["compare": [["key": .string(base64(Array(records.entryKey.utf8))), "target": "MOD", "result": "EQUAL", "mod_revision": "0"]],
                             "success": [["request_put": put]], "failure": [["request_range": ["key": .string(base64(Array(records.entryKey.utf8)))]]]]
            bodies.append((transactions ? txn : put).serialized())
        }
        let http = try HTTPClient()
        defer { http.shutdown() }
        let ticket = Ticket()
        let all = bodies, url = etcd.clientURL + (transactions ? "/v3/kv/txn" : "/v3/kv/put")
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    while true {
                        let i = ticket.next.wrappingAdd(1, ordering: .relaxed).oldValue
                        if i >= n { return }
                        let response = try await http.execute(HTTPRequest(method: .post, url: url, headers: ["Content-Type": "application/json"], body: all[i]))
                        guard response.status == 200 else { throw Failure("put: \(response.status) \(response.bodyText)") }
                    }
                }
            }
            try await group.waitForAll()
        }
        return ContinuousClock.now - started
    }

    /// CPU time (user + system) a process has used so far.
    static func cpu(pid: Int32) -> Duration {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        // After the command: state is field 3; utime and stime are fields 14 and 15.
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return .zero }
        let ticks = Int(sysconf(Int32(_SC_CLK_TCK)))
        return .milliseconds((user + system) * 1000 / ticks)
    }

    /// The etcd process of a fixture member.
    static func pid(_ etcd: EtcdServer) -> Int32 {
        Int32(((try? String(contentsOfFile: etcd.directory + "/etcd.pid", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    final class Ticket: Sendable {
        let next = Atomic<Int>(0)
    }

    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    // MARK: the operator process

    final class OperatorProcess {
        let process: Process
        let log: String
        var pid: Int32 { process.processIdentifier }

        init(kubeconfig: String, etcd: String, folder: String, name: String) throws {
            log = "\(folder)/\(name).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: operatorBinary)
            p.arguments = ["run", "--kubeconfig", kubeconfig, "--no-leader-elect", "--identity", name, "--workers", "\(workers)",
                           "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0", "--etcd-endpoints", etcd]
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            p.standardOutput = handle
            p.standardError = handle
            try p.run()
            process = p
        }

        func logContains(_ text: String) -> Bool {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains(text)
        }

        /// CPU time used so far (user + system).
        var cpu: Duration { Bench.cpu(pid: pid) }

        /// Resident memory, KiB.
        var rssKiB: Int {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return Int(line.split(whereSeparator: { !$0.isNumber }).first ?? "") ?? 0
        }

        func stop() {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
    }

    /// Every entry's health and when it last changed, from a watch of the prefix.
    final class Entries: Sendable {
        struct Seen: Sendable {
            var health: String
            var at: ContinuousClock.Instant
        }
        let seen = Mutex<[String: Seen]>([:])
        let puts = Atomic<Int>(0)

        func follow(_ etcd: EtcdClient, from revision: Int64) -> Task<Void, Never> {
            Task {
                do {
                    for try await response in etcd.watch(prefix: "/lucid/registry/", fromRevision: revision + 1) {
                        let now = ContinuousClock.now
                        for event in response.events where event.kind == .put {
                            puts.add(1, ordering: .relaxed)
                            let health = (try? JSON.parse(event.kv.value))?[path: "health", "status"]?.stringValue ?? "?"
                            seen.withLock { $0[event.kv.keyText] = Seen(health: health, at: now) }
                        }
                    }
                } catch {}
            }
        }

        var count: Int { seen.withLock { $0.count } }
        func health(_ key: String) -> Seen? { seen.withLock { $0[key] } }
    }

    // MARK: one size

    static func measure(_ n: Int, folder: String) async throws -> String {
        // The floor: the same puts from a bare client, on a fresh etcd.
        let bare: Duration, bareTransactions: Duration, bareEtcdCPU: Duration
        do {
            let etcd = try await EtcdServer.start()
            defer { etcd.stop() }
            bare = try await bareClient(etcd, n)
        }
        do {
            let etcd = try await EtcdServer.start()
            defer { etcd.stop() }
            let before = cpu(pid: pid(etcd))
            bareTransactions = try await bareClient(etcd, n, transactions: true)
            bareEtcdCPU = cpu(pid: pid(etcd)) - before
        }

        let etcdServer = try await EtcdServer.start()
        defer { etcdServer.stop() }
        let etcd = try EtcdClient(EtcdConfiguration(endpoints: [etcdServer.clientURL]))
        defer { etcd.shutdown() }
        let configuration = APIServer.Configuration(historyWindow: 4 * n + 10_000)
        return try await APIServer.run(configuration) { server -> String in
            try load(server, n)
            let kubeconfig = "\(folder)/bench.kubeconfig"
            try server.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            let client = try KubeClient(config: KubeConfig(server: server.url))
            let start = try await etcd.range(RangeRequest(.key("/"), countOnly: true)).header.revision
            let apiWritesBefore = server.writes.total

            let etcdCPUBefore = cpu(pid: pid(etcdServer)), selfCPUBefore = cpu(pid: getpid())
            let started = ContinuousClock.now
            var op = try OperatorProcess(kubeconfig: kubeconfig, etcd: etcdServer.clientURL, folder: folder, name: "bench-\(n)")
            defer { op.stop() }
            var workersStarted: Duration?
            // Counted every 25 ms (a watch of our own would cost etcd as much as the operator's does).
            while try await etcd.range(RangeRequest(.prefix("/lucid/registry/"), countOnly: true)).count < n {
                if workersStarted == nil, op.logContains("controller=registry workers") { workersStarted = ContinuousClock.now - started }
                guard op.process.isRunning else { throw Failure("the operator exited: \(op.log)") }
                if ContinuousClock.now - started > .seconds(Int64(60 + n / 20)) { throw Failure("no convergence; see \(op.log)") }
                try await Task.sleep(for: .milliseconds(25))
            }
            let cold = ContinuousClock.now - started
            let coldCPU = op.cpu
            let etcdCPU = cpu(pid: pid(etcdServer)) - etcdCPUBefore, selfCPU = cpu(pid: getpid()) - selfCPUBefore
            try await Task.sleep(for: .seconds(2))
            let etcdWrites = try await etcd.range(RangeRequest(.key("/"), countOnly: true)).header.revision - start
            let apiWrites = server.writes.total - apiWritesBefore
            let rss = op.rssKiB

            // Idle: 10 s of nothing.
            let idleRevision = try await etcd.range(RangeRequest(.key("/"), countOnly: true)).header.revision
            let cpuBefore = op.cpu
            try await Task.sleep(for: .seconds(10))
            let idleCPU = op.cpu - cpuBefore
            let idleWrites = try await etcd.range(RangeRequest(.key("/"), countOnly: true)).header.revision - idleRevision

            // EndpointSlice change → entry updated (seen by a watch of the prefix): flip one Service's endpoint at a time.
            let entries = Entries()
            let watch = entries.follow(etcd, from: try await etcd.range(RangeRequest(.key("/"), countOnly: true)).header.revision)
            defer { watch.cancel() }
            for i in 0..<n { entries.seen.withLock { $0["/lucid/registry/\(namespace)/svc-\(i)"] = Entries.Seen(health: "passing", at: .now) } }
            var latencies: [Duration] = []
            for k in 0..<min(300, n) {
                let i = (k * 7919) % n
                let key = "/lucid/registry/\(namespace)/svc-\(i)"
                let before = entries.health(key)?.health
                let ready = before != "passing"
                let sent = ContinuousClock.now
                _ = try await client.patch(.endpointSlices, namespace: namespace, name: "svc-\(i)-1", .merge(["endpoints": endpoints(i, ready: ready)]))
                while entries.health(key)?.health == before {
                    if ContinuousClock.now - sent > .seconds(10) { throw Failure("the change of svc-\(i) never reached its entry") }
                    try await Task.sleep(for: .microseconds(200))
                }
                latencies.append((entries.health(key)?.at ?? .now) - sent)
            }

            // A restart over the converged entries: once the new process has seen everything, no write.
            op.stop()
            try await Task.sleep(for: .seconds(1))
            let restartRevision = try await etcd.range(RangeRequest(.key("/"), countOnly: true)).header.revision
            let apiBefore = server.writes.total
            op = try OperatorProcess(kubeconfig: kubeconfig, etcd: etcdServer.clientURL, folder: folder, name: "restart-\(n)")
            try await waitForListed(op, timeout: .seconds(Int64(30 + n / 100)))
            try await Task.sleep(for: .seconds(5))
            let restartWrites = try await etcd.range(RangeRequest(.key("/"), countOnly: true)).header.revision - restartRevision
            let restartAPIWrites = server.writes.total - apiBefore

            return """
                N = \(n)
                  cold registration: operator \(String(format: "%.2f", seconds(cold))) s, bare client \(String(format: "%.2f", seconds(bare))) s → ratio \(String(format: "%.2f", seconds(cold) / seconds(bare)))× (\(workers) workers / lanes)
                    of which process start and caches synced: \(String(format: "%.2f", seconds(workersStarted ?? .zero))) s
                    the bare client's writes as compare-and-set transactions (what the operator sends): \(String(format: "%.2f", seconds(bareTransactions))) s → ratio \(String(format: "%.2f", seconds(cold) / seconds(bareTransactions)))×
                    CPU: operator \(String(format: "%.2f", seconds(coldCPU))) s, etcd \(String(format: "%.2f", seconds(etcdCPU))) s, API server (this process) \(String(format: "%.2f", seconds(selfCPU))) s; etcd for the bare transactions \(String(format: "%.2f", seconds(bareEtcdCPU))) s
                  etcd writes per Service: \(String(format: "%.2f", Double(etcdWrites) / Double(n))); API writes (Events) per Service: \(String(format: "%.2f", Double(apiWrites) / Double(n)))
                  RSS converged: \(rss / 1024) MiB
                  idle 10 s: etcd writes \(idleWrites), CPU \(String(format: "%.2f", seconds(idleCPU) / 10 * 100)) %
                  restart over \(n) converged entries: etcd writes \(restartWrites), API writes \(restartAPIWrites)
                  EndpointSlice change → entry updated: p50 \(ms(percentile(latencies, 0.5))), p99 \(ms(percentile(latencies, 0.99))), max \(ms(latencies.max() ?? .zero)) (\(latencies.count) changes)
                """
        }
    }

    /// Waits until the operator logged its registry list (its view of etcd is complete).
    static func waitForListed(_ op: OperatorProcess, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: op.log, encoding: .utf8)) ?? ""
            if text.contains("registry listed") { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Failure("the restarted operator never listed etcd: \(op.log)")
    }
}

let sizes = CommandLine.arguments.dropFirst().compactMap { Int($0) }.nonEmpty ?? [1_000, 10_000]
guard FileManager.default.isExecutableFile(atPath: operatorBinary) else {
    FileHandle.standardError.write(Data("registry-benchmark: \(operatorBinary) is missing; build it first: swift build -c release\n".utf8))
    exit(64)
}
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-registry-benchmark-\(getpid())").path
try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: folder) }
for n in sizes {
    print(try await Bench.measure(n, folder: folder))
}
