import EtcdClient
import EtcdServer
import Testing

@Suite struct SmokeTests {
    @Test func smoke() async throws {
        let clock = ContinuousClock()
        let t0 = clock.now
        let etcd = try await EtcdServer.start()
        print("started in", clock.now - t0, etcd.clientURL, etcd.directory)
        defer { etcd.stop() }
        let client = try EtcdClient(EtcdConfiguration(endpoints: [etcd.clientURL]))
        defer { client.shutdown() }
        let put = try await client.put("/a/1", "v1")
        print(put)
        let got = try await client.get("/a/1")
        print(got as Any)
        let r = try await client.range(prefix: "/a/")
        print(r)
        let cas = try await client.compareAndSet("/a/2", value: Array("x".utf8), ifModRevision: 0)
        print(cas)
        let cas2 = try await client.compareAndSet("/a/2", value: Array("y".utf8), ifModRevision: 0)
        print(cas2)
        let t1 = clock.now
        for i in 0..<200 { try await client.put("/b/\(i)", "v") }
        print("200 puts", clock.now - t1)
    }
}
