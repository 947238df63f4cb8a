// The operator's cold convergence against a bare client making the same writes, in one run,
// for N mesh Services and N TrafficPolicies (policy i: svc-i → svc-(i+1) mod N, an allow rule
// with a timeout and a deny rule). Both run against a fresh embedded API server loaded with the
// same objects. Prints, for each N: the ratio, writes per object, the operator's RSS with no
// objects and after converging, KiB per cached object, idle CPU and writes over 10 s, edit →
// ConfigMap p50/p99, and /healthz p99 during the convergence.
//
//   swift build -c release && swift run -c release operator-benchmark [N ...]   (default: 1000 10000)
//
// The operator is the release `lucid-operator` beside this executable, run as its own process
// (`run --no-leader-elect`), so its memory and CPU are its own. LUCID_BENCH_OPERATOR=PATH runs
// another build instead, e.g. the image's statically linked one (hack/build-release.sh OUT).
import APIServer
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import LucidAPI
import Mesh
import Synchronization
import YAML

let operatorBinary = ProcessInfo.processInfo.environment["LUCID_BENCH_OPERATOR"]
    ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("lucid-operator").path
let policies = GroupVersionResource(group: "mesh.lucid.io", version: "v1alpha1", resource: "trafficpolicies")
let namespace = "bench"

extension Array { var nonEmpty: Self? { isEmpty ? nil : self } }
enum Bench {
    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
    static func ms(_ d: Duration) -> String { String(format: "%.1f ms", seconds(d) * 1000) }
    static func percentile(_ values: [Duration], _ p: Double) -> Duration {
        guard !values.isEmpty else { return .zero }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    // MARK: the objects

    static func service(_ i: Int) -> JSON {
        ["apiVersion": "v1", "kind": "Service",
         "metadata": ["name": .string("svc-\(i)"), "namespace": .string(namespace),
                      "labels": ["mesh.lucid.io/cluster": .string("svc-\(i)"), "mesh.lucid.io/plane": "ops", "app": .string("svc-\(i)")]],
         "spec": ["selector": ["app": .string("svc-\(i)")], "ports": [["name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"]]]]
    }

    static func policy(_ i: Int, _ n: Int, path: String = "/api") -> JSON {
        ["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "TrafficPolicy",
         "metadata": ["name": .string("p-\(i)"), "namespace": .string(namespace)],
         "spec": ["source": .string("svc-\(i)"), "destination": .string("svc-\((i + 1) % n)"), "rules": [
            ["action": "allow", "match": ["path": .string(path)], "timeout": 2500],
            ["action": "deny", "match": ["path": "/admin"]],
         ]]]
    }

    static func load(_ server: APIServer, _ n: Int) throws {
        try server.install(try YAML.parseAll(try CRDs.yaml()).filter { $0 != .null })
        try server.install([["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]]])
        try server.install((0..<n).map(service))
        try server.install((0..<n).map { policy($0, n) })
    }

    // MARK: the bare client

    /// The operator's writes per pair, rendered with the controller's own functions
    /// (`SidecarAssembly`, `SidecarObjects`, `NetworkPolicyBuilder`): the sidecar ConfigMap and its
    /// Event (regarding the policy), the NetworkPolicy (strict plane isolation) and its Event
    /// (regarding the Service), the policy's status — from 2 concurrent lanes over keep-alive
    /// connections.
    static func bareClient(_ server: APIServer, _ n: Int) async throws -> Duration {
        let sources = ManifestSources(objects: (0..<n).map(service) + (0..<n).map { policy($0, n) }, defaultNamespace: namespace)
        var bodies: [[(String, HTTPMethod, [UInt8])]] = []
        func event(_ i: Int, _ reason: String, _ note: String, regarding: JSON) -> JSON {
            ["apiVersion": "events.k8s.io/v1", "kind": "Event",
             "metadata": ["generateName": .string("svc-\(i)."), "namespace": .string(namespace)],
             "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "lucid-operator", "reportingInstance": "bench",
             "action": "Create", "reason": .string(reason), "note": .string(note), "type": "Normal", "regarding": regarding]
        }
        for i in 0..<n {
            guard let mesh = sources.service(namespace: namespace, name: "svc-\(i)") else { throw BenchmarkError("svc-\(i) is not a mesh Service") }
            let inputs = try await SidecarAssembly.inputs(for: mesh, from: sources, settings: SecuritySettings())
            let render = SidecarAssembly.render(inputs)
            let configMap = SidecarObjects.configMap(mesh, render.config)
            guard let networkPolicy = NetworkPolicyBuilder.networkPolicy(inputs.inbound) else { throw BenchmarkError("no NetworkPolicy for svc-\(i)") }
            let status: JSON = ["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "TrafficPolicy",
                                "metadata": ["name": .string("p-\(i)"), "namespace": .string(namespace)],
                                "status": ["observedGeneration": 1, "appliedTo": [.string("\(namespace)/svc-\(i)-sidecar")],
                                           "conditions": [["type": "Ready", "status": "True", "observedGeneration": 1, "lastTransitionTime": "2026-01-01T00:00:00Z",
                                                           "reason": "Applied", "message": .string("rendered into the sidecar ConfigMap \(namespace)/svc-\(i)-sidecar")]]]]
            let policyRef: JSON = ["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "TrafficPolicy", "name": .string("p-\(i)"), "namespace": .string(namespace)]
            let serviceRef: JSON = ["apiVersion": "v1", "kind": "Service", "name": .string("svc-\(i)"), "namespace": .string(namespace)]
            bodies.append([
                ("\(server.url)/api/v1/namespaces/\(namespace)/configmaps", .post, configMap.serialized()),
                ("\(server.url)/apis/events.k8s.io/v1/namespaces/\(namespace)/events", .post,
                 event(i, "SidecarConfigCreated", "wrote ConfigMap \(namespace)/svc-\(i)-sidecar", regarding: policyRef).serialized()),
                ("\(server.url)/apis/networking.k8s.io/v1/namespaces/\(namespace)/networkpolicies", .post, networkPolicy.serialized()),
                ("\(server.url)/apis/events.k8s.io/v1/namespaces/\(namespace)/events", .post,
                 event(i, "NetworkPolicyCreated", "wrote NetworkPolicy \(namespace)/svc-\(i)-mesh-ingress", regarding: serviceRef).serialized()),
                ("\(server.url)/apis/mesh.lucid.io/v1alpha1/namespaces/\(namespace)/trafficpolicies/p-\(i)/status", .put, status.serialized()),
            ])
        }
        let http = try HTTPClient()
        defer { http.shutdown() }
        let ticket = Ticket()
        let all = bodies
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    while true {
                        let i = ticket.next.wrappingAdd(1, ordering: .relaxed).oldValue
                        if i >= n { return }
                        for (url, method, body) in all[i] {
                            let response = try await http.execute(HTTPRequest(method: method, url: url, headers: ["Content-Type": "application/json"], body: body))
                            guard (200..<300).contains(response.status) else { throw BenchmarkError("\(method) \(url): \(response.status) \(response.bodyText)") }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        return ContinuousClock.now - started
    }

    final class Ticket: Sendable {
        let next = Atomic<Int>(0)
    }

    struct BenchmarkError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    // MARK: the operator process

    final class OperatorProcess {
        let process: Process
        let log: String
        var pid: Int32 { process.processIdentifier }

        init(kubeconfig: String, folder: String, name: String) throws {
            log = "\(folder)/\(name).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: operatorBinary)
            p.arguments = ["run", "--kubeconfig", kubeconfig, "--no-leader-elect", "--identity", name,
                           "--metrics-bind-address", "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0"]
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            p.standardOutput = handle
            p.standardError = handle
            try p.run()
            process = p
        }

        /// The probe port it announced.
        func probePort() async throws -> Int {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("metrics on ") }) {
                    let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.filter { $0 > 1000 }
                    if numbers.count >= 2 { return numbers[1] }
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw BenchmarkError("the operator announced no ports: \(log)")
        }

        /// Resident memory, KiB.
        var rssKiB: Int {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return Int(line.split(whereSeparator: { !$0.isNumber }).first ?? "") ?? 0
        }

        /// CPU time used so far (user + system).
        var cpu: Duration {
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
            // After the command: state is field 3; utime and stime are fields 14 and 15.
            guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return .zero }
            let ticks = Int(sysconf(Int32(_SC_CLK_TCK)))
            return .milliseconds((user + system) * 1000 / ticks)
        }

        func stop() {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
    }

    /// Waits for a ready policy count and ConfigMap count, from watches started before the operator.
    final class Convergence: Sendable {
        let ready = Mutex<Set<String>>([])
        let configMaps = Mutex<[String: String]>([:])  // name → config hash
        let changed = Mutex<[String: ContinuousClock.Instant]>([:])

        /// Policies' readiness (the operator writes a policy's status after its sidecar).
        func followPolicies(_ client: KubeClient, from: String) -> Task<Void, Never> {
            Task {
                await Self.watch(client, policies, from: from) { event in
                    let o = event.object
                    guard let name = o[path: "metadata", "name"]?.stringValue else { return }
                    let isReady = o[path: "status", "conditions"]?[0]?["status"] == "True"
                        && o[path: "status", "observedGeneration"] == o[path: "metadata", "generation"]
                    self.ready.withLock { if isReady { $0.insert(name) } else { $0.remove(name) } }
                }
            }
        }

        /// Sidecar ConfigMaps' hashes and when each last changed (for the edit latencies).
        func followConfigMaps(_ client: KubeClient, from: String) -> Task<Void, Never> {
            Task {
                await Self.watch(client, .configMaps, from: from) { event in
                    guard event.type == .added || event.type == .modified, let name = event.object[path: "metadata", "name"]?.stringValue else { return }
                    let hash = event.object[path: "metadata", "annotations", "mesh.lucid.io/config-hash"]?.stringValue ?? ""
                    let now = ContinuousClock.now
                    let moved = self.configMaps.withLock { m in
                        defer { m[name] = hash }
                        return m[name] != hash
                    }
                    if moved { self.changed.withLock { $0[name] = now } }
                }
            }
        }

        /// Watches until cancelled, resuming from the last version seen when a watch ends.
        static func watch(_ client: KubeClient, _ resource: GroupVersionResource, from: String, _ handle: (WatchEvent) -> Void) async {
            var version = from
            while !Task.isCancelled {
                do {
                    let stream = try await client.watch(resource, namespace: namespace, options: WatchOptions(resourceVersion: version, allowWatchBookmarks: true))
                    for try await event in stream {
                        if let rv = event.resourceVersion { version = rv }
                        if event.type == .error {
                            FileHandle.standardError.write(Data("benchmark watch of \(resource): \(event.status?.message ?? "error")\n".utf8))
                            break
                        }
                        if event.type != .bookmark { handle(event) }
                    }
                } catch {
                    if Task.isCancelled { return }
                    FileHandle.standardError.write(Data("benchmark watch of \(resource) ended: \(error)\n".utf8))
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }

        func converged(_ n: Int) -> Bool { ready.withLock { $0.count } == n }
    }

    static func healthzLatencies(_ port: Int, until done: @escaping @Sendable () -> Bool) async -> [Duration] {
        guard let http = try? HTTPClient() else { return [] }
        defer { http.shutdown() }
        var latencies: [Duration] = []
        while !done() {
            let started = ContinuousClock.now
            if let response = try? await http.execute(HTTPRequest(url: "http://127.0.0.1:\(port)/healthz", timeout: .seconds(10))), response.status == 200 {
                latencies.append(ContinuousClock.now - started)
            } else {
                latencies.append(.seconds(10))
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return latencies
    }

    // MARK: one size

    static func measure(_ n: Int, folder: String) async throws -> String {
        let configuration = APIServer.Configuration(historyWindow: 4 * n + 10_000)

        // The floor: the same writes from a bare client.
        let bare = try await APIServer.run(configuration) { server in
            try load(server, n)
            return try await bareClient(server, n)
        }

        // RSS with no objects: the operator on a server with the CRDs only.
        let emptyRSS = try await APIServer.run(configuration) { server -> Int in
            try load(server, 0)
            let kubeconfig = "\(folder)/empty.kubeconfig"
            try server.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            let op = try OperatorProcess(kubeconfig: kubeconfig, folder: folder, name: "empty-\(n)")
            defer { op.stop() }
            _ = try await op.probePort()
            try await Task.sleep(for: .seconds(2))
            return op.rssKiB
        }

        return try await APIServer.run(configuration) { server -> String in
            try load(server, n)
            let kubeconfig = "\(folder)/bench.kubeconfig"
            try server.kubeconfig().write(toFile: kubeconfig, atomically: true, encoding: .utf8)
            let client = try KubeClient(config: KubeConfig(server: server.url))
            let convergence = Convergence()
            // Only the policies are watched while the operator converges: the benchmark's own
            // watchers would cost the shared server (the bare client ran without any).
            let policyWatch = convergence.followPolicies(client, from: server.resourceVersion)
            defer { policyWatch.cancel() }
            let writesBefore = server.writes.total

            let started = ContinuousClock.now
            let op = try OperatorProcess(kubeconfig: kubeconfig, folder: folder, name: "bench-\(n)")
            defer { op.stop() }
            // LUCID_BENCH_PERF=FILE samples the converging operator with perf (figures then include perf's cost).
            let perf = try ProcessInfo.processInfo.environment["LUCID_BENCH_PERF"].map { file in
                try ChildProcess("perf", ["record", "-F", "499", "-g", "-o", file, "-p", String(op.pid)], lifetime: .seconds(600))
            }
            let probePort = try await op.probePort()
            let health = Task { await healthzLatencies(probePort) { convergence.converged(n) } }
            while !convergence.converged(n) {
                guard op.process.isRunning else { throw BenchmarkError("the operator exited: \(op.log)") }
                if ContinuousClock.now - started > .seconds(Int64(60 + n / 20)) {
                let kept = "/tmp/operator-benchmark-\(n).log"
                try? FileManager.default.removeItem(atPath: kept)
                try? FileManager.default.copyItem(atPath: op.log, toPath: kept)
                throw BenchmarkError("no convergence: \(convergence.ready.withLock { $0.count }) policies ready, \(convergence.configMaps.withLock { $0.count }) ConfigMaps; operator log in \(kept)")
            }
                try await Task.sleep(for: .milliseconds(10))
            }
            let converge = ContinuousClock.now - started
            if let perf {
                _ = try await ChildProcess.run("pkill", ["-INT", "-P", String(perf.pid)])
                _ = await perf.exit()
            }
            let healthz = await health.value
            let sidecars = try await client.listAll(.configMaps, namespace: namespace,
                                                    options: ListOptions(labelSelector: "app.kubernetes.io/managed-by=lucid-operator")).items.count
            guard sidecars == n else { throw BenchmarkError("\(n) policies Ready but \(sidecars) sidecar ConfigMaps") }
            // Let the last writes' own events come back, then count.
            try await Task.sleep(for: .seconds(2))
            let writes = server.writes.total - writesBefore
            let rss = op.rssKiB

            // Idle: 10 s of nothing.
            let idleWritesBefore = server.writes.total
            let cpuBefore = op.cpu
            // LUCID_BENCH_PERF_IDLE=FILE samples the idle operator with perf for these 10 s.
            if let file = ProcessInfo.processInfo.environment["LUCID_BENCH_PERF_IDLE"] {
                // Spawned with signals unblocked (ChildProcess), so SIGINT ends the recording.
                let perf = try ChildProcess("perf", ["record", "-F", "999", "-g", "-o", file, "-p", String(op.pid)], lifetime: .seconds(60))
                try await Task.sleep(for: .seconds(10))
                kill(perf.pid, SIGINT)
                _ = try await ChildProcess.run("pkill", ["-INT", "-P", String(perf.pid)])
                _ = await perf.exit()
            } else {
                try await Task.sleep(for: .seconds(10))
            }
            let idleCPU = op.cpu - cpuBefore
            let idleWrites = server.writes.total - idleWritesBefore

            // Edits: one policy's path at a time, until its source's ConfigMap changes.
            let configMapWatch = convergence.followConfigMaps(client, from: server.resourceVersion)
            defer { configMapWatch.cancel() }
            var edits: [Duration] = []
            for k in 0..<min(200, n) {
                let i = (k * 7919) % n
                let name = "svc-\(i)-sidecar"
                let before = convergence.configMaps.withLock { $0[name] }
                let sent = ContinuousClock.now
                _ = try await client.patch(policies, namespace: namespace, name: "p-\(i)", .merge(["spec": ["rules": [
                    ["action": "allow", "match": ["path": .string("/edited-\(k)")], "timeout": 2500], ["action": "deny", "match": ["path": "/admin"]]]]]))
                while convergence.configMaps.withLock({ $0[name] }) == before {
                    if ContinuousClock.now - sent > .seconds(10) { throw BenchmarkError("edit \(k) never reached \(name)") }
                    try await Task.sleep(for: .microseconds(200))
                }
                edits.append((convergence.changed.withLock { $0[name] } ?? .now) - sent)
            }

            let cached = 4 * n  // Services, TrafficPolicies, ConfigMaps, NetworkPolicies
            return """
                N = \(n)
                  cold converge: operator \(String(format: "%.2f", seconds(converge))) s, bare client \(String(format: "%.2f", seconds(bare))) s → ratio \(String(format: "%.2f", seconds(converge) / seconds(bare)))×
                  writes per object: \(String(format: "%.2f", Double(writes) / Double(n))) (\(writes) writes for \(n) Service+policy pairs)
                  RSS: \(emptyRSS / 1024) MiB with no objects, \(rss / 1024) MiB converged → \(String(format: "%.2f", Double(rss - emptyRSS) / Double(cached))) KiB per cached object (\(cached) objects)
                  idle 10 s: CPU \(String(format: "%.2f", seconds(idleCPU) / 10 * 100)) %, writes \(idleWrites)
                  edit → ConfigMap: p50 \(ms(percentile(edits, 0.5))), p99 \(ms(percentile(edits, 0.99))) (\(edits.count) edits)
                  /healthz during converge: p99 \(ms(percentile(healthz, 0.99))), max \(ms(healthz.max() ?? .zero)) (\(healthz.count) probes)
                """
        }
    }

}

let sizes = CommandLine.arguments.dropFirst().compactMap { Int($0) }.nonEmpty ?? [1_000, 10_000]
guard FileManager.default.isExecutableFile(atPath: operatorBinary) else {
    FileHandle.standardError.write(Data("operator-benchmark: \(operatorBinary) is missing; build it first: swift build -c release\n".utf8))
    exit(64)
}
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lucid-operator-benchmark-\(getpid())").path
try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: folder) }
for n in sizes {
    print(try await Bench.measure(n, folder: folder))
}
