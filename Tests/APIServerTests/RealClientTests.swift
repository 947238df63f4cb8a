import APIServer
import ControllerRuntime
import Foundation
import KubeClient
import LoopbackServer
import Testing
import YAML

/// What a new user does first with `lucid-operator dev`, with the real kubectl 1.32: every
/// command must work as on a real cluster (issue 9).
@Suite(.serialized) struct RealClientTests {
    let samples = repositoryRoot.appendingPathComponent("manifests/samples").path

    @Test func kubectlCreatesBuiltInsInProtobuf() async throws {
        try await withServer { _, kubectl, client in
            let commands: [[String]] = [
                ["create", "namespace", "demo"],
                ["-n", "demo", "create", "configmap", "settings", "--from-literal=mode=fast", "--from-literal=retries=3"],
                ["-n", "demo", "create", "secret", "generic", "credentials", "--from-literal=password=hunter2"],
                ["-n", "demo", "create", "service", "clusterip", "web", "--tcp=80:8080"],
                ["-n", "demo", "create", "job", "migrate", "--image=busybox:1.36", "--", "echo", "done"],
                ["-n", "demo", "create", "serviceaccount", "robot"],
                ["-n", "demo", "create", "role", "reader", "--verb=get", "--resource=pods"],
                ["-n", "demo", "create", "rolebinding", "reader", "--role=reader", "--serviceaccount=demo:robot"],
            ]
            for command in commands {
                let result = try await kubectl.args(command)
                #expect(result.status == 0, "\(command): \(result.output)")
                #expect(result.output.contains("created"), "\(result.output)")
            }
            let settings = try await client.get(.configMaps, namespace: "demo", name: "settings")
            #expect(settings["data"] == ["mode": "fast", "retries": "3"])
            let secret = try await client.get(.secrets, namespace: "demo", name: "credentials")
            #expect(secret[path: "data", "password"] == .string(Data("hunter2".utf8).base64EncodedString()))
            #expect(secret["type"] == "Opaque")
            let ns = try await client.get(.namespaces, name: "demo")
            #expect(ns[path: "metadata", "labels", "kubernetes.io/metadata.name"] == "demo")
            #expect(ns[path: "spec", "finalizers"] == ["kubernetes"])

            // The real columns and the server's defaults, as `get` and `describe` show them.
            let services = try await kubectl("get", "svc", "-n", "demo")
            let header = services.output.split(separator: "\n").first.map { $0.split(separator: " ").map(String.init) } ?? []
            #expect(header == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], "\(services.output)")
            #expect(services.output.contains("<none>        80/TCP"), "\(services.output)")
            let describe = try await kubectl("describe", "svc", "web", "-n", "demo")
            #expect(describe.output.contains("80/TCP"), "\(describe.output)")
            #expect(describe.output.contains("TargetPort:               8080/TCP"), "\(describe.output)")
            #expect(describe.output.contains("Session Affinity:         None"), "\(describe.output)")
            let job = try await client.get(.jobs, namespace: "demo", name: "migrate")
            #expect(job[path: "spec", "backoffLimit"] == 6)
            #expect(job[path: "spec", "template", "metadata", "labels", "job-name"] == "migrate")
            let jobs = try await kubectl("get", "jobs", "-n", "demo")
            #expect(jobs.output.hasPrefix("NAME      STATUS    COMPLETIONS   DURATION   AGE"), "\(jobs.output)")
        }
    }

    @Test func theOperatorsEventsShowInGetEventsAndDescribe() async throws {
        try await withServer { _, kubectl, client in
            #expect(try await kubectl("apply", "-f", samples).status == 0)
            let policy = try await client.get(trafficPolicies, namespace: "lucid-payment", name: "gateway-to-tron-payment")
            let recorder = EventRecorder(client: client, instance: "lucid-operator-0")
            await recorder.record(regarding: policy, reason: "Applied", action: "Render", note: "rendered into lucid-payment/api-gateway-sidecar")

            let events = try await kubectl("get", "events", "-n", "lucid-payment")
            #expect(events.status == 0, "\(events.output)")
            let header = events.output.split(separator: "\n").first.map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
            #expect(header == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], "\(events.output)")
            #expect(events.output.contains("trafficpolicy/gateway-to-tron-payment"), "\(events.output)")
            #expect(events.output.contains("rendered into lucid-payment/api-gateway-sidecar"))

            let describe = try await kubectl("describe", "trafficpolicy", "gateway-to-tron-payment", "-n", "lucid-payment")
            #expect(describe.status == 0, "\(describe.output)")
            let tail = describe.output.components(separatedBy: "Events:").last ?? ""
            #expect(tail.contains("Normal") && tail.contains("Applied") && tail.contains("lucid-operator")
                    && tail.contains("rendered into lucid-payment/api-gateway-sidecar"), "\(describe.output)")

            // One store: the core view and the events.k8s.io view, each with its own field names.
            let core = try await client.list(.coreEvents, namespace: "lucid-payment",
                                             options: ListOptions(fieldSelector: "involvedObject.name=gateway-to-tron-payment,involvedObject.kind=TrafficPolicy"))
            #expect(core.items.count == 1)
            #expect(core.items.first?["message"] == "rendered into lucid-payment/api-gateway-sidecar")
            #expect(core.items.first?["reportingComponent"] == "lucid-operator")
            let modern = try await client.list(.events, namespace: "lucid-payment", options: ListOptions(fieldSelector: "regarding.name=gateway-to-tron-payment"))
            #expect(modern.items.count == 1)
            #expect(modern.items.first?["note"] == "rendered into lucid-payment/api-gateway-sidecar")
            #expect(modern.items.first?[path: "regarding", "uid"] == policy[path: "metadata", "uid"])
            let none = try await client.list(.coreEvents, namespace: "lucid-payment", options: ListOptions(fieldSelector: "involvedObject.name=other"))
            #expect(none.items.isEmpty)
        }
    }

    @Test func explainPrintsTheFieldDocs() async throws {
        try await withServer { _, kubectl, _ in
            let rules = try await kubectl("explain", "trafficpolicy.spec.rules")
            #expect(rules.status == 0, "\(rules.output)")
            #expect(rules.output.contains("KIND:       TrafficPolicy"))
            #expect(rules.output.contains("Evaluated in order; the first match applies."))
            #expect(rules.output.contains("action\t<string> -required-"), "\(rules.output)")
            #expect(rules.output.contains("Request timeout in milliseconds."))
            let builtIn = try await kubectl("explain", "service.spec.ports")
            #expect(builtIn.status == 0, "\(builtIn.output)")
            #expect(builtIn.output.contains("targetPort"))
        }
    }

    @Test func aCRDThatListsOnlySpecWorks() async throws {
        try await withServer(crds: false) { _, kubectl, client in
            let crd = """
                apiVersion: apiextensions.k8s.io/v1
                kind: CustomResourceDefinition
                metadata: {name: widgets.example.com}
                spec:
                  group: example.com
                  scope: Namespaced
                  names: {plural: widgets, singular: widget, kind: Widget}
                  versions:
                  - name: v1
                    served: true
                    storage: true
                    schema:
                      openAPIV3Schema:
                        type: object
                        properties:
                          spec:
                            type: object
                            properties:
                              size: {type: integer}
                """
            #expect(try await kubectl("apply", "-f", try kubectl.scratch.write("crd.yaml", crd)).status == 0)
            let widget = """
                apiVersion: example.com/v1
                kind: Widget
                metadata: {name: small, namespace: default, labels: {team: a}, annotations: {note: kept}}
                spec: {size: 3}
                """
            let applied = try await kubectl("apply", "-f", try kubectl.scratch.write("widget.yaml", widget))
            #expect(applied.status == 0, "\(applied.output)")
            let stored = try await client.get(GroupVersionResource(group: "example.com", version: "v1", resource: "widgets"), namespace: "default", name: "small")
            #expect(stored["apiVersion"] == "example.com/v1")
            #expect(stored["kind"] == "Widget")
            #expect(stored[path: "metadata", "labels", "team"] == "a")
            #expect(stored[path: "metadata", "annotations", "note"] == "kept")
            #expect(stored[path: "spec", "size"] == 3)
            let unknown = try await kubectl("apply", "-f", try kubectl.scratch.write("w2.yaml", widget.replacingOccurrences(of: "size: 3", with: "size: 3, colour: red")))
            #expect(unknown.status != 0)
            #expect(unknown.output.contains("unknown field \"spec.colour\""), "\(unknown.output)")
        }
    }

    /// Each CEL rule of the project's CRDs, through `kubectl apply`: what it refuses, with the
    /// real server's wording, and what it lets through.
    @Test func everyCELRuleOfTheCRDsRejectsAndAccepts() async throws {
        try await withServer { _, kubectl, _ in
            #expect(try await kubectl("apply", "-f", "\(samples)/00-namespace.yaml").status == 0)
            func apply(_ kind: String, _ spec: String, name: String = "cel") async throws -> (status: Int32, output: String) {
                let group = kind == "TronPayout" ? "payments.lucid.io" : "mesh.lucid.io"
                let manifest = "apiVersion: \(group)/v1alpha1\nkind: \(kind)\nmetadata: {name: \(name), namespace: lucid-payment}\nspec:\n\(spec)\n"
                return try await kubectl("apply", "-f", try kubectl.scratch.write("\(UUID().uuidString).yaml", manifest))
            }
            let cases: [(kind: String, good: String, bad: String, error: String)] = [
                ("TrafficPolicy",
                 "  source: api-gateway\n  destination: tron-payment\n  rules:\n  - {action: allow, weight: 60}\n  - {action: allow, weight: 40, match: {path: /v2}}",
                 "  source: api-gateway\n  destination: tron-payment\n  rules:\n  - {action: allow, weight: 60}\n  - {action: allow, weight: 50, match: {path: /v2}}",
                 #"spec.rules: Invalid value: "object": the weights of a policy's rules add up to at most 100"#),
                ("TrafficPolicy",
                 "  source: api-gateway\n  destination: tron-payment\n  rules:\n  - {action: redirect, redirect: {host: new.example.com}}",
                 "  source: api-gateway\n  destination: tron-payment\n  rules:\n  - {action: redirect}",
                 #"spec.rules[0].redirect: Invalid value: "object": a redirect rule needs redirect.host or redirect.path"#),
                ("TrafficPolicy",
                 "  source: api-gateway\n  destination: tron-payment\n  rules:\n  - {action: redirect, redirect: {path: /v2}}",
                 "  source: api-gateway\n  destination: tron-payment\n  rules:\n  - {action: redirect, redirect: {responseCode: 301}}",
                 #"spec.rules[0].redirect: Invalid value: "object": a redirect needs host or path"#),
                ("TrafficPolicy",
                 "  source: api-gateway\n  destination: tron-payment\n  rules:\n  - {action: mirror, mirror: {service: shadow}}",
                 "  source: api-gateway\n  destination: tron-payment\n  rules:\n  - {action: allow}\n  - {action: mirror}",
                 #"spec.rules[1].mirror: Invalid value: "object": a mirror rule needs mirror.service"#),
                ("SecurityPolicy",
                 "  source: api-gateway\n  destination: tron-payment\n  rules:\n  - {action: require-auth, authentication: {methods: [api-key], apiKey: {secretRef: {name: admin-api-keys}}}}",
                 "  source: api-gateway\n  destination: tron-payment\n  rules:\n  - {action: require-auth, authentication: {methods: []}}",
                 #"spec.rules[0].authentication.methods: Invalid value: "object": a require-auth rule needs authentication.methods"#),
                ("SecurityPolicy",
                 "  source: api-gateway\n  destination: tron-payment\n  rules:\n  - action: require-auth\n    authentication: {methods: [jwt], jwt: {issuer: https://id.example.com, jwksUri: https://id.example.com/jwks}}",
                 "  source: api-gateway\n  destination: tron-payment\n  rules:\n  - {action: require-auth, authentication: {methods: [jwt]}}",
                 #"spec.rules[0].authentication.jwt: Invalid value: "object": the jwt method needs jwt.issuer and jwt.jwksUri"#),
                ("CircuitBreakerConfig",
                 "  {service: tron-payment, failureThreshold: 3, recoveryTimeout: 30000, halfOpenMaxCalls: 5, successThreshold: 5}",
                 "  {service: tron-payment, failureThreshold: 3, recoveryTimeout: 30000, halfOpenMaxCalls: 2, successThreshold: 5}",
                 #"spec.successThreshold: Invalid value: "object": successThreshold cannot exceed halfOpenMaxCalls"#),
                ("CircuitBreakerConfig",
                 "  {service: tron-payment, failureThreshold: 3, recoveryTimeout: 30000, successThreshold: 3}",
                 "  {service: tron-payment, failureThreshold: 3, recoveryTimeout: 30000, successThreshold: 4}",  // halfOpenMaxCalls defaults to 3
                 #"spec.successThreshold: Invalid value: "object": successThreshold cannot exceed halfOpenMaxCalls"#),
            ]
            for (i, c) in cases.enumerated() {
                let bad = try await apply(c.kind, c.bad, name: "bad-\(i)")
                #expect(bad.status != 0, "\(c.kind) \(i) was accepted")
                #expect(bad.output.contains(c.error), "\(c.kind) \(i): \(bad.output)")
                let good = try await apply(c.kind, c.good, name: "good-\(i)")
                #expect(good.status == 0, "\(c.kind) \(i): \(good.output)")
            }

            // The payout's transition rules: creation is fine, every change of a fixed field is not,
            // and approval may still be given.
            #expect(try await kubectl("apply", "-f", "\(samples)/50-payout.yaml").status == 0)
            let original = try String(contentsOfFile: "\(samples)/50-payout.yaml", encoding: .utf8)
            for (from, to, field) in [("amount: \"125.50\"", "amount: \"999.00\"", "amount"), ("network: nile", "network: mainnet", "network"),
                                      ("currency: USDT", "currency: TRX", "currency")] {
                #expect(original.contains(from), "\(from)")
                let changed = try await kubectl("apply", "-f", try kubectl.scratch.write("payout-\(field).yaml", original.replacingOccurrences(of: from, with: to)))
                #expect(changed.status != 0, "\(field) changed")
                #expect(changed.output.contains("spec.\(field): Invalid value: \"string\": cannot change once the payout is created"), "\(changed.output)")
            }
            // An approval is a resource of its own, fixed once made.
            #expect(try await kubectl("apply", "-f", "\(samples)/51-payout-approval.yaml").status == 0)
            let approvals = try String(contentsOfFile: "\(samples)/51-payout-approval.yaml", encoding: .utf8)
            let reversed = try await kubectl("apply", "-f", try kubectl.scratch.write("approval-changed.yaml",
                approvals.replacingOccurrences(of: "decision: Approved", with: "decision: Rejected")))
            #expect(reversed.status != 0, "an approval changed")
            #expect(reversed.output.contains("an approval cannot be changed; create another"), "\(reversed.output)")
        }
    }

    @Test func aCRDWhoseRuleDoesNotCompileIsRefused() async throws {
        try await withServer(crds: false) { _, kubectl, _ in
            let crd = """
                apiVersion: apiextensions.k8s.io/v1
                kind: CustomResourceDefinition
                metadata: {name: gadgets.example.com}
                spec:
                  group: example.com
                  scope: Namespaced
                  names: {plural: gadgets, singular: gadget, kind: Gadget}
                  versions:
                  - name: v1
                    served: true
                    storage: true
                    schema:
                      openAPIV3Schema:
                        type: object
                        properties:
                          spec:
                            type: object
                            x-kubernetes-validations:
                            - rule: "self.sise > 0"
                            properties:
                              size: {type: integer}
                """
            let result = try await kubectl("apply", "-f", try kubectl.scratch.write("crd.yaml", crd))
            #expect(result.status != 0)
            #expect(result.output.contains("spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"), "\(result.output)")
            #expect(result.output.contains("compilation failed: ERROR: <input>:1:5: undefined field 'sise'"), "\(result.output)")
            #expect(try await kubectl("get", "crd", "gadgets.example.com").status != 0)
        }
    }

    @Test func serverSideApplyConflictBetweenTwoManagers() async throws {
        try await withServer { _, kubectl, client in
            #expect(try await kubectl("create", "configmap", "shared", "--from-literal=owner=create", "--from-literal=keep=1").status == 0)
            let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: default, labels: {team: a}}\ndata: {owner: apply, extra: \"2\"}\n"
            let path = try kubectl.scratch.write("shared.yaml", manifest)
            let conflict = try await kubectl("apply", "--server-side", "-f", path)
            #expect(conflict.status != 0)
            #expect(conflict.output.contains(#"Apply failed with 1 conflict: conflict with "kubectl-create" using v1: .data.owner"#), "\(conflict.output)")
            #expect(try await client.get(.configMaps, namespace: "default", name: "shared")[path: "data", "owner"] == "create")

            let forced = try await kubectl("apply", "--server-side", "--force-conflicts", "-f", path)
            #expect(forced.status == 0, "\(forced.output)")
            var object = try await client.get(.configMaps, namespace: "default", name: "shared")
            #expect(object["data"] == ["owner": "apply", "keep": "1", "extra": "2"])
            let managers = (object[path: "metadata", "managedFields"]?.arrayValue ?? []).map { "\($0["manager"]?.stringValue ?? "")/\($0["operation"]?.stringValue ?? "")" }
            #expect(managers == ["kubectl-create/Update", "kubectl/Apply"])
            let created = object[path: "metadata", "managedFields"]?[0]?["fieldsV1"]
            #expect(created?[path: "f:data", "f:keep"] != nil && created?[path: "f:data", "f:owner"] == nil)

            // A field the manager stops applying goes, unless another manager owns it too.
            let smaller = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: default}\ndata: {owner: apply}\n"
            #expect(try await kubectl("apply", "--server-side", "-f", try kubectl.scratch.write("smaller.yaml", smaller)).status == 0)
            object = try await client.get(.configMaps, namespace: "default", name: "shared")
            #expect(object["data"] == ["owner": "apply", "keep": "1"])
            #expect(object[path: "metadata", "labels", "team"] == nil)

            // Through the KubeClient: the operator's manager against kubectl's, 409 naming the field.
            do throws(KubeError) {
                _ = try await client.patch(.configMaps, namespace: "default", name: "shared",
                                           .apply(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "shared"], "data": ["owner": "operator"]],
                                                  fieldManager: "lucid-operator"))
                Issue.record("the conflicting apply was accepted")
            } catch {
                #expect(error.status?.code == 409)
                #expect(error.status?.message?.contains(#"conflict with "kubectl" using v1: .data.owner"#) == true, "\(error)")
            }
            // Sharing a field with the same value is no conflict.
            _ = try await client.patch(.configMaps, namespace: "default", name: "shared",
                                       .apply(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "shared"], "data": ["owner": "apply"]],
                                              fieldManager: "lucid-operator"))
            let edited = try await kubectl("label", "configmap", "shared", "edited=yes")
            #expect(edited.status == 0, "\(edited.output)")
            object = try await client.get(.configMaps, namespace: "default", name: "shared")
            let all = (object[path: "metadata", "managedFields"]?.arrayValue ?? []).compactMap { $0["manager"]?.stringValue }
            #expect(all.contains("lucid-operator") && all.contains("kubectl-label"), "\(all)")
        }
    }

    @Test func diffAndServerDryRunLeaveStateUnchanged() async throws {
        try await withServer { server, kubectl, client in
            #expect(try await kubectl("apply", "-f", samples).status == 0)
            let before = server.resourceVersion
            let writes = server.writes.total
            let manifest = try String(contentsOfFile: "\(samples)/20-traffic-policies.yaml", encoding: .utf8).replacingOccurrences(of: "priority: 100", with: "priority: 250")
            let path = try kubectl.scratch.write("tp.yaml", manifest)
            let diff = try await kubectl("diff", "-f", path)
            #expect(diff.status == 1, "\(diff.output)")
            #expect(diff.output.contains("-  priority: 100") && diff.output.contains("+  priority: 250"), "\(diff.output)")
            let dry = try await kubectl("apply", "--dry-run=server", "-f", path)
            #expect(dry.status == 0, "\(dry.output)")
            #expect(dry.output.contains("(server dry run)"))
            let services = try String(contentsOfFile: "\(samples)/10-services.yaml", encoding: .utf8)
            let servicePath = try kubectl.scratch.write("svc.yaml", services.replacingOccurrences(of: "targetPort: 8080", with: "targetPort: 9090"))
            let serviceDiff = try await kubectl("diff", "-f", servicePath)
            #expect(serviceDiff.status == 1, "\(serviceDiff.output)")
            #expect(serviceDiff.output.contains("+    targetPort: 9090"), "\(serviceDiff.output)")
            #expect(try await kubectl("apply", "--server-side", "--dry-run=server", "-f", servicePath).status == 0)
            #expect(server.resourceVersion == before)
            #expect(server.writes.total == writes)
            let stored = try await client.get(trafficPolicies, namespace: "lucid-payment", name: "gateway-to-tron-payment")
            #expect(stored[path: "spec", "priority"] == 100)
        }
    }

    @Test func statusIsValidatedAndStrategicMergeOnACustomResourceIs415() async throws {
        try await withServer { _, kubectl, client in
            #expect(try await kubectl("apply", "-f", samples).status == 0)
            let ns = ["-n", "lucid-payment"]
            let invalid = try await kubectl("patch", "tp", "gateway-to-tron-payment", ns[0], ns[1], "--subresource=status", "--type=merge",
                                            "-p", #"{"status":{"observedGeneration":-1}}"#)
            #expect(invalid.status != 0)
            #expect(invalid.output.contains("status.observedGeneration: Invalid value: -1"), "\(invalid.output)")
            let pruned = try await kubectl("patch", "tp", "gateway-to-tron-payment", ns[0], ns[1], "--subresource=status", "--type=merge",
                                           "-p", #"{"status":{"observedGeneration":1,"bogus":true}}"#)
            #expect(pruned.status == 0, "\(pruned.output)")
            let status = try await client.get(trafficPolicies, namespace: "lucid-payment", name: "gateway-to-tron-payment")["status"]
            #expect(status?["observedGeneration"] == 1)
            #expect(status?["bogus"] == nil)

            let strategic = try await kubectl("patch", "tp", "gateway-to-tron-payment", ns[0], ns[1], "-p", #"{"spec":{"priority":5}}"#)
            #expect(strategic.status != 0)
            #expect(strategic.output.contains("UnsupportedMediaType") || strategic.output.contains("unknown format"), "\(strategic.output)")
            #expect(try await kubectl("patch", "tp", "gateway-to-tron-payment", ns[0], ns[1], "--type=merge", "-p", #"{"spec":{"priority":5}}"#).status == 0)
        }
    }

    @Test func deletingANamespaceTerminatesItAndRespectsFinalizers() async throws {
        try await withServer { _, kubectl, client in
            #expect(try await kubectl("create", "namespace", "doomed").status == 0)
            _ = try await client.create(.configMaps, namespace: "doomed", configMap("plain"))
            var held = configMap("held")
            held["metadata"]?["finalizers"] = ["example.com/hold"]
            _ = try await client.create(.configMaps, namespace: "doomed", held)
            let delete = try await kubectl("delete", "namespace", "doomed", "--wait=false")
            #expect(delete.status == 0, "\(delete.output)")
            let ns = try await client.get(.namespaces, name: "doomed")
            #expect(ns[path: "status", "phase"] == "Terminating")
            let conditions = ns[path: "status", "conditions"]?.arrayValue ?? []
            #expect(conditions.contains { $0["type"] == "NamespaceFinalizersRemaining" && $0["status"] == "True" })
            let left = try await client.list(.configMaps, namespace: "doomed")
            #expect(left.items.compactMap { $0[path: "metadata", "name"]?.stringValue } == ["held"])
            let refused = try await kubectl("-n", "doomed", "create", "configmap", "late", "--from-literal=a=b")
            #expect(refused.status != 0)
            #expect(refused.output.contains("unable to create new content in namespace doomed because it is being terminated"), "\(refused.output)")
            let get = try await kubectl("get", "namespace", "doomed")
            #expect(get.output.contains("Terminating"))

            _ = try await client.patch(.configMaps, namespace: "doomed", name: "held", .merge(["metadata": ["finalizers": nil]]))
            try await waitUntil(.seconds(30), "the namespace to go") {
                do throws(KubeError) { _ = try await client.get(.namespaces, name: "doomed"); return false } catch { return error.isNotFound }
            }
        }
    }
}

extension Kubectl {
    func args(_ a: [String]) async throws -> (status: Int32, output: String) {
        let out = scratch.file("kubectl-\(UUID().uuidString).out")
        let status = try await ChildProcess.run("kubectl", args(a), outputPath: out)
        return (status, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    func callAsFunction(_ a: [String]) async throws -> (status: Int32, output: String) { try await args(a) }
}

/// The official Python client (`pip install kubernetes`, from hack/install-deps.sh).
@Suite struct PythonClientTests {
    @Test func theOfficialClientWorksAgainstTheServer() async throws {
        try await withServer(crds: false) { _, kubectl, _ in
            let script = repositoryRoot.appendingPathComponent("Tests/APIServerTests/Python/official_client.py").path
            let out = kubectl.scratch.file("python.out")
            let status = try await ChildProcess.run("python3", [script, kubectl.kubeconfig], outputPath: out)
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            #expect(status == 0, "\(text)")
            let result = try JSON.parse(text.split(separator: "\n").last.map(String.init) ?? "")
            #expect(result["namespace_phase"] == "Active")
            #expect(result["secret_type"] == "Opaque")
            #expect(result["service_port"] == ["protocol": "TCP", "targetPort": 80, "sessionAffinity": "None", "clusterIP": true])
            #expect(result["core_events"] == [["Checked", "seen by python", "python"]])
            #expect(result[path: "conflict", "status"] == 409)
            #expect(result[path: "conflict", "message"]?.stringValue?.contains(#"conflict with "OpenAPI-Generator""#) == true, "\(text)")
            // Forced, the apply took the creator's only field: its entry is gone.
            #expect(result["managers"] == [["python-apply", "Apply"]], "\(text)")
            #expect(result["after_delete"] == "gone")
        }
    }
}
