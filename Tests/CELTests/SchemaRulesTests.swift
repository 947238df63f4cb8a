import CEL
import LucidAPI
import StructuralSchema
import Testing
import YAML

/// `x-kubernetes-validations` applied offline through `Schema.validateRules`, as a later
/// `lucid-operator validate` will: the project's own rules, and the rule features.
@Suite struct SchemaRulesTests {
    static func schema(_ yaml: String) throws -> Schema { Schema(json: try YAML.parse(yaml)) }

    @Test func everyRuleOfTheProjectsCRDsCompiles() throws {
        for crd in CRDs.all {
            let json = try #require(crd[path: "spec", "versions"]?[0]?[path: "schema", "openAPIV3Schema"])
            let schema = Schema(json: json)
            #expect(schema.ruleErrors(at: "spec.versions[0].schema.openAPIV3Schema").isEmpty)
            var count = 0
            schema.walk { _, node in count += node.compiledRules.count }
            #expect(count > 0, "\(crd[path: "metadata", "name"] ?? "")")
        }
    }

    func errors(_ kind: any ResourceKind.Type, _ spec: JSON, old: JSON? = nil) -> [String] {
        let schema = kind.specSchema
        let value = schema.applyingDefaults(to: spec)
        return schema.validateRules(value, old: old.map { schema.applyingDefaults(to: $0) }, at: "spec").map(\.description)
    }

    @Test func trafficPolicyRules() {
        let base: JSON = ["source": "a", "destination": "b"]
        func with(_ rules: JSON) -> JSON { var s = base; s["rules"] = rules; return s }
        #expect(errors(TrafficPolicyKind.self, with([["action": "allow", "weight": 60], ["action": "allow", "weight": 40]])).isEmpty)
        #expect(errors(TrafficPolicyKind.self, with([["action": "allow", "weight": 60], ["action": "allow", "weight": 41]]))
                == [#"spec.rules: Invalid value: "object": the weights of a policy's rules add up to at most 100"#])
        #expect(errors(TrafficPolicyKind.self, with([["action": "allow"]])).isEmpty)
        #expect(errors(TrafficPolicyKind.self, with([["action": "redirect"]]))
                == [#"spec.rules[0].redirect: Invalid value: "object": a redirect rule needs redirect.host or redirect.path"#])
        #expect(errors(TrafficPolicyKind.self, with([["action": "redirect", "redirect": [:]]]))
                == [#"spec.rules[0].redirect: Invalid value: "object": a redirect needs host or path"#])
        #expect(errors(TrafficPolicyKind.self, with([["action": "redirect", "redirect": ["path": "/x"]]])).isEmpty)
        #expect(errors(TrafficPolicyKind.self, with([["action": "mirror"]]))
                == [#"spec.rules[0].mirror: Invalid value: "object": a mirror rule needs mirror.service"#])
        #expect(errors(TrafficPolicyKind.self, with([["action": "mirror", "mirror": ["service": "shadow"]]])).isEmpty)
    }

    @Test func securityPolicyRules() {
        func with(_ rule: JSON) -> JSON { ["source": "a", "destination": "b", "rules": [rule]] }
        #expect(errors(SecurityPolicyKind.self, with(["action": "require-auth"]))
                == [#"spec.rules[0].authentication.methods: Invalid value: "object": a require-auth rule needs authentication.methods"#])
        #expect(errors(SecurityPolicyKind.self, with(["action": "require-auth", "authentication": ["methods": []]])).count == 1)
        #expect(errors(SecurityPolicyKind.self, with(["action": "require-auth", "authentication": ["methods": ["api-key"]]]))
                == [#"spec.rules[0].authentication.apiKey.secretRef: Invalid value: "object": the api-key method needs apiKey.secretRef.name"#])
        #expect(errors(SecurityPolicyKind.self, with(["action": "require-auth", "authentication": ["methods": ["api-key"], "apiKey": ["secretRef": ["name": "keys"]]]])).isEmpty)
        #expect(errors(SecurityPolicyKind.self, with(["action": "allow", "authentication": ["methods": ["jwt"]]]))
                == [#"spec.rules[0].authentication.jwt: Invalid value: "object": the jwt method needs jwt.issuer and jwt.jwksUri"#])
        #expect(errors(SecurityPolicyKind.self, with(["action": "deny"])).isEmpty)
    }

    @Test func circuitBreakerRule() {
        let base: JSON = ["service": "s", "failureThreshold": 3, "recoveryTimeout": 30000]
        func with(_ extra: JSON) -> JSON { var s = base; for (k, v) in extra.objectValue! { s[k] = v }; return s }
        #expect(errors(CircuitBreakerConfigKind.self, base).isEmpty)  // both default to 3
        #expect(errors(CircuitBreakerConfigKind.self, with(["successThreshold": 4]))
                == [#"spec.successThreshold: Invalid value: "object": successThreshold cannot exceed halfOpenMaxCalls"#])
        #expect(errors(CircuitBreakerConfigKind.self, with(["successThreshold": 4, "halfOpenMaxCalls": 4])).isEmpty)
    }

    @Test func payoutFieldsAreImmutableButApprovalIsNot() {
        let spec: JSON = ["sessionId": "s1", "recipient": "TFVfhkyJAULWQbHMgVfgbkmgeGBkHo5zru", "amount": "1.00", "currency": "USDT",
                          "network": "nile", "signer": ["secretRef": ["name": "k"]]]
        #expect(errors(TronPayoutKind.self, spec).isEmpty)  // transition rules do not run on create
        #expect(errors(TronPayoutKind.self, spec, old: spec).isEmpty)
        var changed = spec
        changed["amount"] = "2.00"
        #expect(errors(TronPayoutKind.self, changed, old: spec) == [#"spec.amount: Invalid value: "string": cannot change once the payout is created"#])
        changed = spec
        changed["signer"] = ["secretRef": ["name": "other"]]
        #expect(errors(TronPayoutKind.self, changed, old: spec) == [#"spec.signer: Invalid value: "object": cannot change once the payout is created"#])
        changed = spec
        changed["approval"] = ["decision": "Approved", "by": "admin"]
        #expect(errors(TronPayoutKind.self, changed, old: spec).isEmpty)
    }

    @Test func messageExpressionReasonAndFieldPath() throws {
        let schema = try Self.schema("""
            type: object
            x-kubernetes-validations:
            - rule: self.min <= self.max
              messageExpression: "'min ' + string(self.min) + ' is above max ' + string(self.max)"
              fieldPath: .min
            - rule: "!has(self.forbidden)"
              message: forbidden is not allowed
              reason: FieldValueForbidden
            - rule: self.max < 100
            properties:
              min: {type: integer}
              max: {type: integer}
              forbidden: {type: string}
            """)
        #expect(schema.ruleErrors(at: "root").isEmpty)
        let failures = schema.validateRules(["min": 500, "max": 100, "forbidden": "x"], old: nil, at: "spec").map(\.description)
        #expect(failures == [#"spec.min: Invalid value: "object": min 500 is above max 100"#,
                             "spec: Forbidden: forbidden is not allowed",
                             #"spec: Invalid value: "object": failed rule: self.max < 100"#])
    }

    @Test func rulesThatCannotCompileAreReportedNotSkipped() throws {
        let schema = try Self.schema("""
            type: object
            properties:
              items:
                type: array
                items:
                  type: object
                  x-kubernetes-validations:
                  - rule: self.name == oldSelf.name
                  properties:
                    name: {type: string}
              count:
                type: integer
                x-kubernetes-validations:
                - rule: self.size() > 0
                - rule: self + 1
                - rule: self > 0
                  messageExpression: self
            """)
        let errors = schema.ruleErrors(at: "spec.versions[0].schema.openAPIV3Schema").map(\.description)
        #expect(errors.count == 4, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("spec.versions[0].schema.openAPIV3Schema.properties[items].items.x-kubernetes-validations[0].rule") && $0.contains("oldSelf cannot be used on the uncorrelatable portion of the schema") })
        #expect(errors.contains { $0.contains("properties[count].x-kubernetes-validations[0].rule") && $0.contains("found no matching overload for 'size'") })
        #expect(errors.contains { $0.contains("x-kubernetes-validations[1].rule") && $0.contains("rule must evaluate to a bool") })
        #expect(errors.contains { $0.contains("x-kubernetes-validations[2].messageExpression") && $0.contains("must evaluate to a string") })
    }

    @Test func transitionRulesFollowListMapKeys() throws {
        let schema = try Self.schema("""
            type: object
            properties:
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  x-kubernetes-validations:
                  - rule: self.port == oldSelf.port
                    message: a port number is fixed
                  properties:
                    name: {type: string}
                    port: {type: integer}
            """)
        #expect(schema.ruleErrors(at: "s").isEmpty)
        let old: JSON = ["ports": [["name": "http", "port": 80]]]
        #expect(schema.validateRules(["ports": [["name": "grpc", "port": 90], ["name": "http", "port": 80]]], old: old, at: "spec").isEmpty)
        #expect(schema.validateRules(["ports": [["name": "grpc", "port": 90], ["name": "http", "port": 81]]], old: old, at: "spec").map(\.description)
                == [#"spec.ports[1]: Invalid value: "object": a port number is fixed"#])
    }

    @Test func evaluationErrorsAndTheBudget() throws {
        let schema = try Self.schema("""
            type: object
            x-kubernetes-validations:
            - rule: self.a / self.b > 0
              message: ratio
            - rule: self.list.all(x, self.list.all(y, self.list.all(z, x + y + z >= 0)))
            properties:
              a: {type: integer}
              b: {type: integer}
              list: {type: array, items: {type: integer}}
            """)
        let zero = schema.validateRules(["a": 1, "b": 0, "list": []], old: nil, at: "spec").map(\.description)
        #expect(zero == [#"spec: Invalid value: "object": division by zero evaluating rule: ratio"#])
        let big = JSON.array((0..<200).map { .int($0) })
        let costly = schema.validateRules(["a": 1, "b": 1, "list": big], old: nil, at: "spec").map(\.description)
        #expect(costly.count == 1 && costly[0].contains("call cost exceeds limit"), "\(costly)")
    }
}
