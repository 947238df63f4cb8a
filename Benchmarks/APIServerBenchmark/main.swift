// Creates 10,000 objects in the embedded API server over the KubeClient while a watcher
// receives them; prints writes/s, watch events/s, and the same number of requests to a bare
// loopback handler (no store) for a ratio measured in the same run.
//
//   swift run -c release api-server-benchmark [objects] [concurrency]
import APIServer
import Foundation
import HTTP
import KubeClient
import LoopbackServer
import Synchronization
import YAML

let arguments = CommandLine.arguments
let total = arguments.count > 1 ? Int(arguments[1]) ?? 10_000 : 10_000
let concurrency = arguments.count > 2 ? Int(arguments[2]) ?? 32 : 32

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

final class Ticket: Sendable {
    let next = Atomic<Int>(0)
}

/// `count` requests from `concurrency` tasks; returns elapsed.
func drive(_ count: Int, _ concurrency: Int, _ one: @escaping @Sendable (Int) async throws -> Void) async throws -> Duration {
    let ticket = Ticket()
    let started = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                while true {
                    let i = ticket.next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if i >= count { return }
                    try await one(i)
                }
            }
        }
        try await group.waitForAll()
    }
    return ContinuousClock.now - started
}

let result = try await APIServer.run(APIServer.Configuration(historyWindow: total + 1000)) { server -> String in
    let client = try KubeClient(config: KubeConfig(server: server.url))
    _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "bench"]])
    let from = try await client.list(.configMaps, namespace: "bench").resourceVersion
    let stream = try await client.watch(.configMaps, namespace: "bench", options: WatchOptions(resourceVersion: from, allowWatchBookmarks: false))

    let started = ContinuousClock.now
    let watcher = Task { () -> Duration in
        var seen = 0
        for try await event in stream where event.type == .added {
            seen += 1
            if seen == total { break }
        }
        return ContinuousClock.now - started
    }
    let writes = try await drive(total, concurrency) { i in
        _ = try await client.create(.configMaps, namespace: "bench", [
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": ["name": .string("cm-\(i)"), "labels": ["app": "bench"]],
            "data": ["index": .string(String(i)), "payload": .string(String(repeating: "x", count: 200))],
        ])
    }
    let watched = try await watcher.value
    let listStarted = ContinuousClock.now
    let listed = try await client.listAll(.configMaps, namespace: "bench", pageSize: 500)
    let listTime = ContinuousClock.now - listStarted
    precondition(listed.items.count == total, "listed \(listed.items.count) of \(total)")
    return """
        objects: \(total), writers: \(concurrency)
        writes:        \(String(format: "%8.0f", Double(total) / seconds(writes))) /s  (\(String(format: "%.2f", seconds(writes))) s)
        watch events:  \(String(format: "%8.0f", Double(total) / seconds(watched))) /s  (last event after \(String(format: "%.2f", seconds(watched))) s)
        list of all:   \(String(format: "%8.0f", Double(total) / seconds(listTime))) objects/s in pages of 500
        """
}

// The same requests against a handler that stores nothing: the HTTP floor.
let http = try HTTPClient()
let bare = try await LoopbackServer.run(handler: { request, writer in
    try await writer.respond(status: 201, headers: [("Content-Type", "application/json")], body: request.body)
}) { server -> Duration in
    let body = Array(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"payload":"xxxxxxxx"}}"#.utf8)
    return try await drive(total, concurrency) { _ in
        _ = try await http.execute(HTTPRequest(method: .post, url: "\(server.baseURL)/api/v1/namespaces/bench/configmaps", body: body))
    }
}
http.shutdown()
print(result)
print("bare loopback:  \(String(format: "%8.0f", Double(total) / seconds(bare))) requests/s (same client, no store)")
