import APIServer
import ControllerRuntime
import KubeClient
import LoopbackServer
import Synchronization
import Testing
import YAML

/// The informer over the embedded API server: list then watch, one transform per change,
/// indexes, read-your-writes, and versions that only move forward.
@Suite struct InformerTests {
    struct Entry: Sendable, Equatable {
        var name: String
        var color: String
    }

    final class Seen: Sendable {
        let changes = Mutex<[String]>([])
        let transforms = Atomic<Int>(0)
    }

    func configMap(_ name: String, color: String) -> JSON {
        ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string(name), "labels": ["color": .string(color)]]]
    }

    func informer(_ client: KubeClient, _ seen: Seen) -> Informer<Entry> {
        let informer = Informer<Entry>(client: client, resource: .configMaps, namespace: "default",
                                       indexers: ["color": { [$0.color] }]) { object in
            seen.transforms.wrappingAdd(1, ordering: .relaxed)
            return Entry(name: object[path: "metadata", "name"]?.stringValue ?? "", color: object[path: "metadata", "labels", "color"]?.stringValue ?? "")
        }
        informer.addHandler { change in
            let kind = switch change.kind { case .added: "added"; case .updated: "updated"; case .deleted: "deleted" }
            seen.changes.withLock { $0.append("\(kind) \(change.ref.name)") }
        }
        return informer
    }

    @Test func listsThenWatchesAndIndexesEachChangeOnce() async throws {
        try await APIServer.run { server in
            let client = try KubeClient(config: KubeConfig(server: server.url))
            _ = try await client.create(.configMaps, namespace: "default", configMap("a", color: "red"))
            let seen = Seen()
            let informer = informer(client, seen)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await informer.run() }
                await informer.waitForSync()
                #expect(informer.get(ObjectRef(namespace: "default", name: "a")) == Entry(name: "a", color: "red"))
                _ = try await client.create(.configMaps, namespace: "default", configMap("b", color: "blue"))
                _ = try await client.patch(.configMaps, namespace: "default", name: "a", .merge(["metadata": ["labels": ["color": "blue"]]]))
                try await client.delete(.configMaps, namespace: "default", name: "b")
                try await waitUntil(.seconds(30), "the changes to arrive") { seen.changes.withLock { $0.count } == 4 }
                #expect(seen.changes.withLock { $0 } == ["added a", "added b", "updated a", "deleted b"])
                #expect(informer.byIndex("color", "blue").map(\.name) == ["a"])
                #expect(informer.byIndex("color", "red").isEmpty)
                // One transform per change: a, b, a again; the deletion needs none of its own value.
                #expect(seen.transforms.load(ordering: .relaxed) <= 4)
                group.cancelAll()
            }
        }
    }

    @Test func readYourWritesAndNoStepBack() async throws {
        var faults = APIServer.Faults()
        faults.latency = .zero
        try await APIServer.run { server in
            let client = try KubeClient(config: KubeConfig(server: server.url))
            let seen = Seen()
            let informer = informer(client, seen)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await informer.run() }
                await informer.waitForSync()
                let ref = ObjectRef(namespace: "default", name: "c")
                let created = try await client.create(.configMaps, namespace: "default", configMap("c", color: "green"))
                let updated = try await client.patch(.configMaps, namespace: "default", name: "c", .merge(["metadata": ["labels": ["color": "pink"]]]))
                // The write's answer is in the cache at once, whatever the watch has delivered.
                await informer.observe(updated)
                #expect(informer.get(ref)?.color == "pink")
                // An older version (the create, replayed) changes nothing.
                await informer.observe(created)
                #expect(informer.get(ref)?.color == "pink")
                try await waitUntil(.seconds(30), "the watch to catch up") { seen.changes.withLock { $0.count } >= 2 }
                try await Task.sleep(for: .milliseconds(200))
                #expect(informer.get(ref)?.color == "pink")
                #expect(seen.changes.withLock { $0 } == ["updated c"] || seen.changes.withLock { $0 } == ["added c", "updated c"],
                        "\(seen.changes.withLock { $0 })")
                group.cancelAll()
            }
        }
    }
}
