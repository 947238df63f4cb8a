import APIServer
import Foundation
import KubeClient
import LoopbackServer
import Testing
import YAML

@Suite struct SidecarTests {

    @Test func editsFollowDriftIsRepairedAndDeletedPoliciesLeave() async throws {
        try await withOperator { server, client in
            _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "shop"]])
            _ = try await client.create(.services, namespace: "shop", meshService("payments"))
            _ = try await client.create(.services, namespace: "shop", meshService("gateway", plane: "ops"))
            _ = try await client.create(tp, namespace: "shop", trafficPolicy("p", rules: [["action": "allow", "match": ["path": "/v1"]]]))
            try await waitUntil(.seconds(30), "first render") { try await ready(client, "shop", "p") }

            _ = try await client.patch(tp, namespace: "shop", name: "p", .merge(["spec": ["rules": [["action": "allow", "match": ["path": "/v2"]]]]]))
            try await waitUntil(.seconds(30), "the edit to reach the ConfigMap") {
                try await routes(client, "shop", "gateway")["payments"]?.first?[path: "match", "prefix"] == "/v2"
            }
            try await waitUntil(.seconds(30), "the status to follow the edit") { try await ready(client, "shop", "p") }
            try await expectValidEnvoy(client, "shop", ["gateway", "payments"])

            // Someone edits the ConfigMap by hand: put back.
            var cm = try await client.get(.configMaps, namespace: "shop", name: "gateway-sidecar")
            let good = cm["data"]
            cm["data"] = ["lds.json": "{}"]
            _ = try await client.update(.configMaps, namespace: "shop", cm)
            try await waitUntil(.seconds(30), "the hand edit to be repaired") {
                try await client.get(.configMaps, namespace: "shop", name: "gateway-sidecar")["data"] == good
            }
            // Someone deletes it: back again.
            try await client.delete(.configMaps, namespace: "shop", name: "gateway-sidecar")
            try await waitUntil(.seconds(30), "the deleted ConfigMap to come back") {
                (try? await client.get(.configMaps, namespace: "shop", name: "gateway-sidecar"))?["data"] == good
            }
            // The policy goes: its routes leave.
            try await client.delete(tp, namespace: "shop", name: "p")
            try await waitUntil(.seconds(30), "the routes to leave") {
                (try await routes(client, "shop", "gateway")["payments"]) == nil
            }
            let writes = server.writes.byResource["configmaps"] ?? 0
            #expect(writes >= 4)
        }
    }

    @Test func aMissingDestinationIsReportedUntilItExists() async throws {
        try await withOperator { _, client in
            _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "shop"]])
            _ = try await client.create(.services, namespace: "shop", meshService("gateway", plane: "ops"))
            _ = try await client.create(tp, namespace: "shop", trafficPolicy("p", destination: "ledger", rules: [["action": "allow"]]))
            try await waitUntil(.seconds(30), "DestinationNotFound") { try await ready(client, "shop", "p", "False", reason: "DestinationNotFound") }
            let message = try await client.get(tp, namespace: "shop", name: "p")[path: "status", "conditions"]?[0]?["message"]?.stringValue ?? ""
            #expect(message.contains("\"ledger\" is not a mesh Service in namespace shop"))
            _ = try await client.create(.services, namespace: "shop", meshService("ledger", plane: "chain"))
            try await waitUntil(.seconds(30), "Ready once the destination exists") { try await ready(client, "shop", "p") }
        }
    }

    @Test func aPolicyWithoutItsSourceSaysSo() async throws {
        try await withOperator { _, client in
            _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "shop"]])
            _ = try await client.create(tp, namespace: "shop", trafficPolicy("orphan", source: "nobody", rules: [["action": "allow"]]))
            try await waitUntil(.seconds(30), "SourceNotFound") { try await ready(client, "shop", "orphan", "False", reason: "SourceNotFound") }
        }
    }
}

/// Latency bounds, run alone (`hack/test.sh`, second phase).
@Suite(.serialized) struct SidecarTimingTests {
    @Test func aServiceAndAPolicyConvergeWithinOneSecond() async throws {
        try await withOperator { _, client in
            _ = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "shop"]])
            _ = try await client.create(.services, namespace: "shop", meshService("payments"))
            let started = ContinuousClock.now
            _ = try await client.create(.services, namespace: "shop", meshService("gateway", plane: "ops"))
            _ = try await client.create(tp, namespace: "shop", trafficPolicy("gw-to-payments", rules: [
                ["action": "allow", "match": ["path": "/api", "method": "POST", "headers": ["x-tenant": "a"]], "timeout": 2500,
                 "retries": ["attempts": 2, "perTryTimeout": 1000, "retryOn": ["reset"]]],
                ["action": "deny", "match": ["path": "/internal"]],
                ["action": "redirect", "match": ["path": "/old"], "redirect": ["path": "/new", "responseCode": 308]],
            ]))
            try await waitUntil(.seconds(1), "the policy to be Ready") { try await ready(client, "shop", "gw-to-payments") }
            let elapsed = ContinuousClock.now - started
            #expect(elapsed < .seconds(1))

            let cm = try await client.get(.configMaps, namespace: "shop", name: "gateway-sidecar")
            #expect(cm[path: "metadata", "ownerReferences"]?[0]?["name"] == "gateway")
            #expect(cm[path: "metadata", "labels", "app.kubernetes.io/managed-by"] == "lucid-operator")
            #expect(cm[path: "metadata", "annotations", "mesh.lucid.io/config-hash"]?.stringValue?.count == 64)
            let bootstrap = try JSON.parse(cm[path: "data", "bootstrap.json"]!.stringValue!)
            #expect(bootstrap[path: "dynamic_resources", "lds_config", "path_config_source", "watched_directory", "path"] == "/etc/lucid/sidecar")
            let cds = try JSON.parse(cm[path: "data", "cds.json"]!.stringValue!)
            #expect(cds["resources"]?[0]?["name"] == "outbound|80||payments.shop.svc.cluster.local")

            let r = try await routes(client, "shop", "gateway")["payments"] ?? []
            #expect(r.count == 4)  // three rules and the default route
            #expect(r[0][path: "match", "prefix"] == "/api")
            let methodMatch: JSON = ["name": ":method", "string_match": ["exact": "POST"]]
            #expect(r[0][path: "match", "headers"]?[0] == methodMatch)
            #expect(r[0][path: "route", "timeout"] == "2.500s")
            #expect(r[0][path: "route", "retry_policy", "num_retries"] == 2)
            #expect(r[1][path: "direct_response", "status"] == 403)
            #expect(r[2][path: "redirect", "response_code"] == "PERMANENT_REDIRECT")
            #expect(r[3]["name"] == "default")

            let policy = try await client.get(tp, namespace: "shop", name: "gw-to-payments")
            #expect(policy[path: "status", "appliedTo"] == ["shop/gateway-sidecar"])
            try await expectValidEnvoy(client, "shop", ["gateway", "payments"])
        }
    }
}
