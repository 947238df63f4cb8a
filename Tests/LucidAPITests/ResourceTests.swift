import Foundation
import LoopbackServer
import LucidAPI
import StructuralSchema
import Testing
import YAML

@Suite struct SampleTests {
    @Test func everySampleDecodesValidatesAndReencodesToAnEqualValue() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent("manifests/samples").path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        var checked: [String: Int] = [:]
        for file in files {
            for object in try readYAML("manifests/samples/\(file)") {
                let kind = object["kind"]?.stringValue ?? "?"
                let name = "\(file) \(kind)/\(object[path: "metadata", "name"]?.stringValue ?? "?")"
                // Payouts and their signing key live apart from the mesh (the operator may read Secrets in the mesh namespace).
                let home = file.hasPrefix("5") ? "lucid-treasury" : "lucid-payment"
                #expect(object[path: "metadata", "namespace"]?.stringValue == home || kind == "Namespace", "\(name)")
                func roundTrip<K: ResourceKind>(_ type: Resource<K>.Type) throws {
                    let typed = try Resource<K>.decode(object)
                    #expect(typed.validate().isEmpty, "\(name): \(typed.validate())")
                    #expect(LucidValidation.validate(object).isEmpty, "\(name)")
                    #expect(try JSON.encode(typed) == object, "\(name) changed in a decode/encode round trip")
                }
                switch kind {
                case "TrafficPolicy": try roundTrip(TrafficPolicy.self)
                case "SecurityPolicy": try roundTrip(SecurityPolicy.self)
                case "CircuitBreakerConfig": try roundTrip(CircuitBreakerConfig.self)
                case "TronPayout": try roundTrip(TronPayout.self)
                case "TronPayoutApproval": try roundTrip(TronPayoutApproval.self)
                case "Namespace", "Service", "Secret": break
                default: Issue.record("\(name): unexpected kind in samples")
                }
                checked[kind, default: 0] += 1
            }
        }
        #expect(checked["TrafficPolicy", default: 0] >= 2)
        #expect(checked["SecurityPolicy", default: 0] >= 2)
        #expect(checked["CircuitBreakerConfig", default: 0] >= 1)
        #expect(checked["TronPayout", default: 0] >= 2)
        #expect(checked["TronPayoutApproval", default: 0] >= 1)
        #expect(checked["Service", default: 0] >= 5)
    }

    @Test func meshServicesCoverTheThreePlanes() throws {
        let services = try readYAML("manifests/samples/10-services.yaml")
        let planes = Set(services.compactMap { $0[path: "metadata", "labels", "mesh.lucid.io/plane"]?.stringValue })
        #expect(planes == ["ops", "chain", "wallet"])
    }
}

@Suite struct CRDTests {
    @Test func crdsFolderIsInSyncWithTheCode() throws {
        let onDisk = try String(contentsOf: repositoryRoot.appendingPathComponent("crds/crds.yaml"), encoding: .utf8)
        #expect(onDisk == (try CRDs.yaml()), "crds/crds.yaml is stale: run `swift run lucid-operator crds > crds/crds.yaml`")
    }

    @Test func theExecutablePrintsTheSameCRDs() async throws {
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let binary = [bundleDir, bundleDir.deletingLastPathComponent()].map { $0.appendingPathComponent("lucid-operator").path }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        let path = try #require(binary, "lucid-operator is not built")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("crds-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect(try await ChildProcess.run(path, ["crds"], outputPath: out) == 0)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == (try CRDs.yaml()))
    }

    @Test func everyCRDIsStructuralAndComplete() throws {
        let crds = try YAML.parseAll(try CRDs.yaml())
        #expect(crds.count == 5)
        for crd in crds {
            let name = crd[path: "metadata", "name"]?.stringValue ?? "?"
            let version = try #require(crd[path: "spec", "versions"]?[0])
            #expect(version["subresources"]?["status"] == [:], "\(name): status subresource")
            #expect(crd[path: "spec", "names", "categories"] == ["lucid"], "\(name)")
            let shortNames = crd[path: "spec", "names", "shortNames"]?.arrayValue ?? []
            #expect(shortNames.count >= 1, "\(name): short names")
            #expect(crd[path: "spec", "scope"] == "Namespaced")
            let schemaJSON = try #require(version[path: "schema", "openAPIV3Schema"])
            let schema = Schema(json: schemaJSON)
            #expect(schema.json == schemaJSON, "\(name): schema does not survive JSON")
            var nodes = 0
            schema.walk { path, node in
                nodes += 1
                let at = "\(name) \(path.isEmpty ? "<root>" : path)"
                #expect(node.type != nil || node.preserveUnknownFields, "\(at): every node has a type")
                #expect(!(node.properties.isEmpty == false && node.additionalProperties != nil), "\(at): properties and additionalProperties")
                if node.type == "array" { #expect(node.items != nil, "\(at): arrays have items") }
                for required in node.required { #expect(node.property(required) != nil, "\(at): required \(required) is a property") }
                if let d = node.defaultValue {
                    #expect(SchemaValidator().validate(d, node, at: path).isEmpty, "\(at): default \(d.jsonText) fits its schema")
                }
                for value in node.enumValues ?? [] {
                    #expect(SchemaValidator().validate(value, Schema(type: node.type), at: path).isEmpty, "\(at): enum value \(value.jsonText)")
                }
                if let pattern = node.pattern { #expect((try? Regex(pattern)) != nil, "\(at): pattern compiles") }
                if path.hasPrefix("metadata.") { Issue.record("\(at): metadata may not be described beyond its type") }
            }
            #expect(nodes > 10)
            for column in version["additionalPrinterColumns"]?.arrayValue ?? [] {
                let jsonPath = column["jsonPath"]?.stringValue ?? ""
                let field = jsonPath.split(separator: "[").first.map(String.init) ?? jsonPath
                let parts = field.split(separator: ".").map(String.init)
                if parts.first == "metadata" { continue }
                var node: Schema? = schema
                for part in parts { node = node?.property(part) }
                #expect(node != nil, "\(name): printer column \(jsonPath) points into the schema")
            }
        }
    }

    @Test func tronPayoutColumnsAreUseful() throws {
        let crd = CRDs.crd(TronPayoutKind.self)
        let names = crd[path: "spec", "versions"]?[0]?["additionalPrinterColumns"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(names == ["Recipient", "Amount", "Currency", "Phase", "TxID", "Age"])
    }

    @Test func approvalColumnsShowTheDecisionAndWhoMadeIt() throws {
        let crd = CRDs.crd(TronPayoutApprovalKind.self)
        let names = crd[path: "spec", "versions"]?[0]?["additionalPrinterColumns"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(names == ["Payout", "Decision", "Approver", "Age"])
        #expect(crd[path: "spec", "names", "shortNames"] == ["payoutapproval", "tpa"])
        // The approval is not part of the payout: a payout creator cannot write a decision there.
        #expect(TronPayoutKind.specSchema.property("approval") == nil)
        #expect(CRDs.crd(TronPayoutKind.self)[path: "spec", "versions"]?[0]?[path: "schema", "openAPIV3Schema", "properties", "spec", "properties", "approval"] == nil)
    }

    @Test func celRulesAreStatedWhereASchemaCannot() throws {
        var rules: [String] = []
        for crd in CRDs.all {
            Schema(json: crd[path: "spec", "versions"]![0]![path: "schema", "openAPIV3Schema"]!).walk { path, node in
                rules += node.rules.map { "\(crd[path: "spec", "names", "kind"]!.stringValue!) \(path): \($0.rule)" }
            }
        }
        #expect(rules.contains { $0.hasPrefix("TronPayout spec.recipient: self == oldSelf") })
        #expect(rules.contains { $0.hasPrefix("TronPayout spec.amount: self == oldSelf") })
        #expect(rules.contains { $0.hasPrefix("TronPayoutApproval spec: self == oldSelf") })
        #expect(rules.contains { $0.contains("self.decision != 'Rejected' || has(self.reason)") })
        #expect(rules.contains { $0.contains("self.action != 'redirect' || has(self.redirect)") })
        #expect(rules.contains { $0.contains("self.action != 'mirror' || has(self.mirror)") })
        #expect(rules.contains { $0.contains("r.weight).sum() <= 100") })
    }
}

@Suite struct InvalidResourceTests {
    @Test func basesAreValid() throws {
        let file = try readYAML("Tests/Fixtures/invalid-resources.yaml")[0]
        for (name, base) in file["bases"]?.objectValue ?? [:] {
            #expect(LucidValidation.validate(base).isEmpty, "base \(name): \(LucidValidation.validate(base))")
        }
    }

    @Test func eachInvalidResourceIsRefusedNamingItsField() throws {
        let cases = try InvalidCase.all()
        #expect(cases.count >= 50)
        #expect(cases.filter { !$0.semantic }.count >= 50)
        for c in cases {
            let errors = LucidValidation.validate(c.object)
            #expect(errors.contains { $0.field == c.field }, "\(c): got \(errors.map(\.description))")
        }
    }

    @Test func schemaCasesAreRefusedByTheCRDSchemaAlone() throws {
        // What an API server enforcing only the generated CRD (no CEL) refuses: the same field.
        let schemas = Dictionary(uniqueKeysWithValues: CRDs.all.map { crd in
            (crd[path: "spec", "names", "kind"]!.stringValue!,
             Schema(json: crd[path: "spec", "versions"]![0]![path: "schema", "openAPIV3Schema"]!))
        })
        for c in try InvalidCase.all() where !c.semantic {
            let schema = try #require(schemas[c.object["kind"]?.stringValue ?? ""])
            let errors = SchemaValidator(rejectUnknown: true).validate(schema.applyingDefaults(to: c.object), schema, at: "")
            #expect(errors.contains { $0.field == c.field }, "\(c): got \(errors.map(\.description))")
        }
    }

    @Test func errorMessagesSayWhatToFix() {
        let bad: JSON = ["apiVersion": "payments.lucid.io/v1alpha1", "kind": "TronPayout",
                         "spec": ["sessionId": "s", "recipient": "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HD", "amount": "1", "currency": "USDT",
                                  "network": "nile", "signer": ["secretRef": ["name": "k"], "address": "THKrowiEfCe8evdbaBzDDvQjM5DGeB3s3F"]]]
        let errors = LucidValidation.validate(bad)
        #expect(errors.map(\.description) == ["spec.recipient: Invalid value: \"TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HD\" has a wrong base58check checksum"])
        let enumError = LucidValidation.validate(["apiVersion": "mesh.lucid.io/v1alpha1", "kind": "TrafficPolicy",
                                                  "spec": ["source": "a", "destination": "b", "rules": [["action": "block"]]]])
        #expect(enumError.map(\.description) == [#"spec.rules[0].action: Unsupported value: "block": supported values: "allow", "deny", "redirect", "mirror""#])
    }
}
