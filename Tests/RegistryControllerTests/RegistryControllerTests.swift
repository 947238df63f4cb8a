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

/// The registry controller in this process, over the embedded API server and a real etcd.
@Suite(.timeLimit(.minutes(4))) struct RegistryControllerTests {
    func etcd() async throws -> (EtcdServer, EtcdConfiguration, EtcdClient) {
        let server = try await SharedEtcd.shared.get()
        let configuration = EtcdConfiguration(endpoints: [server.clientURL])
        return (server, configuration, try EtcdClient(configuration))
    }

    @Test func servicesAndSlicesGiveEntriesOfTheDocumentedShape() async throws {
        let (_, configuration, etcd) = try await etcd()
        defer { etcd.shutdown() }
        let options = try uniqueOptions()
        try await withCluster { server, client in
            try await withOperator(server, etcd: configuration, options: options) { _ in
                let created = try await client.create(.services, namespace: "lucid", meshService(
                    "payments", port: ["name": "metrics", "port": 9090],
                    labels: ["app.kubernetes.io/version": "1.4.2"],
                    annotations: ["mesh.lucid.io/metadata.team": "payouts", "mesh.lucid.io/metadata.tier": "1", "mesh.lucid.io/port": "api",
                                  "mesh.lucid.io/path": "/api", "mesh.lucid.io/health-check-path": "/ready", "mesh.lucid.io/health-check-interval": "15",
                                  "mesh.lucid.io/health-check-timeout": "3", "mesh.lucid.io/health-check-retries": "2", "unrelated/annotation": "x"],
                    spec: ["ports": [["name": "metrics", "port": 9090], ["name": "api", "port": 8443, "appProtocol": "https"]]]))
                // Two slices; pod 10.0.0.1 is in both and counts once: 2 of 3 ready.
                _ = try await client.create(.endpointSlices, namespace: "lucid",
                                            endpointSlice("payments-a", service: "payments", [("10.0.0.1", true), ("10.0.0.2", false)]))
                _ = try await client.create(.endpointSlices, namespace: "lucid",
                                            endpointSlice("payments-b", service: "payments", [("10.0.0.3", true), ("10.0.0.1", true)]))
                let key = options.key(namespace: "lucid", name: "payments")
                try await waitUntil(.seconds(30), "the entry with both slices") {
                    try await etcd.entry(key)?[path: "health", "total"] == 3
                }
                let stored = try #require(try await etcd.get(key))
                let entry = try JSON.parse(stored.value)
                let checked = try #require(entry[path: "health", "lastHealthCheck"]?.stringValue)
                #expect(checked.count == 20 && checked.hasSuffix("Z"), "RFC 3339 seconds: \(checked)")
                let expected: JSON = [
                    "serviceId": .string(try #require(created[path: "metadata", "uid"]?.stringValue)),
                    "serviceName": "payments", "cluster": "tron-payment", "plane": "wallet",
                    "endpoint": ["host": "payments.lucid.svc.cluster.local", "port": 8443, "protocol": "https", "path": "/api"],
                    "version": "1.4.2",
                    "metadata": ["team": "payouts", "tier": "1"],
                    "healthCheck": ["endpoint": "/ready", "interval": 15, "timeout": 3, "retries": 2],
                    "health": ["status": "warning", "ready": 2, "total": 3, "lastHealthCheck": .string(checked)],
                ]
                #expect(stored.valueText == expected.serialized().text)

                // The SkyDNS record: the cluster IP, answering A and SRV for payments.lucid.lucid.local.
                let ip = try #require(created[path: "spec", "clusterIP"]?.stringValue)
                let dns = try #require(options.dns)
                let recordKey = "\(dns.servicePath(namespace: "lucid", name: "payments"))/\(ip.replacingOccurrences(of: ".", with: "-"))"
                try await waitUntil(.seconds(30), "the DNS record") { try await etcd.get(recordKey) != nil }
                #expect(try await etcd.get(recordKey)?.valueText == #"{"host":"\#(ip)","port":8443,"priority":10,"weight":100,"ttl":30}"#)
                #expect(try await etcd.keys(dns.zonePath + "/") == [recordKey])

                try await waitUntil(.seconds(30), "the Registered event") {
                    try await !events(client, about: "payments", reason: "Registered").isEmpty
                }
                // Registered when first seen (perhaps before its slices), then updated.
                let note = try await events(client, about: "payments", reason: "Registered").first ?? ""
                #expect(note.hasPrefix("registered \(key) and 1 DNS record ("), "\(note)")
            }
        }
    }

    @Test func endpointsTurningReadyOrUnreadyChangeTheHealth() async throws {
        let (_, configuration, etcd) = try await etcd()
        defer { etcd.shutdown() }
        let options = try uniqueOptions(dns: false)
        try await withCluster { server, client in
            try await withOperator(server, etcd: configuration, options: options) { _ in
                _ = try await client.create(.services, namespace: "lucid", meshService("wallet"))
                let key = options.key(namespace: "lucid", name: "wallet")
                @Sendable func health() async throws -> String? {
                    guard let h = try await etcd.entry(key)?["health"] else { return nil }
                    return "\(h["status"]?.stringValue ?? "?") \(h["ready"]?.intValue ?? -1)/\(h["total"]?.intValue ?? -1)"
                }
                try await waitUntil(.seconds(30), "no endpoints: critical") { try await health() == "critical 0/0" }
                _ = try await client.create(.endpointSlices, namespace: "lucid", endpointSlice("wallet-1", service: "wallet", [("10.1.0.1", true), ("10.1.0.2", true)]))
                try await waitUntil(.seconds(30), "passing") { try await health() == "passing 2/2" }

                _ = try await client.update(.endpointSlices, namespace: "lucid", try await sliceWith(client, "wallet-1", [("10.1.0.1", true), ("10.1.0.2", false)]))
                try await waitUntil(.seconds(30), "warning") { try await health() == "warning 1/2" }
                _ = try await client.update(.endpointSlices, namespace: "lucid", try await sliceWith(client, "wallet-1", [("10.1.0.1", false), ("10.1.0.2", false)]))
                try await waitUntil(.seconds(30), "critical") { try await health() == "critical 0/2" }
                _ = try await client.update(.endpointSlices, namespace: "lucid", try await sliceWith(client, "wallet-1", [("10.1.0.1", true), ("10.1.0.2", true)]))
                try await waitUntil(.seconds(30), "passing again") { try await health() == "passing 2/2" }

                // A change to the slice that leaves the health as it is writes nothing.
                let before = try await etcd.snapshot(options)
                var slice = try await client.get(.endpointSlices, namespace: "lucid", name: "wallet-1")
                slice["metadata"]?["labels"]?["unrelated"] = "label"
                _ = try await client.update(.endpointSlices, namespace: "lucid", slice)
                try await Task.sleep(for: .milliseconds(500))
                #expect(try await etcd.snapshot(options) == before)

                let updates = try await events(client, about: "wallet", reason: "RegistryEntryUpdated")
                #expect(updates.contains("\(key): health passing → warning, 1/2 endpoints ready"), "\(updates)")
            }
        }
    }

    @Test func deletedAndUnlabelledServicesAreDeregistered() async throws {
        let (_, configuration, etcd) = try await etcd()
        defer { etcd.shutdown() }
        let options = try uniqueOptions()
        try await withCluster { server, client in
            try await withOperator(server, etcd: configuration, options: options) { _ in
                for name in ["gone", "unlabelled", "stays"] { _ = try await client.create(.services, namespace: "lucid", meshService(name)) }
                let dns = try #require(options.dns)
                try await waitUntil(.seconds(30), "three entries and their DNS records") {
                    let entries = try await etcd.keys(options.prefix), records = try await etcd.keys(dns.zonePath + "/")
                    return entries.count == 3 && records.count == 3
                }
                try await client.delete(.services, namespace: "lucid", name: "gone")
                _ = try await client.patch(.services, namespace: "lucid", name: "unlabelled", .merge(["metadata": ["labels": ["mesh.lucid.io/cluster": nil]]]))
                try await waitUntil(.seconds(30), "only one entry left") {
                    try await etcd.keys(options.prefix) == [options.key(namespace: "lucid", name: "stays")]
                }
                try await waitUntil(.seconds(30), "only its DNS record left") {
                    try await etcd.keys(dns.zonePath + "/").allSatisfy { $0.hasPrefix(dns.servicePath(namespace: "lucid", name: "stays") + "/") }
                }
                try await waitUntil(.seconds(30), "the Deregistered events") {
                    let gone = try await events(client, about: "gone", reason: "Deregistered")
                    let unlabelled = try await events(client, about: "unlabelled", reason: "Deregistered")
                    return gone.count == 1 && unlabelled.count == 1
                }
            }
        }
    }

    @Test func aClusterOutsideTheNineGetsAnEventAndNoEntry() async throws {
        let (_, configuration, etcd) = try await etcd()
        defer { etcd.shutdown() }
        let options = try uniqueOptions(dns: false)
        try await withCluster { server, client in
            try await withOperator(server, etcd: configuration, options: options) { running in
                _ = try await client.create(.services, namespace: "lucid", meshService("billing", cluster: "billing"))
                try await waitUntil(.seconds(30), "the refusal event") {
                    try await !events(client, about: "billing", reason: "UnknownCluster").isEmpty
                }
                let note = try await events(client, about: "billing", reason: "UnknownCluster")[0]
                #expect(note.contains("label mesh.lucid.io/cluster=billing is not a Lucid cluster; use one of api-gateway, blockchain-core"), "\(note)")
                #expect(try await etcd.keys(options.prefix).isEmpty)

                // Fixed: registered. Broken again: deregistered, with the reason.
                _ = try await client.patch(.services, namespace: "lucid", name: "billing", .merge(["metadata": ["labels": ["mesh.lucid.io/cluster": "tron-payment"]]]))
                let key = options.key(namespace: "lucid", name: "billing")
                try await waitUntil(.seconds(30), "the entry") { try await etcd.get(key) != nil }
                _ = try await client.patch(.services, namespace: "lucid", name: "billing", .merge(["spec": ["ports": [["name": "redis", "port": 6379]]]]))
                try await waitUntil(.seconds(30), "the entry to go") { try await etcd.get(key) == nil }
                try await waitUntil(.seconds(30), "the reasons") {
                    let removed = try await events(client, about: "billing", reason: "Deregistered")
                    let refused = try await events(client, about: "billing", reason: "UnsupportedProtocol")
                    return removed.first?.contains("UnsupportedProtocol") == true && !refused.isEmpty
                }
                // An unchanged refusal is reported once, however often the Service is reconciled.
                for _ in 0..<3 { _ = try await running.registry.reconcile(ObjectRef(namespace: "lucid", name: "billing")) }
                try await waitUntil(.seconds(30), "the events to be sent") { running.registry.events.pending == 0 }
                #expect(try await events(client, about: "billing", reason: "UnsupportedProtocol").count == 1)
            }
        }
    }

    @Test func foreignKeysUnderThePrefixAreRemovedAndOthersLeftAlone() async throws {
        let (_, configuration, etcd) = try await etcd()
        defer { etcd.shutdown() }
        let options = try uniqueOptions()
        let dns = try #require(options.dns)
        // Left before the operator starts: removed at its first sync.
        try await etcd.put(options.key(namespace: "lucid", name: "ghost"), "{}")
        try await etcd.put(options.prefix + "stray", "x")
        let outside = String(options.prefix.dropLast()) + "-sibling/lucid/svc"
        try await etcd.put(outside, "not ours")
        try await withCluster { server, client in
            try await withOperator(server, etcd: configuration, options: options) { _ in
                _ = try await client.create(.services, namespace: "lucid", meshService("real"))
                let real = options.key(namespace: "lucid", name: "real")
                try await waitUntil(.seconds(30), "only the real entry") { try await etcd.keys(options.prefix) == [real] }
                // Written while it runs: removed too.
                try await etcd.put(options.key(namespace: "other", name: "ghost"), "{}")
                try await etcd.put(options.prefix + "lucid/real/nested", "x")
                try await etcd.put(dns.zonePath + "/lucid/ghost/10-0-0-9", #"{"host":"10.0.0.9"}"#)
                try await etcd.put(dns.zonePath + "/lucid", "x")
                try await waitUntil(.seconds(30), "the strays to go") {
                    let entries = try await etcd.keys(options.prefix), records = try await etcd.keys(dns.zonePath + "/")
                    return entries == [real] && records.allSatisfy { $0.hasPrefix(dns.servicePath(namespace: "lucid", name: "real") + "/") }
                }
                #expect(try await etcd.get(outside)?.valueText == "not ours")
            }
        }
        try await etcd.delete(outside)
    }

    @Test func handEditsAndDeletionsArePutBack() async throws {
        let (_, configuration, etcd) = try await etcd()
        defer { etcd.shutdown() }
        let options = try uniqueOptions()
        try await withCluster { server, client in
            try await withOperator(server, etcd: configuration, options: options) { _ in
                _ = try await client.create(.services, namespace: "lucid", meshService("ledger", cluster: "blockchain-core", plane: "chain"))
                let key = options.key(namespace: "lucid", name: "ledger")
                try await waitUntil(.seconds(30), "the entry") { try await etcd.get(key) != nil }
                let good = try #require(try await etcd.get(key)).value
                let dns = try #require(options.dns)
                let record = try #require(try await etcd.keys(dns.zonePath + "/").first)
                let goodRecord = try #require(try await etcd.get(record)).value

                // Put back as it was, but for when the health was last found to change (the edit lost that).
                @Sendable func same(_ value: [UInt8]?) throws -> Bool {
                    guard let value else { return false }
                    var entry = try JSON.parse(value), expected = try JSON.parse(good)
                    entry["health"]?["lastHealthCheck"] = nil
                    expected["health"]?["lastHealthCheck"] = nil
                    return entry == expected
                }
                try await etcd.put(key, #"{"serviceName":"someone else's"}"#)
                try await waitUntil(.seconds(30), "the edit to be repaired") { try same(try await etcd.get(key)?.value) }
                try await etcd.delete(key)
                try await waitUntil(.seconds(30), "the deleted entry to come back") { try same(try await etcd.get(key)?.value) }
                try await etcd.delete(record)
                try await waitUntil(.seconds(30), "the deleted DNS record to come back") { try await etcd.get(record)?.value == goodRecord }
            }
        }
    }

    @Test func idleWritesNothingAndARestartOverConvergedEntriesWritesNothing() async throws {
        let (_, configuration, etcd) = try await etcd()
        defer { etcd.shutdown() }
        let options = try uniqueOptions()
        try await withCluster { server, client in
            try server.install((0..<300).map { i in
                meshService("svc-\(i)", cluster: LucidCluster.allCases[i % 9].rawValue, plane: ["ops", "chain", "wallet"][i % 3])
            })
            try server.install((0..<300).map { i in endpointSlice("svc-\(i)-1", service: "svc-\(i)", [("10.2.\(i / 200).\(i % 200)", i % 4 != 0)]) })
            try await withOperator(server, etcd: configuration, options: options) { running in
                try await waitUntil(.seconds(60), "300 entries", interval: .milliseconds(50)) { running.registry.mirror.entries == 300 }
                let dns = try #require(options.dns)
                try await waitUntil(.seconds(30), "300 DNS records") { try await etcd.keys(dns.zonePath + "/").count == 300 }
                let converged = try await etcd.snapshot(options)
                // A full resync over converged entries writes nothing either.
                for ref in running.registry.services.keys { await running.controller.queue.add(ref) }
                try await Task.sleep(for: .seconds(2))
                #expect(try await etcd.snapshot(options) == converged, "writes while idle")
                try await waitUntil(.seconds(30), "the registration events to be sent") { running.registry.events.pending == 0 }
            }
            let converged = try await etcd.snapshot(options)
            let eventsBefore = server.writes.byResource["events", default: 0]
            try await withOperator(server, etcd: configuration, options: options) { running in
                try await waitUntil(.seconds(30), "the queue to drain") { await running.controller.queue.depth == 0 }
                try await Task.sleep(for: .seconds(2))
                #expect(running.registry.events.pending == 0)
                #expect(running.registry.mirror.entries == 300)
            }
            #expect(try await etcd.snapshot(options) == converged, "the restarted controller wrote to etcd")
            #expect(server.writes.byResource["events", default: 0] == eventsBefore, "the restarted controller recorded events")
        }
    }
}

/// The slice as stored, with its endpoints replaced.
func sliceWith(_ client: KubeClient, _ name: String, _ endpoints: [(String, Bool)]) async throws -> JSON {
    var slice = try await client.get(.endpointSlices, namespace: "lucid", name: name)
    slice["endpoints"] = endpointSlice(name, service: "", endpoints)["endpoints"]
    return slice
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}
