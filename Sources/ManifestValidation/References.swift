import LucidAPI
import Mesh
import YAML

/// The checks across objects: what a resource names must be among the manifests (in its
/// namespace) or, when it is not, is assumed to be in the cluster (a warning; an error with
/// `strictReferences`); what is there must be usable (a mesh Service, a Secret entry); and two
/// objects must not claim the same thing (a name, a Service's breaker, a payout's session).
struct References {
    var objects: [CheckedObject]
    let options: ValidationOptions
    private var services: [String: [String: Int]] = [:]
    private var secrets: [String: [String: Int]] = [:]
    private var payouts: [String: [String: Int]] = [:]
    /// Objects that repeat an earlier one's identity: apply keeps the last, they are one object.
    private var repeats: Set<Int> = []
    /// Objects without an error of their own: an invalid breaker or payout claims nothing.
    private let valid: [Bool]

    init(_ objects: [CheckedObject], options: ValidationOptions) {
        self.objects = objects
        self.options = options
        valid = objects.map { !$0.problems.contains { $0.severity == .error } }
    }

    static let mesh = "mesh.lucid.io", payments = "payments.lucid.io"

    mutating func run() -> [CheckedObject] {
        index()
        for i in objects.indices where objects[i].wellFormed && !repeats.contains(i) {
            switch (objects[i].group, objects[i].kind) {
            case (Self.mesh, TrafficPolicyKind.kind): trafficPolicy(i)
            case (Self.mesh, SecurityPolicyKind.kind): securityPolicy(i)
            case (Self.mesh, CircuitBreakerConfigKind.kind): requireMeshService(i, "spec.service", consequence: "the breaker applies to no sidecar")
            case (Self.payments, TronPayoutKind.kind): payout(i)
            case (Self.payments, TronPayoutApprovalKind.kind): approval(i)
            default: break
            }
        }
        oneWinner(kind: CircuitBreakerConfigKind.kind, group: Self.mesh, field: "spec.service") { winner, value in
            "Duplicate value: \"\(value)\": \(winner) also sets the breaker for this Service and goes first (older, then by name): one config per service; this one would report Conflict: delete it, or move its settings into the other"
        }
        oneWinner(kind: TronPayoutKind.kind, group: Self.payments, field: "spec.sessionId") { winner, value in
            "Duplicate value: \"\(value)\": \(winner) pays this session and goes first (older, then by name): one payout per session; this one would fail with DuplicateSession"
        }
        return objects
    }

    private mutating func index() {
        var identities: [String: Int] = [:]
        for (i, object) in objects.enumerated() {
            guard let name = object.name, !object.kind.isEmpty else { continue }
            let key = "\(object.group)/\(object.kind)/\(object.namespace ?? "")/\(name)"
            if let first = identities[key] {
                repeats.insert(i)
                objects[i].add("metadata.name", .error, .reference,
                               "Duplicate value: \"\(name)\": \(object.title) is also defined at \(objects[first].location); applying both keeps only the last")
                continue
            }
            identities[key] = i
            guard object.group == "" || object.group == Self.payments, let namespace = object.namespace else { continue }
            switch (object.group, object.kind) {
            case ("", "Service"): services[namespace, default: [:]][name] = i
            case ("", "Secret"): secrets[namespace, default: [:]][name] = i
            case (Self.payments, TronPayoutKind.kind): payouts[namespace, default: [:]][name] = i
            default: break
            }
        }
    }

    private func spec(_ i: Int) -> JSON { objects[i].value["spec"] ?? [:] }

    private mutating func trafficPolicy(_ i: Int) {
        let spec = spec(i)
        guard spec["enabled"] != false else { return }
        requireMeshService(i, "spec.source", consequence: "the policy reports SourceNotFound")
        requireMeshService(i, "spec.destination", consequence: "the policy reports DestinationNotFound")
        for (r, rule) in (spec["rules"]?.arrayValue ?? []).enumerated() where rule["mirror"]?["service"] != nil {
            requireMeshService(i, "spec.rules[\(r)].mirror.service", consequence: "the policy reports MirrorTargetNotFound")
        }
    }

    private mutating func securityPolicy(_ i: Int) {
        let spec = spec(i)
        guard spec["enabled"] != false else { return }
        if spec["source"] != "*" { requireMeshService(i, "spec.source", consequence: "the policy reports SourceNotFound") }
        requireMeshService(i, "spec.destination", consequence: "the policy reports DestinationNotFound")
        for (r, rule) in (spec["rules"]?.arrayValue ?? []).enumerated() {
            let field = "spec.rules[\(r)].authentication.apiKey.secretRef.name"
            guard let name = rule[path: "authentication", "apiKey", "secretRef", "name"]?.stringValue else { continue }
            let consequence = "the policy reports SecretNotFound and calls that need a key from it are denied"
            guard let s = lookup(secrets, i, name) else {
                missing(i, field, "Secret", name, in: secrets, consequence: consequence)
                continue
            }
            if Self.entries(of: objects[s].value).isEmpty {
                objects[i].add(field, .error, .reference,
                               "Invalid value: \"\(name)\": \(objects[s].title) (\(objects[s].location)) has no entries: add one per client, its value the API key; until then calls that need a key from it are denied")
            }
        }
    }

    private mutating func payout(_ i: Int) {
        let field = "spec.signer.secretRef.name"
        guard let name = spec(i)[path: "signer", "secretRef", "name"]?.stringValue else { return }
        guard let s = lookup(secrets, i, name) else {
            missing(i, field, "Secret", name, in: secrets, consequence: "its Job signs nothing and the payout reports SignerSecretMissing")
            return
        }
        let key = spec(i)[path: "signer", "secretRef", "key"]?.stringValue ?? "key"
        let entries = Self.entries(of: objects[s].value)
        if !entries.contains(key) {
            let has = entries.isEmpty ? "it has none" : "it has \(entries.sorted().joined(separator: ", "))"
            objects[i].add("spec.signer.secretRef.key", .error, .reference,
                           "Invalid value: \"\(key)\": \(objects[s].title) (\(objects[s].location)) has no entry \"\(key)\" (\(has)); the payout Job could not mount the signer key")
        }
    }

    private mutating func approval(_ i: Int) {
        guard let name = spec(i)["payoutName"]?.stringValue else { return }
        guard let p = lookup(payouts, i, name) else {
            missing(i, "spec.payoutName", "TronPayout", name, in: payouts, consequence: "the approval decides nothing")
            return
        }
        if let uid = spec(i)["payoutUID"]?.stringValue, let actual = objects[p].value[path: "metadata", "uid"]?.stringValue, uid != actual {
            objects[i].add("spec.payoutUID", .error, .reference,
                           "Invalid value: \"\(uid)\": \(objects[p].title) (\(objects[p].location)) has uid \(actual); the approval counts only for the payout whose uid it names")
        }
    }

    /// The named Service must be among the manifests and a mesh Service (labelled with a
    /// Lucid cluster and a plane), as the controllers read it.
    private mutating func requireMeshService(_ i: Int, _ field: String, consequence: String) {
        guard let name = read(spec(i), field)?.stringValue else { return }
        guard let s = lookup(services, i, name) else {
            missing(i, field, "Service", name, in: services, consequence: consequence)
            return
        }
        if MeshService(objects[s].value) == nil {
            objects[i].add(field, .error, .reference,
                           "Invalid value: \"\(name)\": \(objects[s].title) (\(objects[s].location)) is not a mesh Service: label it with \(MeshService.clusterLabel) and \(MeshService.planeLabel) (\(MeshService.planes.sorted().joined(separator: ", "))); until then \(consequence)")
        }
    }

    private func lookup(_ table: [String: [String: Int]], _ i: Int, _ name: String) -> Int? {
        objects[i].namespace.flatMap { table[$0]?[name] }
    }

    /// Not among the manifests: it may be in the cluster.
    private mutating func missing(_ i: Int, _ field: String, _ kind: String, _ name: String, in table: [String: [String: Int]], consequence: String) {
        let namespace = objects[i].namespace ?? options.defaultNamespace
        let elsewhere = table.filter { $0.key != namespace && $0.value[name] != nil }.map(\.key).sorted()
        let hint = elsewhere.isEmpty ? "" : " (there is one in namespace \(elsewhere.joined(separator: ", ")))"
        objects[i].add(field, options.strictReferences ? .error : .warning, .reference,
                       "Not found: \(kind) \"\(name)\" is not among the manifests in namespace \(namespace)\(hint); it must exist in the cluster, and until it does \(consequence)")
    }

    /// Of the valid objects of a kind that claim the same value of `field` in a namespace, the
    /// first by creation time, then name (how the operator picks) keeps it; each other one is an
    /// error.
    private mutating func oneWinner(kind: String, group: String, field: String, message: (String, String) -> String) {
        var claims: [String: [Int]] = [:]
        for i in objects.indices where objects[i].group == group && objects[i].kind == kind && valid[i] && !repeats.contains(i) {
            guard let value = read(spec(i), field)?.stringValue, let namespace = objects[i].namespace else { continue }
            claims["\(namespace)/\(value)", default: []].append(i)
        }
        for (_, claimants) in claims where claimants.count > 1 {
            func order(_ i: Int) -> (String, String) {
                (objects[i].value[path: "metadata", "creationTimestamp"]?.stringValue ?? "", objects[i].name ?? "")
            }
            let sorted = claimants.sorted { order($0) < order($1) }
            let winner = sorted[0]
            for loser in sorted.dropFirst() {
                let value = read(spec(loser), field)?.stringValue ?? ""
                objects[loser].add(field, .error, .reference, message("\(kind) \"\(objects[winner].name ?? "")\" (\(objects[winner].location))", value))
            }
        }
    }

    /// `spec.rules[2].mirror.service` read from the spec.
    private func read(_ spec: JSON, _ field: String) -> JSON? {
        var value: JSON? = spec
        for part in field.split(separator: ".").dropFirst() {
            let pieces = part.split(separator: "[")
            value = value?[String(pieces[0])]
            for index in pieces.dropFirst() { value = Int(index.dropLast()).flatMap { value?[$0] } }
        }
        return value
    }

    /// The entry names of a Secret: `data` and `stringData`.
    static func entries(of secret: JSON) -> Set<String> {
        Set((secret["data"]?.objectValue?.keys ?? []) + (secret["stringData"]?.objectValue?.keys ?? []))
    }
}
