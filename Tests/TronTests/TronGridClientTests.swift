import HTTP
import LoopbackServer
import Synchronization
import Testing
import Tron

@Suite struct TronGridClientTests {
    @Test func sendsTheAPIKeyAndBacksOffOnRateLimits() async throws {
        let seen = Mutex<[(String?, ContinuousClock.Instant)]>([])
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await LoopbackServer.run(handler: { request, writer in
            let n = seen.withLock { $0.append((request.header("TRON-PRO-API-KEY"), .now)); return $0.count }
            switch n {
            case 1: try await writer.respond(status: 429, text: "rate limited")
            case 2: try await writer.respond(status: 503, text: "maintenance")
            case 3: try await writer.respond(status: 403, text: "over quota")
            default:
                try await writer.respond(status: 200, text: #"{"blockID":"\#(String(repeating: "0", count: 14))2a\#(String(repeating: "ab", count: 24))","block_header":{"raw_data":{"number":42,"timestamp":1751466432000}}}"#)
            }
        }) { server in
            let client = TronGridClient(baseURL: server.baseURL, apiKey: "k-123", http: http, baseDelay: .milliseconds(20))
            let block = try await client.nowBlock(solid: true)
            #expect(block.number == 42)
            #expect(block.timestamp == 1_751_466_432_000)
            let requests = seen.withLock { $0 }
            #expect(requests.count == 4)
            #expect(requests.allSatisfy { $0.0 == "k-123" })
            #expect(requests[1].1 - requests[0].1 >= .milliseconds(10))  // backed off, not hammered
        }
    }

    @Test func otherErrorsAreNotRetried() async throws {
        let count = Atomic<Int>(0)
        let http = try HTTPClient()
        defer { http.shutdown() }
        try await LoopbackServer.run(handler: { _, writer in
            count.add(1, ordering: .relaxed)
            try await writer.respond(status: 500, text: "boom")
        }) { server in
            let client = TronGridClient(baseURL: server.baseURL, http: http, baseDelay: .milliseconds(1))
            do throws(TronGridError) {
                _ = try await client.nowBlock(solid: false)
                Issue.record("expected an error")
            } catch {
                #expect(error.kind == .http(500))
            }
            #expect(count.load(ordering: .relaxed) == 1)
        }
    }
}
