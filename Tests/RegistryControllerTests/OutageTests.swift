import APIServer
import ControllerRuntime
import EtcdClient
import EtcdServer
import Foundation
import KubeClient
import LoopbackServer
import Reconcilers
import Registry
import Testing
import YAML

/// etcd going away: the registry waits, says so, and converges when it is back; the rest of
/// the operator does not notice. Each test has its own etcd, killed and restarted on its data.
@Suite(.timeLimit(.minutes(4))) struct OutageTests {
    /// Short timeouts and relist backoff, so an outage is noticed and left quickly.
    let fast = RegistryMirror.Configuration(relistBackoff: Backoff(initial: .milliseconds(100), maximum: .milliseconds(500), jitter: 0.5))

    func configuration(_ server: EtcdServer) -> EtcdConfiguration {
        EtcdConfiguration(endpoints: [server.clientURL], requestTimeout: .seconds(2), connectTimeout: .milliseconds(500))
    }

    @Test func etcdKilledAndRestartedMidwayAndEverythingConverges() async throws {
        let etcdServer = try await EtcdServer.start()
        defer { etcdServer.stop() }
        let etcd = try EtcdClient(configuration(etcdServer))
        defer { etcd.shutdown() }
        let options = try uniqueOptions()
        try await withCluster { server, client in
            try await withOperator(server, etcd: configuration(etcdServer), options: options, mirror: fast) { running in
                for i in 0..<20 {
                    _ = try await client.create(.services, namespace: "lucid", meshService("svc-\(i)"))
                    _ = try await client.create(.endpointSlices, namespace: "lucid", endpointSlice("svc-\(i)-1", service: "svc-\(i)", [("10.3.0.\(i)", true)]))
                }
                try await waitUntil(.seconds(30), "20 entries") { try await etcd.keys(options.prefix).count == 20 }

                await etcdServer.kill()
                // Changes while etcd is away: new Services, deleted ones, a health change.
                for i in 20..<30 { _ = try await client.create(.services, namespace: "lucid", meshService("svc-\(i)")) }
                for i in 0..<5 { try await client.delete(.services, namespace: "lucid", name: "svc-\(i)") }
                _ = try await client.update(.endpointSlices, namespace: "lucid", try await sliceWith(client, "svc-5-1", [("10.3.0.5", false)]))
                try await waitUntil(.seconds(30), "the registry to notice") { !running.registry.mirror.isSynced }
                try await waitUntil(.seconds(30), "a RegistryUnavailable event") {
                    try await !events(client, about: "svc-25", reason: "RegistryUnavailable").isEmpty
                }
                let note = try await events(client, about: "svc-25", reason: "RegistryUnavailable")[0]
                #expect(note.contains("etcd (\(etcdServer.clientURL)) cannot be reached"), "\(note)")

                try await etcdServer.restart()
                let expected = (5..<30).map { options.key(namespace: "lucid", name: "svc-\($0)") }.sorted()
                try await waitUntil(.seconds(30), "the entries to converge after the restart", interval: .milliseconds(50)) {
                    try await etcd.keys(options.prefix) == expected
                }
                try await waitUntil(.seconds(30), "svc-5's health") {
                    try await etcd.entry(options.key(namespace: "lucid", name: "svc-5"))?[path: "health", "status"] == "critical"
                }
                let dns = try #require(options.dns)
                try await waitUntil(.seconds(30), "the DNS records to converge") { try await etcd.keys(dns.zonePath + "/").count == 25 }
                #expect(running.registry.mirror.isSynced)
            }
        }
    }

    @Test func theSidecarControllerKeepsConvergingWhileEtcdIsDown() async throws {
        let etcdServer = try await EtcdServer.start()
        defer { etcdServer.stop() }
        await etcdServer.kill()
        let options = try uniqueOptions(dns: false)
        try await withCluster { server, client in
            try await withOperator(server, etcd: configuration(etcdServer), options: options, sidecars: true, mirror: fast, waitForEtcd: false) { running in
                // Ready (every cache synced: what /readyz reports) while etcd is away.
                #expect(running.manager.hasSynced && !running.registry.mirror.isSynced)
                _ = try await client.create(.services, namespace: "lucid", meshService("payments"))
                _ = try await client.create(.services, namespace: "lucid", meshService("gateway", cluster: "api-gateway", plane: "ops"))
                _ = try await client.create(SidecarReconciler.trafficPolicies, namespace: "lucid", [
                    "apiVersion": "mesh.lucid.io/v1alpha1", "kind": "TrafficPolicy", "metadata": ["name": "gw-to-payments"],
                    "spec": ["source": "gateway", "destination": "payments", "rules": [["action": "allow", "match": ["path": "/api"]]]],
                ])
                try await waitUntil(.seconds(30), "the sidecar ConfigMap while etcd is down") {
                    (try? await client.get(.configMaps, namespace: "lucid", name: "gateway-sidecar")) != nil
                }
                try await waitUntil(.seconds(30), "the registry to say it waits") {
                    try await !events(client, about: "payments", reason: "RegistryUnavailable").isEmpty
                }
                #expect(!running.registry.mirror.isSynced)

                try await etcdServer.restart()
                let etcd = try EtcdClient(configuration(etcdServer))
                defer { etcd.shutdown() }
                try await waitUntil(.seconds(30), "both entries once etcd is up") { try await etcd.keys(options.prefix).count == 2 }
            }
        }
    }
}
