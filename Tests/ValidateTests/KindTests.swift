import ManifestValidation
import Testing

@Suite struct KindTests {
    @Test func apiVersionKindAndNameAreRequired() {
        let report = validate(["metadata: {name: x}", "{apiVersion: v1, kind: ConfigMap}", "{apiVersion: v1, kind: ConfigMap, metadata: {generateName: x-}}"])
        #expect(report.lines == [
            "m.yaml:1: apiVersion: Required value: apiVersion not set",
            "m.yaml:1: kind: Required value: kind not set",
            "m.yaml:2: metadata.name: Required value: name or generateName is required",
        ])
        #expect(report.problems.allSatisfy { $0.check == .object && $0.severity == .error })
    }

    @Test func anUnknownLucidKindOrVersionIsAnError() {
        let report = validate([
            "{apiVersion: mesh.lucid.io/v1alpha1, kind: TrafficPolicies, metadata: {name: a}}",
            "{apiVersion: mesh.lucid.io/v1, kind: TrafficPolicy, metadata: {name: a}}",
        ])
        #expect(report.lines == [
            "m.yaml:1: kind: Unsupported value: \"TrafficPolicies\": no matches for kind \"TrafficPolicies\" in version \"mesh.lucid.io/v1alpha1\"; the kinds of mesh.lucid.io are CircuitBreakerConfig, SecurityPolicy, TrafficPolicy",
            "m.yaml:2: apiVersion: Unsupported value: \"mesh.lucid.io/v1\": no matches for kind \"TrafficPolicy\" in version \"mesh.lucid.io/v1\"; TrafficPolicy is served as mesh.lucid.io/v1alpha1",
        ])
    }

    @Test func builtInKindsAreAcceptedAndAWrongGroupOrNameIsAnError() {
        let report = validate([
            "{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, spec: {anything: goes}}",
            "{apiVersion: v1, kind: Deployment, metadata: {name: web}}",
            "{apiVersion: apps/v1, kind: Deploymnet, metadata: {name: web}}",
            "{apiVersion: apps/v1beta1, kind: Deployment, metadata: {name: web}}",
        ])
        #expect(report.at(1).isEmpty)
        #expect(report.at(2).map(\.field) == ["apiVersion"])
        #expect(report.at(2).first?.message.hasSuffix("Deployment is served as apps/v1") == true)
        #expect(report.at(3).map(\.field) == ["kind"])
        #expect(report.at(3).first?.message.contains("the kinds of apps are ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet") == true)
        #expect(report.at(4).map(\.field) == ["apiVersion"])
    }

    @Test func aKindWithoutASchemaIsAWarningAndAnErrorWhenStrict() {
        let certificate = "{apiVersion: cert-manager.io/v1, kind: Certificate, metadata: {name: c, namespace: shop}, spec: {secretName: s}}"
        let report = validate([certificate])
        #expect(report.errors == 0)
        #expect(report.lines == ["m.yaml:1: warning: not checked: no schema for Certificate in cert-manager.io/v1 (neither a Lucid kind, a built-in kind, nor defined by a CustomResourceDefinition among the manifests)"])
        #expect(validate([certificate], ValidationOptions(strict: true)).errors == 1)
    }

    static let widgetCRD = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec:
          group: example.com
          scope: Namespaced
          names: {kind: Widget, plural: widgets}
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
                    - {rule: "self.min <= self.max", message: "min must not exceed max"}
                    properties:
                      size: {type: string, enum: [small, large], default: small}
                      min: {type: integer}
                      max: {type: integer}
        """

    @Test func aCRDAmongTheManifestsChecksItsObjects() {
        let report = validate([
            Self.widgetCRD,
            "{apiVersion: example.com/v1, kind: Widget, metadata: {name: w}, spec: {min: 1, max: 2}}",
            "{apiVersion: example.com/v1, kind: Widget, metadata: {name: x}, spec: {min: 3, max: 2, colour: red}}",
            "{apiVersion: example.com/v1, kind: Widget, metadata: {name: w3}, spec: {size: huge, min: 3, max: 2}}",
            "{apiVersion: example.com/v2, kind: Widget, metadata: {name: z}}",
        ])
        #expect(report.at(1).isEmpty && report.at(2).isEmpty)
        #expect(report.at(3).map(\.line) == [
            "m.yaml:3: spec.colour: unknown field \"spec.colour\"",
            "m.yaml:3: spec: Invalid value: \"object\": min must not exceed max",
        ])
        // An enum error keeps the rules from running, as on the server, and says so.
        #expect(report.at(4).map(\.line) == [
            "m.yaml:4: spec.size: Unsupported value: \"huge\": supported values: \"small\", \"large\"",
            "m.yaml:4: warning: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        ])
        #expect(report.at(5).map(\.field) == ["apiVersion"])
    }

    @Test func aCRDWhoseRuleDoesNotCompileIsAnError() {
        let broken = Self.widgetCRD.replacingOccurrences(of: "self.min <= self.max", with: "self.mni <= self.max")
        let report = validate([broken])
        #expect(report.problems.map(\.field) == ["spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"])
        #expect(report.problems.first?.message.contains("compilation failed: ERROR: <input>:1:5: undefined field 'mni'") == true, "\(report.lines)")
    }

    @Test func clientSideFilesAreSkipped() {
        let report = validate(["{apiVersion: kustomize.config.k8s.io/v1beta1, kind: Kustomization, resources: [a.yaml]}"])
        #expect(report.problems.isEmpty && report.objects == 0)
    }

    @Test func namesFollowTheKindsRules() {
        let report = validate([
            "{apiVersion: v1, kind: Service, metadata: {name: 1api}, spec: {ports: [{port: 80}]}}",
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: 1api.v2}}",
            "{apiVersion: v1, kind: Namespace, metadata: {name: a.b}}",
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: a, namespace: Shop, labels: {\"bad key\": x}}}",
        ])
        #expect(report.at(1).first?.message.hasPrefix("Invalid value: \"1api\": a DNS-1035 label must consist of") == true)
        #expect(report.at(2).isEmpty)
        #expect(report.at(3).first?.message.hasPrefix("Invalid value: \"a.b\": a lowercase RFC 1123 label must consist of") == true)
        #expect(report.at(4).map(\.field) == ["metadata.namespace", "metadata.labels"])
    }

    @Test func builtInFieldsTheOperatorReadsAreChecked() {
        let report = validate([
            "{apiVersion: v1, kind: Service, metadata: {name: a, labels: {mesh.lucid.io/cluster: a, mesh.lucid.io/plane: dmz}}, spec: {ports: [{port: 80}]}}",
            "{apiVersion: v1, kind: Service, metadata: {name: b, labels: {mesh.lucid.io/plane: ops}}, spec: {ports: [{port: 80}]}}",
            "{apiVersion: v1, kind: Service, metadata: {name: c}, spec: {ports: [{port: 0, targetPort: Http, protocol: HTTP}, {port: 81}]}}",
            "{apiVersion: v1, kind: Service, metadata: {name: d}, spec: {}}",
            "{apiVersion: v1, kind: Secret, metadata: {name: e}, data: {key: not base64!, ok: c2VjcmV0}, stringData: {num: 5}}",
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: f}, data: {port: 8080, \"bad key\": x}}",
        ])
        #expect(report.at(1).map(\.line) == [#"m.yaml:1: metadata.labels[mesh.lucid.io/plane]: Unsupported value: "dmz": supported values: "chain", "ops", "wallet"; until then the operator leaves this Service out of the mesh"#])
        #expect(report.at(2).map(\.field) == ["metadata.labels[mesh.lucid.io/cluster]"])
        #expect(report.at(3).map(\.field) == ["spec.ports[0].port", "spec.ports[0].targetPort", "spec.ports[0].protocol", "spec.ports[0].name", "spec.ports[1].name"])
        #expect(report.at(4).map(\.line) == ["m.yaml:4: spec.ports: Required value"])
        // A Secret's values never appear in a message.
        #expect(report.at(5).map(\.line) == [
            "m.yaml:5: data[key]: Invalid value: not base64 (value not shown): put plain text under stringData instead",
            "m.yaml:5: stringData[num]: Invalid value: \"integer\": the value must be a string: quote it",
        ])
        #expect(report.at(6).map(\.field) == ["data[port]", "data[bad key]"])
    }
}
