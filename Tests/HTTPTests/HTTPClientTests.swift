import Foundation
import HTTP
import LoopbackServer
import Synchronization
import Testing

@Suite struct HTTPClientTests {
    @Test func sequentialRequestsReuseOneConnection() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        try await LoopbackServer.run(handler: { request, writer in
            try await writer.respond(status: 200, text: "echo \(request.uri)")
        }) { server in
            var newConnections = 0
            for i in 0..<1000 {
                let response = try await client.execute(HTTPRequest(url: "\(server.baseURL)/r/\(i)"))
                #expect(response.status == 200)
                #expect(response.bodyText == "echo /r/\(i)")
                newConnections += response.newConnections
            }
            #expect(server.requestsServed == 1000)
            #expect(server.connectionsAccepted <= 3, "server accepted \(server.connectionsAccepted) connections")
            #expect(newConnections <= 3, "libcurl opened \(newConnections) connections")
        }
    }

    @Test func hundredConcurrentRequestsAllComplete() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        try await LoopbackServer.run(handler: { request, writer in
            try await writer.respond(status: 201, headers: [("X-Echo", request.method)], body: request.body)
        }) { server in
            let bodies = try await withThrowingTaskGroup(of: (Int, HTTPResponse).self) { group in
                for i in 0..<100 {
                    group.addTask {
                        let body = Array("payload-\(i)".utf8)
                        return (i, try await client.execute(HTTPRequest(method: .post, url: "\(server.baseURL)/c", body: body)))
                    }
                }
                var seen: [Int: HTTPResponse] = [:]
                for try await (i, response) in group { seen[i] = response }
                return seen
            }
            #expect(bodies.count == 100)
            for (i, response) in bodies {
                #expect(response.status == 201)
                #expect(response.headers["x-echo"] == "POST")
                #expect(response.bodyText == "payload-\(i)")
            }
        }
    }

    @Test func methodsHeadersAndBodiesReachTheServer() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        try await LoopbackServer.run(handler: { request, writer in
            let auth = request.header("authorization") ?? "-"
            let type = request.header("content-type") ?? "-"
            try await writer.respond(status: 200, text: "\(request.method) \(auth) \(type) \(request.bodyText)")
        }) { server in
            var request = HTTPRequest(method: .patch, url: "\(server.baseURL)/x", headers: ["Content-Type": "application/merge-patch+json"], body: Array(#"{"a":1}"#.utf8))
            request.setBearerToken("s3cret")
            let response = try await client.execute(request)
            #expect(response.bodyText == #"PATCH Bearer s3cret application/merge-patch+json {"a":1}"#)
            let deleted = try await client.execute(HTTPRequest(method: .delete, url: "\(server.baseURL)/x"))
            #expect(deleted.bodyText == "DELETE - - ")
        }
    }

    @Test func streamedLinesArriveIntactAcrossOddChunks() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        var payload: [UInt8] = []
        for i in 0..<10_000 {
            payload += Array(#"{"type":"ADDED","object":{"seq":\#(i),"pad":"\#(String(repeating: "x", count: i % 97))"}}"#.utf8)
            payload += i % 3 == 0 ? [13, 10] : [10]  // some lines end in CRLF
        }
        let body = payload
        try await LoopbackServer.run(handler: { _, writer in
            try await writer.start(status: 200, headers: [("Content-Type", "application/json")])
            let sizes = [1, 7, 13, 4093, 3, 65_521, 2, 997]
            var offset = 0, k = 0
            while offset < body.count {
                let n = min(sizes[k % sizes.count], body.count - offset)
                try await writer.write(Array(body[offset..<offset + n]))
                offset += n
                k += 1
            }
            try await writer.end()
        }) { server in
            let stream = try await client.stream(HTTPRequest(url: "\(server.baseURL)/watch", timeout: nil))
            #expect(stream.status == 200)
            #expect(stream.headers["content-type"] == "application/json")
            var count = 0
            for try await line in stream.lines {
                let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
                let seq = (object?["object"] as? [String: Any])?["seq"] as? Int
                #expect(seq == count, "line \(count) decoded to \(String(describing: seq))")
                if seq != count { break }
                count += 1
            }
            #expect(count == 10_000)
        }
    }



    @Test func errorsCarryCurlCodeAndURL() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        let port = try LoopbackPort.unused()
        let url = "http://127.0.0.1:\(port)/nothing-here"
        do {
            _ = try await client.execute(HTTPRequest(url: url))
            Issue.record("expected a connection failure")
        } catch {
            #expect(error.curlCode == 7)
            #expect(error.isConnectFailure)
            #expect(error.url == url)
            #expect(!error.message.isEmpty)
            #expect(error.description.contains(url))
        }
    }

    @Test func timeoutsAreReportedAsTimeouts() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        try await LoopbackServer.run(handler: { _, writer in
            try await Task.sleep(for: .seconds(5))
            try await writer.respond(status: 200)
        }) { server in
            do {
                _ = try await client.execute(HTTPRequest(url: "\(server.baseURL)/slow", timeout: .milliseconds(200)))
                Issue.record("expected a timeout")
            } catch {
                #expect((error as? HTTPError)?.isTimeout == true, "\(error)")
            }
        }
    }

    @Test func requestsAfterShutdownFail() async throws {
        let client = try HTTPClient()
        client.shutdown()
        await #expect(throws: HTTPError.self) { _ = try await client.execute(HTTPRequest(url: "http://127.0.0.1:1/")) }
    }
}


@Suite struct CancellationRaceTests {
    /// A request made by a task that is already cancelled must end (with .cancelled), not hang.
    /// Rounds of concurrent tasks rather than one long chain, so a busy test process (the suite
    /// runs in parallel on two cores) delays each round, not each of the 400 requests.
    @Test(.timeLimit(.minutes(3))) func requestsFromCancelledTasksEndAtOnce() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        try await LoopbackServer.run(handler: { _, writer in try await writer.respond(status: 200, text: "ok") }) { server in
            for _ in 0..<10 {
                let outcomes = await withTaskGroup(of: String.self) { group in
                    for i in 0..<40 {
                        group.addTask {
                            withUnsafeCurrentTask { $0?.cancel() }
                            do {
                                if i.isMultiple(of: 2) {
                                    _ = try await client.execute(HTTPRequest(url: server.baseURL))
                                } else {
                                    _ = try await client.stream(HTTPRequest(url: server.baseURL, timeout: nil)).status
                                }
                                return "succeeded"
                            } catch let error as HTTPError {
                                return error.kind == .cancelled ? "cancelled" : "\(error)"
                            } catch {
                                return "\(error)"
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                #expect(outcomes == Array(repeating: "cancelled", count: 40))
            }
        }
    }
}

/// Latency bounds, run alone (`hack/test.sh`, second phase) so other tests do not load the machine.
@Suite(.serialized) struct HTTPTimingTests {
    @Test func cancellingAStreamEndsTheTransferQuickly() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        let serverSawClose = Mutex<ContinuousClock.Instant?>(nil)
        try await LoopbackServer.run(handler: { _, writer in
            try await writer.start(status: 200)
            do {
                while true {
                    try await writer.write(Array(#"{"tick":true}"#.utf8) + [10])
                    try await Task.sleep(for: .milliseconds(5))
                }
            } catch {
                serverSawClose.withLock { $0 = ContinuousClock.now }
                throw error
            }
        }) { server in
            let linesRead = Atomic<Int>(0)
            let reader = Task {
                let stream = try await client.stream(HTTPRequest(url: "\(server.baseURL)/forever", timeout: nil))
                for try await _ in stream.lines { linesRead.add(1, ordering: .relaxed) }
            }
            try await waitUntil(.seconds(5)) { linesRead.load(ordering: .relaxed) >= 10 }
            let cancelledAt = ContinuousClock.now
            reader.cancel()
            let result = await reader.result
            #expect(ContinuousClock.now - cancelledAt < .seconds(1))
            #expect(throws: HTTPError.self) { try result.get() }
            try await waitUntil(.seconds(1)) { serverSawClose.withLock { $0 } != nil }
            let closedAt = try #require(serverSawClose.withLock { $0 })
            #expect(closedAt - cancelledAt < .seconds(1))
        }
    }

    @Test func aSlowReaderHoldsTheServerBack() async throws {
        let client = try HTTPClient()
        defer { client.shutdown() }
        let sent = Atomic<Int>(0)
        let line = Array(String(repeating: "y", count: 1023).utf8) + [10]
        let total = 48 << 10  // 48 Ki lines of 1 KiB = 48 MiB
        try await LoopbackServer.run(handler: { _, writer in
            try await writer.start(status: 200)
            for _ in 0..<(total / 16) {
                try await writer.write(Array([[UInt8]](repeating: line, count: 16).joined()))
                sent.add(16 << 10, ordering: .relaxed)
            }
            try await writer.end()
        }) { server in
            let stream = try await client.stream(HTTPRequest(url: "\(server.baseURL)/big", timeout: nil))
            var iterator = stream.lines.makeAsyncIterator()
            _ = try await iterator.next()
            // The reader stops; libcurl pauses at ~1 MiB queued, so the server stalls on TCP buffers.
            try await Task.sleep(for: .seconds(1))
            let stalledAt = sent.load(ordering: .relaxed)
            #expect(stalledAt < 16 << 20, "server pushed \(stalledAt >> 20) MiB into a reader that stopped")
            var count = 1
            while let l = try await iterator.next() {
                #expect(l.count == 1023)
                count += 1
            }
            #expect(count == total)
        }
    }
}
