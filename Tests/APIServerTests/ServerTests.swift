import APIServer
import Foundation
import KubeClient
import LucidAPI
import StructuralSchema
import Synchronization
import Testing
import YAML

/// The server through the project's own KubeClient, over real HTTP.
@Suite struct ServerTests {
    @Test func listThenWatchSeesEveryLaterChangeOnceAndInOrder() async throws {
        try await withServer { _, _, client in
            for i in 0..<20 { _ = try await client.create(.configMaps, namespace: "default", configMap("before-\(i)")) }
            let list = try await client.listAll(.configMaps, namespace: "default", pageSize: 7)
            #expect(list.items.count == 20)
            let stream = try await client.watch(.configMaps, namespace: "default", options: WatchOptions(resourceVersion: list.resourceVersion))
            var expected: [String] = []
            for i in 0..<30 {
                let made = try await client.create(.configMaps, namespace: "default", configMap("after-\(i)"))
                expected.append("ADDED after-\(i) \(made[path: "metadata", "resourceVersion"]!.stringValue!)")
                if i % 3 == 0, i < 20 {
                    let changed = try await client.patch(.configMaps, namespace: "default", name: "before-\(i)", .merge(["data": ["k": .string("v\(i)")]]))
                    expected.append("MODIFIED before-\(i) \(changed[path: "metadata", "resourceVersion"]!.stringValue!)")
                }
                if i % 5 == 0, i < 20 {
                    let gone = try await client.delete(.configMaps, namespace: "default", name: "before-\(i)")
                    expected.append("DELETED before-\(i) \(gone[path: "metadata", "resourceVersion"]!.stringValue!)")
                }
            }
            var seen: [String] = []
            for try await event in stream where event.type != .bookmark {
                seen.append("\(event.type.rawValue) \(event.object[path: "metadata", "name"]!.stringValue!) \(event.resourceVersion!)")
                if seen.count == expected.count { break }
            }
            #expect(seen == expected)
        }
    }

    @Test func aStaleUpdateGetsConflict() async throws {
        try await withServer { _, _, client in
            let made = try await client.create(.configMaps, namespace: "default", configMap("c"))
            var first = made, second = made
            first["data"] = ["k": "first"]
            second["data"] = ["k": "second"]
            _ = try await client.update(.configMaps, namespace: "default", first)
            do throws(KubeError) {
                _ = try await client.update(.configMaps, namespace: "default", second)
                Issue.record("a stale update was accepted")
            } catch {
                #expect(error.isConflict)
                #expect(error.httpStatus == 409)
            }
        }
    }

    @Test func aWatchFromBeforeTheHistoryWindowGetsGone() async throws {
        try await withServer(APIServer.Configuration(historyWindow: 10)) { _, _, client in
            let first = try await client.create(.configMaps, namespace: "default", configMap("c0"))
            for i in 1...25 { _ = try await client.create(.configMaps, namespace: "default", configMap("c\(i)")) }
            let stream = try await client.watch(.configMaps, namespace: "default",
                                                options: WatchOptions(resourceVersion: first[path: "metadata", "resourceVersion"]!.stringValue!))
            var iterator = stream.makeAsyncIterator()
            let event = try #require(try await iterator.next())
            #expect(event.type == .error)
            #expect(event.status?.code == 410)
            #expect(event.status?.reason == "Expired")
        }
    }

    @Test func bookmarksArrive() async throws {
        try await withServer(APIServer.Configuration(bookmarkInterval: .milliseconds(100))) { _, _, client in
            let list = try await client.list(.configMaps, namespace: "default")
            let stream = try await client.watch(.configMaps, namespace: "default",
                                                options: WatchOptions(resourceVersion: list.resourceVersion, allowWatchBookmarks: true))
            let created = try await client.create(.configMaps, namespace: "default", configMap("x"))
            let createdVersion = Int(created[path: "metadata", "resourceVersion"]?.stringValue ?? "") ?? 0
            #expect(createdVersion >= Int(list.resourceVersion)! + 1)
            // A bookmark may fire before the create lands on a loaded machine; a later one carries it.
            var bookmarks = 0
            var latest = 0
            for try await event in stream where event.type == .bookmark {
                bookmarks += 1
                latest = Int(event.resourceVersion ?? "") ?? 0
                if latest >= createdVersion || bookmarks == 50 { break }
            }
            #expect(latest >= createdVersion, "\(bookmarks) bookmarks, the last at \(latest)")
        }
    }

    @Test func deletingAnOwnerDeletesItsDependents() async throws {
        try await withServer { _, _, client in
            let owner = try await client.create(trafficPolicies, namespace: "default", policy("owner"))
            let reference: JSON = [["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "TrafficPolicy", "name": "owner",
                                    "uid": owner[path: "metadata", "uid"]!, "controller": true]]
            for name in ["dep-a", "dep-b", "orphan-me"] {
                var cm = configMap(name)
                cm["metadata"]?["ownerReferences"] = reference
                _ = try await client.create(.configMaps, namespace: "default", cm)
            }
            let other = try await client.create(trafficPolicies, namespace: "default", policy("other"))
            var orphan = configMap("kept")
            orphan["metadata"]?["ownerReferences"] = [["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "TrafficPolicy", "name": "other",
                                                       "uid": other[path: "metadata", "uid"]!]]
            _ = try await client.create(.configMaps, namespace: "default", orphan)

            try await client.delete(trafficPolicies, namespace: "default", name: "owner")
            try await client.delete(trafficPolicies, namespace: "default", name: "other", options: DeleteOptions(propagationPolicy: .orphan))
            let names = try await client.list(.configMaps, namespace: "default").items.compactMap { $0[path: "metadata", "name"]?.stringValue }
            #expect(names == ["kept"])
            let kept = try await client.get(.configMaps, namespace: "default", name: "kept")
            #expect(kept[path: "metadata", "ownerReferences"] == nil)
        }
    }

    @Test func generateNameSelectorsAndPages() async throws {
        try await withServer { _, _, client in
            for i in 0..<12 {
                var cm = configMap("", ["i": .string(String(i))])
                cm["metadata"] = ["generateName": "gen-", "labels": ["parity": .string(i % 2 == 0 ? "even" : "odd"), "tier": "a"]]
                let made = try await client.create(.configMaps, namespace: "default", cm)
                #expect(made[path: "metadata", "name"]?.stringValue?.hasPrefix("gen-") == true)
            }
            let even = try await client.listAll(.configMaps, namespace: "default", options: ListOptions(labelSelector: "parity=even,tier in (a,b)"), pageSize: 4)
            #expect(even.items.count == 6)
            let notOdd = try await client.list(.configMaps, namespace: "default", options: ListOptions(labelSelector: "parity!=odd,!missing"))
            #expect(notOdd.items.count == 6)
            let name = even.items[0][path: "metadata", "name"]!.stringValue!
            let byField = try await client.list(.configMaps, namespace: "default", options: ListOptions(fieldSelector: "metadata.name=\(name)"))
            #expect(byField.items.count == 1)
        }
    }

    @Test func deletingACRDStopsServingItsResources() async throws {
        try await withServer { _, _, client in
            _ = try await client.create(trafficPolicies, namespace: "default", policy("p"))
            try await client.delete(.customResourceDefinitions, name: "trafficpolicies.mesh.lucid.io")
            do throws(KubeError) {
                _ = try await client.list(trafficPolicies, namespace: "default")
                Issue.record("still served")
            } catch {
                #expect(error.isNotFound)
            }
            let crd = try YAML.parseAll(try CRDs.yaml()).first { $0[path: "metadata", "name"] == "trafficpolicies.mesh.lucid.io" }!
            _ = try await client.create(.customResourceDefinitions, crd)
            #expect(try await client.list(trafficPolicies, namespace: "default").items.isEmpty)
        }
    }

    @Test func everySchemaLevelInvalidFixtureIsRefusedNamingItsField() async throws {
        let fixture = try YAML.parseAll(try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/Fixtures/invalid-resources.yaml"), encoding: .utf8))[0]
        try await withServer { _, _, client in
            _ = try await client.create(.namespaces, namespace("lucid-payment"))
            var refused = 0
            for c in fixture["cases"]?.arrayValue ?? [] where c["semantic"]?.boolValue != true {
                let object = try InvalidFixture.build(fixture, c)
                let field = c["field"]?.stringValue ?? c["path"]!.stringValue!
                let resource = GroupVersionResource(group: object["apiVersion"]!.stringValue!.split(separator: "/").first.map(String.init)!,
                                                    version: "v1alpha1", resource: CRDs.plural(of: object["kind"]!.stringValue!))
                do throws(KubeError) {
                    _ = try await client.create(resource, namespace: "lucid-payment", object, fieldValidation: "Strict")
                    Issue.record("accepted: \(c.jsonText)")
                } catch {
                    let named = error.causes.contains { $0.field == field } || error.message.contains("\"\(field)\"")
                    #expect(named, "\(c.jsonText): \(error.message)")
                    refused += 1
                }
            }
            #expect(refused >= 50)
        }
    }
}

/// Builds a case of Tests/Fixtures/invalid-resources.yaml (same rules as the LucidAPI tests).
enum InvalidFixture {
    static func build(_ fixture: JSON, _ c: JSON) throws -> JSON {
        var object = fixture["bases"]![c["base"]!.stringValue!]!
        object["metadata"]?["name"] = .string("case-\(UUID().uuidString.prefix(8).lowercased())")
        let segments = c["path"]!.stringValue!.split(separator: ".").flatMap { part -> [Either] in
            let pieces = part.split(separator: "[")
            return [.key(String(pieces[0]))] + pieces.dropFirst().map { .index(Int($0.dropLast())!) }
        }
        return edit(object, segments[...], c["remove"]?.boolValue == true ? nil : (c["set"] ?? .null))
    }

    enum Either { case key(String), index(Int) }

    static func edit(_ value: JSON, _ path: ArraySlice<Either>, _ new: JSON?) -> JSON {
        guard let first = path.first else { return new ?? .null }
        switch (first, value) {
        case (.key(let k), .object(var o)):
            o[k] = path.count == 1 ? new : edit(o[k] ?? [:], path.dropFirst(), new)
            return .object(o)
        case (.index(let i), .array(var a)):
            if path.count == 1 {
                if let new { if i == a.count { a.append(new) } else { a[i] = new } } else { a.remove(at: i) }
            } else {
                a[i] = edit(a[i], path.dropFirst(), new)
            }
            return .array(a)
        default:
            return value
        }
    }
}
