import LucidAPI
import YAML

/// `lucid-operator render`: from manifests alone, every mesh Service's sidecar (its ConfigMap,
/// its key Secret with the keys withheld, its NetworkPolicy and Certificate) and the status each
/// TrafficPolicy, SecurityPolicy and CircuitBreakerConfig would get, computed with the same
/// functions as the controller (`SidecarAssembly`, `StatusReport`). No cluster, no clock:
/// statuses carry no times or generations.
public enum OfflineRender {
    public struct Options: Sendable {
        public var settings: SecuritySettings
        /// The Certificate of each Service, when an issuer is given.
        public var certificates: CertificateBuilder.Settings?
        /// Only this Service's sidecar, and the resources it renders.
        public var service: (namespace: String, name: String)?

        public init(settings: SecuritySettings = SecuritySettings(), certificates: CertificateBuilder.Settings? = nil,
                    service: (namespace: String, name: String)? = nil) {
            self.settings = settings
            self.certificates = certificates
            self.service = service
        }
    }

    public enum Format: String, Sendable, CaseIterable {
        case yaml, json
    }

    public struct NotFound: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The objects, in order: per mesh Service (by namespace and name) its ConfigMap, Secret,
    /// NetworkPolicy and Certificate; then the resources' statuses (by kind, namespace, name).
    public static func documents(_ sources: ManifestSources, _ options: Options) async throws -> [JSON] {
        if let only = options.service, sources.service(namespace: only.namespace, name: only.name) == nil {
            throw NotFound(description: "no mesh Service \(only.namespace)/\(only.name) in the manifests (a Service labelled \(MeshService.clusterLabel) and \(MeshService.planeLabel))")
        }
        var renders: [(MeshService, SidecarRender, SidecarAssembly.Inputs)] = []
        for service in sources.meshServices {
            let inputs = try await SidecarAssembly.inputs(for: service, from: sources, settings: options.settings)
            renders.append((service, SidecarAssembly.render(inputs), inputs))
        }
        let shown = renders.filter { options.service == nil || ($0.0.namespace, $0.0.name) == (options.service?.namespace, options.service?.name) }
        var documents: [JSON] = []
        for (service, render, inputs) in shown {
            documents.append(readable(SidecarObjects.configMap(service, render.config)))
            if let secret = SidecarObjects.keysSecret(service, render.secretFiles) { documents.append(withheld(secret, render.secretFiles)) }
            if let np = NetworkPolicyBuilder.networkPolicy(inputs.inbound) { documents.append(np) }
            if let settings = options.certificates { documents.append(CertificateBuilder.certificate(for: service, settings: settings)) }
        }
        documents += statuses(sources, renders.map { ($0.0, $0.1) }, only: options.service == nil ? nil : shown.map(\.0))
        return documents.map(withoutUnknownOwners)
    }

    /// Manifests rarely carry uids: an owner reference without one is left out (the operator
    /// sets it from the Service it reads).
    static func withoutUnknownOwners(_ object: JSON) -> JSON {
        guard let owners = object[path: "metadata", "ownerReferences"]?.arrayValue, owners.contains(where: { $0["uid"] == "" }) else { return object }
        var out = object
        out["metadata"]?["ownerReferences"] = nil
        return out
    }

    /// The status of every mesh resource, or only of those the `only` sidecars render.
    static func statuses(_ sources: ManifestSources, _ renders: [(MeshService, SidecarRender)], only: [MeshService]?) -> [JSON] {
        let all = only == nil
        let shown = Set((only ?? []).map { "\($0.namespace)/\($0.name)" })
        var bySidecar: [String: SidecarRender] = [:]
        for (service, render) in renders { bySidecar["\(service.namespace)/\(service.name)"] = render }
        var out: [JSON] = []

        for entry in sources.trafficPolicies {
            let key = "\(entry.namespace)/\(entry.value?.spec.source ?? "")"
            guard all || shown.contains(key) else { continue }
            let report: StatusReport
            if let invalid = entry.invalid {
                report = .invalid(invalid)
            } else if let policy = entry.value, let render = bySidecar[key], let r = render.policies[policy.name] {
                report = .trafficPolicy(r)
            } else {
                report = .sourceNotFound(entry.value?.spec.source ?? "", namespace: entry.namespace)
            }
            out.append(status(TrafficPolicyKind.self, entry.namespace, entry.name, report))
        }
        for entry in sources.securityPolicies {
            let key = "\(entry.namespace)/\(entry.value?.spec.destination ?? "")"
            guard all || shown.contains(key) else { continue }
            let report: StatusReport
            if let invalid = entry.invalid {
                report = .invalid(invalid)
            } else if let policy = entry.value, let render = bySidecar[key], let outcome = render.security[policy.name] {
                report = .securityPolicy(outcome, sidecar: "\(entry.namespace)/\(policy.spec.destination)-sidecar")
            } else if let policy = entry.value {
                report = .destinationNotFound(policy, namespace: entry.namespace)
            } else {
                continue
            }
            out.append(status(SecurityPolicyKind.self, entry.namespace, entry.name, report))
        }
        for entry in sources.circuitBreakers {
            let callerReports = renders.filter { $0.0.namespace == entry.namespace }.compactMap { $0.1.breakers[entry.name] }
            let rendersHere = renders.contains { shown.contains("\($0.0.namespace)/\($0.0.name)") && $0.1.breakers[entry.name] != nil }
            guard all || rendersHere else { continue }
            let report: StatusReport
            if let invalid = entry.invalid {
                report = .invalid(invalid)
            } else if let breaker = entry.value {
                report = .circuitBreaker(entry.name, breakers: sources.circuitBreakers(namespace: entry.namespace, service: breaker.spec.service),
                                         service: sources.service(namespace: entry.namespace, name: breaker.spec.service),
                                         namespace: entry.namespace, callerReports: callerReports)
            } else {
                continue
            }
            out.append(status(CircuitBreakerConfigKind.self, entry.namespace, entry.name, report))
        }
        return out
    }

    /// A resource with only the status it would get (conditions without times).
    static func status<Kind: ResourceKind>(_ kind: Kind.Type, _ namespace: String, _ name: String, _ report: StatusReport) -> JSON {
        var status: JSON = ["conditions": [["type": "Ready", "status": report.ready ? "True" : "False",
                                            "reason": .string(report.reason), "message": .string(report.message)]]]
        if !report.appliedTo.isEmpty { status["appliedTo"] = .array(report.appliedTo.map { .string($0) }) }
        if !report.conflicts.isEmpty { status["conflicts"] = .array(report.conflicts.map { .string($0) }) }
        if !report.unhonoured.isEmpty {
            status["unhonoured"] = .array(report.unhonoured.map { ["field": .string($0.field), "reason": .string($0.reason)] })
        }
        return ["apiVersion": .string(Kind.apiVersion), "kind": .string(Kind.kind),
                "metadata": ["name": .string(name), "namespace": .string(namespace)], "status": status]
    }

    /// The ConfigMap with its JSON files indented, for reading (the operator writes them
    /// compact; the hash annotation is of that form).
    static func readable(_ configMap: JSON) -> JSON {
        var out = configMap
        for (name, value) in configMap["data"]?.objectValue ?? [:] {
            if let text = value.stringValue, let parsed = try? JSON.parse(text) { out["data"]?[name] = .string(parsed.prettyText + "\n") }
        }
        return out
    }

    /// The key Secret as written, but with every value replaced by its size: render output goes
    /// to terminals and CI logs, where keys must never appear.
    static func withheld(_ secret: JSON, _ files: [String: String]) -> JSON {
        var out = secret
        for (name, text) in files { out["data"]?[name] = .string("(withheld: \(text.utf8.count) bytes holding API keys)") }
        return out
    }

    /// YAML documents, or one JSON `List`.
    public static func format(_ documents: [JSON], as format: Format) throws -> String {
        switch format {
        case .yaml: return try YAML.emitAll(documents)
        case .json: return JSON.object(["apiVersion": "v1", "kind": "List", "items": .array(documents)]).prettyText + "\n"
        }
    }
}
