import APIServer
import Foundation
import KubeClient
import LoopbackServer
import Testing
import YAML

/// The embedded server judged by the real kubectl (v1.32 on the machine image).
@Suite(.serialized) struct KubectlTests {
    let samples = repositoryRoot.appendingPathComponent("manifests/samples").path
    let crds = repositoryRoot.appendingPathComponent("crds/crds.yaml").path

    @Test func applyCRDsThenResourcesAndGetPrintsTheColumns() async throws {
        try await withServer(crds: false) { _, kubectl, _ in
            let crd = try await kubectl("apply", "-f", crds)
            #expect(crd.status == 0, "\(crd.output)")
            #expect(crd.output.contains("customresourcedefinition.apiextensions.k8s.io/trafficpolicies.mesh.lucid.io created"))
            let applied = try await kubectl("apply", "-f", samples)
            #expect(applied.status == 0, "\(applied.output)")
            #expect(applied.output.contains("tronpayout.payments.lucid.io/session-8f2c1e created"))

            let tp = try await kubectl("get", "tp", "-n", "lucid-payment")
            #expect(tp.status == 0)
            let header = tp.output.split(separator: "\n").first.map(String.init) ?? ""
            #expect(header.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "SOURCE", "DESTINATION", "PRIORITY", "READY", "AGE"])
            #expect(tp.output.contains("gateway-to-tron-payment"))
            let payout = try await kubectl("get", "payout", "-n", "lucid-treasury")
            #expect(payout.output.contains("RECIPIENT") && payout.output.contains("TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru") && payout.output.contains("USDT"))
            let category = try await kubectl("get", "lucid", "-A")
            #expect(category.output.contains("circuitbreakerconfig.mesh.lucid.io/blockchain-core"))
            #expect(category.output.contains("securitypolicy.mesh.lucid.io/tron-payment-callers"))

            let again = try await kubectl("apply", "-f", samples)
            #expect(again.status == 0)
            #expect(again.output.contains("service/api-gateway unchanged"))
            #expect(again.output.contains("trafficpolicy.mesh.lucid.io/gateway-to-tron-payment unchanged"))
        }
    }

    @Test func getYAMLShowsMetadataAndGenerationFollowsTheSpecOnly() async throws {
        try await withServer { _, kubectl, _ in
            _ = try await kubectl("apply", "-f", samples)
            let yaml = try await kubectl("get", "tp", "gateway-to-tron-payment", "-n", "lucid-payment", "-o", "yaml")
            let object = try YAML.parse(yaml.output)
            #expect(object[path: "metadata", "uid"]?.stringValue?.count == 36)
            #expect(Int(object[path: "metadata", "resourceVersion"]?.stringValue ?? "") ?? 0 > 0)
            #expect(object[path: "metadata", "generation"] == 1)
            #expect(object[path: "spec", "enabled"] == true)  // defaulted by the schema

            let changed = try String(contentsOfFile: "\(samples)/20-traffic-policies.yaml", encoding: .utf8)
                .replacingOccurrences(of: "priority: 100", with: "priority: 250")
            let path = kubectl.scratch.file("tp.yaml")
            try changed.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(try await kubectl("apply", "-f", path).status == 0)
            let generation = { () async throws -> String in
                try await kubectl("get", "tp", "gateway-to-tron-payment", "-n", "lucid-payment", "-o", "jsonpath={.metadata.generation}").output
            }
            #expect(try await generation() == "2")

            let status = try await kubectl("patch", "tp", "gateway-to-tron-payment", "-n", "lucid-payment", "--subresource=status", "--type=merge", "-p",
                                           #"{"status":{"observedGeneration":2,"appliedTo":["lucid-payment/api-gateway-sidecar"]}}"#)
            #expect(status.status == 0, "\(status.output)")
            #expect(try await generation() == "2")
            let applied = try await kubectl("get", "tp", "gateway-to-tron-payment", "-n", "lucid-payment", "-o", "jsonpath={.status.appliedTo[0]}")
            #expect(applied.output == "lucid-payment/api-gateway-sidecar")
        }
    }

    @Test func serverSideApplyCreatesAndUpdates() async throws {
        try await withServer { _, kubectl, _ in
            _ = try await kubectl("apply", "-f", "\(samples)/00-namespace.yaml")
            let manifest = """
                apiVersion: mesh.lucid.io/v1alpha1
                kind: CircuitBreakerConfig
                metadata: {name: ssa, namespace: lucid-payment}
                spec: {service: tron-payment, failureThreshold: 3, recoveryTimeout: 30000}
                """
            let path = try kubectl.scratch.write("ssa.yaml", manifest)
            let first = try await kubectl("apply", "--server-side", "-f", path)
            #expect(first.status == 0, "\(first.output)")
            #expect(first.output.contains("serverside-applied"))
            try manifest.replacingOccurrences(of: "failureThreshold: 3", with: "failureThreshold: 9").write(toFile: path, atomically: true, encoding: .utf8)
            #expect(try await kubectl("apply", "--server-side", "-f", path).status == 0)
            let value = try await kubectl("get", "cb", "ssa", "-n", "lucid-payment", "-o", "jsonpath={.spec.failureThreshold}/{.metadata.generation}")
            #expect(value.output == "9/2")
        }
    }

    @Test func aFinalizerHoldsADeletedObjectUntilItIsRemoved() async throws {
        try await withServer { _, kubectl, _ in
            _ = try await kubectl("apply", "-f", samples)
            let ns = ["-n", "lucid-payment"]
            _ = try await kubectl("patch", "cb", "blockchain-core", ns[0], ns[1], "--type=merge", "-p", #"{"metadata":{"finalizers":["lucid.io/test"]}}"#)
            let delete = try await kubectl("delete", "cb", "blockchain-core", ns[0], ns[1], "--wait=false")
            #expect(delete.status == 0, "\(delete.output)")
            let held = try await kubectl("get", "cb", "blockchain-core", ns[0], ns[1], "-o", "jsonpath={.metadata.deletionTimestamp}")
            #expect(held.status == 0)
            #expect(held.output.hasPrefix("20"))
            _ = try await kubectl("patch", "cb", "blockchain-core", ns[0], ns[1], "--type=json", "-p", #"[{"op":"remove","path":"/metadata/finalizers"}]"#)
            let gone = try await kubectl("get", "cb", "blockchain-core", ns[0], ns[1])
            #expect(gone.status != 0)
            #expect(gone.output.contains("NotFound"))
        }
    }

    @Test func waitReturnsOnceTheReadyConditionSaysSo() async throws {
        try await withServer { _, kubectl, client in
            _ = try await kubectl("apply", "-f", samples)
            let (waiter, out) = try kubectl.start("wait", "--for=condition=Ready", "tp/sessions-to-blockchain", "-n", "lucid-payment", "--timeout=30s")
            try await Task.sleep(for: .milliseconds(300))
            #expect(waiter.isRunning)
            var object = try await client.get(trafficPolicies, namespace: "lucid-payment", name: "sessions-to-blockchain")
            object["status"] = ["conditions": [["type": "Ready", "status": "True", "reason": "Applied", "message": "ok",
                                                "lastTransitionTime": "2026-11-21T00:00:00Z", "observedGeneration": 1]]]
            _ = try await client.updateStatus(trafficPolicies, namespace: "lucid-payment", object)
            #expect(await waiter.exit() == 0)
            #expect(try String(contentsOfFile: out, encoding: .utf8).contains("condition met"))
        }
    }

    @Test func getWatchStreamsTheChanges() async throws {
        try await withServer { _, kubectl, client in
            _ = try await kubectl("apply", "-f", samples)
            let (watcher, out) = try kubectl.start("get", "tp", "-n", "lucid-payment", "-w")
            defer { watcher.stop() }
            let read: @Sendable () -> String = { (try? String(contentsOfFile: out, encoding: .utf8)) ?? "" }
            try await waitUntil(.seconds(30), "the first listing") { read().contains("sessions-to-blockchain") }
            _ = try await client.create(trafficPolicies, namespace: "lucid-payment", policy("watched-one", priority: 42))
            _ = try await client.patch(trafficPolicies, namespace: "lucid-payment", name: "watched-one", .merge(["spec": ["priority": 43]]))
            try await waitUntil(.seconds(30), "the streamed changes") {
                let lines = read().split(separator: "\n").filter { $0.hasPrefix("watched-one") }
                return lines.contains { $0.contains(" 42 ") } && lines.contains { $0.contains(" 43 ") }
            }
        }
    }

    @Test func schemaViolationsAreRefusedNamingTheField() async throws {
        try await withServer { _, kubectl, _ in
            _ = try await kubectl("apply", "-f", "\(samples)/00-namespace.yaml")
            let good = """
                apiVersion: mesh.lucid.io/v1alpha1
                kind: TrafficPolicy
                metadata: {name: bad, namespace: lucid-payment}
                spec:
                  source: api-gateway
                  destination: tron-payment
                  priority: 5
                  rules:
                  - action: allow
                """
            let cases: [(String, String, String)] = [
                ("priority: 5", "priority: high", "spec.priority"),
                ("action: allow", "action: block", "spec.rules[0].action"),
                ("source: api-gateway", "source: Api_Gateway", "spec.source"),
                ("priority: 5", "priority: 5\n  colour: red", "spec.colour"),
            ]
            for (from, to, field) in cases {
                let path = try kubectl.scratch.write("bad.yaml", good.replacingOccurrences(of: from, with: to))
                let result = try await kubectl("apply", "-f", path)
                #expect(result.status != 0, "\(to) was accepted")
                #expect(result.output.contains(field), "\(to): \(result.output)")
            }
        }
    }
}
