import Foundation
import HTTP
import KubeClient
import LoopbackServer
import Synchronization
import Testing
import YAML

/// Requests a fake API server saw, for assertions.
final class Seen: Sendable {
    let requests = Mutex<[(request: LoopbackRequest, at: ContinuousClock.Instant)]>([])
    func add(_ r: LoopbackRequest) { requests.withLock { $0.append((r, .now)) } }
    var all: [LoopbackRequest] { requests.withLock { $0.map(\.request) } }
    var times: [ContinuousClock.Instant] { requests.withLock { $0.map(\.at) } }
}

func client(_ server: LoopbackServer, credentials: KubeConfig.Credentials = .token("t0k"), retry: RetryPolicy = RetryPolicy(),
            observer: (@Sendable (RequestRecord) -> Void)? = nil) throws -> KubeClient {
    try KubeClient(config: KubeConfig(server: server.baseURL, credentials: credentials), retry: retry, observer: observer)
}

let notFound = #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"configmaps"},"code":404}"#

@Suite struct KubeClientTests {
    @Test func requestsCarryTokenAndHeadersAndBuildPaths() async throws {
        let seen = Seen()
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            try await w.respond(status: 200, text: #"{"kind":"ConfigMap","metadata":{"name":"x"}}"#)
        }) { server in
            let kube = try client(server)
            _ = try await kube.get(.configMaps, namespace: "ns", name: "x")
            _ = try await kube.get(.customResourceDefinitions, name: "tps.mesh.lucid.io")
            _ = try await kube.get(GroupVersionResource(group: "mesh.lucid.io", version: "v1alpha1", resource: "trafficpolicies"),
                                   namespace: "lucid-payment", name: "p", subresource: "status")
            let r = seen.all
            #expect(r.map(\.uri) == [
                "/api/v1/namespaces/ns/configmaps/x",
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tps.mesh.lucid.io",
                "/apis/mesh.lucid.io/v1alpha1/namespaces/lucid-payment/trafficpolicies/p/status",
            ])
            #expect(r[0].header("authorization") == "Bearer t0k")
            #expect(r[0].header("accept") == "application/json")
            #expect(r[0].header("user-agent")?.hasPrefix("lucid-operator/") == true)
        }
    }

    @Test func tokenFileIsReadAgainWhenItChanges() async throws {
        let dir = try TempDir()
        let tokenPath = try dir.write("token", "first\n")
        let seen = Seen()
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            try await w.respond(status: 200, text: "{}")
        }) { server in
            let kube = try client(server, credentials: .tokenFile(tokenPath))
            _ = try await kube.get(.namespaces, name: "a")
            _ = try await kube.get(.namespaces, name: "a")
            try "second-longer\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)  // new inode and size
            _ = try await kube.get(.namespaces, name: "a")
            #expect(seen.all.map { $0.header("authorization") } == ["Bearer first", "Bearer first", "Bearer second-longer"])
        }
    }

    @Test func statusBodiesBecomeTypedErrors() async throws {
        let invalid = #"{"kind":"Status","status":"Failure","message":"TrafficPolicy.mesh.lucid.io \"p\" is invalid: spec.priority: Invalid value: 5000","reason":"Invalid","details":{"name":"p","kind":"TrafficPolicy","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: 5000","field":"spec.priority"}]},"code":422}"#
        try await LoopbackServer.run(handler: { r, w in
            if r.method == "GET" { try await w.respond(status: 404, text: notFound) }
            else if r.method == "POST" { try await w.respond(status: 422, text: invalid) }
            else { try await w.respond(status: 403, text: "forbidden by policy") }
        }) { server in
            let kube = try client(server)
            do throws(KubeError) {
                _ = try await kube.get(.configMaps, namespace: "ns", name: "x")
                Issue.record("expected NotFound")
            } catch {
                #expect(error.code == .api)
                #expect(error.isNotFound)
                #expect(error.reason == "NotFound")
                #expect(error.status?.details?.name == "x")
                #expect(error.description.contains("not found"))
            }
            do throws(KubeError) {
                _ = try await kube.create(.configMaps, namespace: "ns", ["metadata": ["name": "p"]])
                Issue.record("expected Invalid")
            } catch {
                #expect(error.isInvalid)
                #expect(error.causes == [Status.Cause(reason: "FieldValueInvalid", message: "Invalid value: 5000", field: "spec.priority")])
            }
            do throws(KubeError) {
                _ = try await kube.delete(.configMaps, namespace: "ns", name: "x")
                Issue.record("expected Forbidden")
            } catch {
                #expect(error.httpStatus == 403)
                #expect(error.reason == "Forbidden")  // synthesised when the body is not a Status
                #expect(error.message == "forbidden by policy")
            }
        }
    }


    @Test func serverErrorsAreRetriedOnlyForIdempotentVerbs() async throws {
        let seen = Seen()
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            let failures = seen.all.filter { $0.method == r.method }.count
            if failures <= 2 { try await w.respond(status: 503, text: "busy") } else { try await w.respond(status: 200, text: "{}") }
        }) { server in
            let kube = try client(server, retry: RetryPolicy(baseDelay: .milliseconds(5)))
            _ = try await kube.get(.pods, namespace: "ns", name: "p")
            #expect(seen.all.filter { $0.method == "GET" }.count == 3)
            await #expect(throws: KubeError.self) { _ = try await kube.patch(.pods, namespace: "ns", name: "p", .merge(["a": 1])) }
            #expect(seen.all.filter { $0.method == "PATCH" }.count == 1)
        }
    }

    @Test func watchLinesDecodeToTypedEvents() async throws {
        let seen = Seen()
        let lines = [
            #"{"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"11"}}}"#,
            #"{"type":"MODIFIED","object":{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"12"},"data":{"k":"v"}}}"#,
            #"{"type":"BOOKMARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"15"}}}"#,
            #"{"type":"DELETED","object":{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"16"}}}"#,
            #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 10 (16)","reason":"Expired","code":410}}"#,
        ]
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            try await w.start(status: 200, headers: [("Content-Type", "application/json")])
            for line in lines { try await w.write(Array((line + "\n").utf8)) }
            try await w.end()
        }) { server in
            let stream = try await client(server).watch(.configMaps, namespace: "ns",
                                                         options: WatchOptions(labelSelector: "app=x,tier!=db", resourceVersion: "10", timeoutSeconds: 30))
            var events: [WatchEvent] = []
            for try await event in stream { events.append(event) }
            #expect(events.map(\.type) == [.added, .modified, .bookmark, .deleted, .error])
            #expect(events.map(\.resourceVersion) == ["11", "12", "15", "16", nil])
            #expect(events[1].object[path: "data", "k"] == "v")
            #expect(events[4].status?.code == 410)
            #expect(events[4].status?.reason == "Expired")
            let q = seen.all[0].query
            #expect(q["watch"] == "true")
            #expect(q["allowWatchBookmarks"] == "true")
            #expect(q["resourceVersion"] == "10")
            #expect(q["timeoutSeconds"] == "30")
            #expect(q["labelSelector"] == "app%3Dx%2Ctier%21%3Ddb")
        }
    }

    @Test func aWatchRefusedAtTheStartThrowsTheStatus() async throws {
        try await LoopbackServer.run(handler: { _, w in
            try await w.respond(status: 410, text: #"{"kind":"Status","status":"Failure","message":"too old","reason":"Expired","code":410}"#)
        }) { server in
            let kube = try client(server)
            do throws(KubeError) {
                _ = try await kube.watch(.configMaps, options: WatchOptions(resourceVersion: "1"))
                Issue.record("expected 410")
            } catch {
                #expect(error.isGone)
                #expect(error.message == "too old")
            }
        }
    }

    @Test func listAllFollowsContinueTokens() async throws {
        let seen = Seen()
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            let page = r.query["continue"] == nil ? 0 : Int(r.query["continue"]!)!
            let items = (0..<2).map { #"{"metadata":{"name":"o\#(page * 2 + $0)"}}"# }.joined(separator: ",")
            let next = page < 2 ? "\"\(page + 1)\"" : "\"\""
            try await w.respond(status: 200, text: #"{"kind":"List","metadata":{"resourceVersion":"\#(100 + page)","continue":\#(next)},"items":[\#(items)]}"#)
        }) { server in
            let list = try await client(server).listAll(.services, namespace: "ns", options: ListOptions(labelSelector: "mesh.lucid.io/plane in (ops,chain)"), pageSize: 2)
            #expect(list.items.compactMap { $0[path: "metadata", "name"]?.stringValue } == ["o0", "o1", "o2", "o3", "o4", "o5"])
            #expect(list.resourceVersion == "100")
            #expect(seen.all.count == 3)
            #expect(seen.all.allSatisfy { $0.query["limit"] == "2" && $0.query["labelSelector"] == "mesh.lucid.io%2Fplane%20in%20%28ops%2Cchain%29" })
        }
    }

    @Test func patchesAndDeletesSendTheRightShapes() async throws {
        let seen = Seen()
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            try await w.respond(status: 200, text: "{}")
        }) { server in
            let kube = try client(server)
            _ = try await kube.patch(.configMaps, namespace: "n", name: "c", .merge(["data": ["a": "1"]]))
            _ = try await kube.patch(.configMaps, namespace: "n", name: "c", .json([["op": "remove", "path": "/metadata/finalizers/0"]]))
            _ = try await kube.patch(.configMaps, namespace: "n", name: "c", .apply(["apiVersion": "v1", "kind": "ConfigMap"], fieldManager: "lucid-operator", force: true))
            _ = try await kube.patch(.configMaps, namespace: "n", name: "c", .merge(["status": ["phase": "x"]]), subresource: "status")
            _ = try await kube.updateStatus(.configMaps, namespace: "n", ["metadata": ["name": "c", "resourceVersion": "7"]])
            try await kube.delete(.configMaps, namespace: "n", name: "c", options: DeleteOptions(propagationPolicy: .foreground, preconditionResourceVersion: "7"))
            let r = seen.all
            #expect(r.map { $0.header("content-type") } == [
                "application/merge-patch+json", "application/json-patch+json", "application/apply-patch+yaml",
                "application/merge-patch+json", "application/json", "application/json"])
            #expect(r[2].query["fieldManager"] == "lucid-operator")
            #expect(r[2].query["force"] == "true")
            #expect(r[3].path == "/api/v1/namespaces/n/configmaps/c/status")
            #expect(r[4].method == "PUT" && r[4].path == "/api/v1/namespaces/n/configmaps/c/status")
            let deleteBody = try JSON.parse(r[5].body)
            #expect(r[5].method == "DELETE")
            #expect(deleteBody["propagationPolicy"] == "Foreground")
            #expect(deleteBody[path: "preconditions", "resourceVersion"] == "7")
            #expect(try JSON.parse(r[1].body) == [["op": "remove", "path": "/metadata/finalizers/0"]])
        }
    }

    @Test func typedDecodingAndMetricsHook() async throws {
        struct ConfigMap: Codable { struct Meta: Codable { var name: String }; var metadata: Meta; var data: [String: String]? }
        let records = Mutex<[RequestRecord]>([])
        try await LoopbackServer.run(handler: { r, w in
            if r.uri.hasSuffix("/missing") { try await w.respond(status: 404, text: notFound) }
            else { try await w.respond(status: 200, text: #"{"metadata":{"name":"cm"},"data":{"k":"v"}}"#) }
        }) { server in
            let kube = try client(server) { record in records.withLock { $0.append(record) } }
            let cm = try await kube.get(ConfigMap.self, .configMaps, namespace: "n", name: "cm")
            #expect(cm.metadata.name == "cm" && cm.data == ["k": "v"])
            _ = try? await kube.get(.configMaps, namespace: "n", name: "missing")
            let seen = records.withLock { $0 }
            #expect(seen.map { "\($0.verb) \($0.method) \($0.code)" } == ["get GET 200", "get GET 404"])
            #expect(seen.allSatisfy { $0.duration > .zero })
        }
    }

    @Test func connectionFailuresAreTransportErrors() async throws {
        let port = try LoopbackPort.unused()
        let kube = try KubeClient(config: KubeConfig(server: "http://127.0.0.1:\(port)"), retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(1)))
        do throws(KubeError) {
            _ = try await kube.get(.namespaces, name: "x")
            Issue.record("expected a transport error")
        } catch {
            #expect(error.code == .transport)
            #expect(error.transport?.curlCode == 7)
            #expect(error.url.contains("/api/v1/namespaces/x"))
        }
    }
}

/// Latency bounds, run alone (`hack/test.sh`, second phase).
@Suite(.serialized) struct KubeClientTimingTests {
    @Test func tooManyRequestsIsRetriedAfterRetryAfter() async throws {
        let seen = Seen()
        try await LoopbackServer.run(handler: { r, w in
            seen.add(r)
            if seen.all.count == 1 {
                try await w.respond(status: 429, headers: [("Retry-After", "1")], text: #"{"kind":"Status","reason":"TooManyRequests","code":429}"#)
            } else {
                try await w.respond(status: 201, text: #"{"metadata":{"name":"made"}}"#)
            }
        }) { server in
            let created = try await client(server).create(.configMaps, namespace: "ns", ["metadata": ["name": "made"]])
            #expect(created[path: "metadata", "name"] == "made")
            let times = seen.times
            try #require(times.count == 2)
            let gap = times[1] - times[0]
            #expect(gap >= .milliseconds(950) && gap < .milliseconds(2000), "retried after \(gap)")
        }
    }
}
