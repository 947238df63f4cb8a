import LucidAPI
import YAML

/// A remote JWKS endpoint, parsed from a `jwksUri`.
struct JWKSEndpoint: Hashable, Sendable {
    var tls: Bool
    var host: String
    var port: Int
    var isIP: Bool

    var clusterName: String { "jwks|\(host):\(port)" }

    init?(_ uri: String) {
        let tls: Bool
        let rest: Substring
        if uri.hasPrefix("https://") { tls = true; rest = uri.dropFirst(8) } else if uri.hasPrefix("http://") { tls = false; rest = uri.dropFirst(7) } else { return nil }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        var host = Substring(authority)
        var port = tls ? 443 : 80
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            }
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
            host = host[..<colon]
        }
        guard !host.isEmpty else { return nil }
        self.tls = tls
        self.host = host.lowercased()
        self.port = port
        isIP = host.contains(":") || host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }
}

/// A destination's policies read into a `SecurityProgram`, with what each policy needs checked
/// against the inputs. Shared by the renderer and who-can-call.
struct SecurityAnalysis: Sendable {
    var inputs: InboundInputs
    var program: SecurityProgram
    var outcomes: [String: SecurityOutcome] = [:]
    var secretsRead: Set<String> = []
    var destinationCertificateReady: Bool
    /// Identities of the Services policies name as sources.
    var identities: [String: String] = [:]
    /// Services (by name) whose certificate is issued.
    var certified: Set<String> = []
    /// API keys by (lowercased) header: (client id `<secret>/<entry>`, key).
    var apiKeys: [String: [(client: String, key: [UInt8])]] = [:]
    /// jwt_authn providers in order of first use.
    var providers: [(key: JWTProviderKey, name: String, endpoint: JWKSEndpoint)] = []

    var destination: MeshService { inputs.destination }

    init(_ inputs: InboundInputs) {
        self.inputs = inputs
        let destination = inputs.destination
        let certificate = MeshIdentity.certificateSecretName(destination.name)
        destinationCertificateReady = MeshIdentity.isReady(inputs.secrets[certificate])
        program = SecurityProgram(destination: destination, entries: [], isolation: inputs.settings.planeIsolation, providerNames: [:])
        secretsRead.insert(certificate)
        for service in inputs.services where MeshIdentity.isReady(inputs.secrets[MeshIdentity.certificateSecretName(service.name)]) {
            certified.insert(service.name)
        }
        let byName = Dictionary(inputs.services.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var keyOwners: [String: [[UInt8]: String]] = [:]

        for policy in InboundRenderer.ordered(inputs.policies.filter { $0.spec.destination == destination.name }) {
            let spec = policy.spec
            if spec.enabled == false {
                outcomes[policy.name] = .notApplied("Disabled", "spec.enabled is false: the policy is kept but not rendered", enforced: false)
                continue
            }
            let source = spec.source == "*" ? nil : byName[spec.source]
            if let source { identities[source.name] = MeshIdentity.of(source, trustDomain: inputs.settings.trustDomain) }
            var errors = SecurityPolicyKind.semanticErrors(spec).map(\.description)
            for (i, rule) in spec.rules.enumerated() {
                if let uri = rule.authentication?.jwt?.jwksUri, JWKSEndpoint(uri) == nil {
                    errors.append("spec.rules[\(i)].authentication.jwt.jwksUri: Invalid value: \"\(uri)\": needs a host (and a port from 1 to 65535, no user info)")
                }
            }
            if spec.source != "*" && source == nil && errors.isEmpty {
                outcomes[policy.name] = .notApplied("SourceNotFound",
                    "source \"\(spec.source)\" is not a mesh Service in namespace \(destination.namespace): create it, label it with \(MeshService.clusterLabel) and \(MeshService.planeLabel), or use \"*\" for any caller",
                    enforced: false)
                continue
            }
            if !errors.isEmpty {
                let who = spec.source == "*" ? "every caller" : "\(spec.source)"
                let enforced = spec.source == "*" || source != nil
                if enforced {
                    program.entries.append(SecurityEntry(policy: policy.name, rule: nil, source: source?.name, match: SecurityMatch(),
                                                         kind: .deny, action: "deny"))
                }
                outcomes[policy.name] = .notApplied("Invalid", errors.joined(separator: "; ")
                    + (enforced ? "; until it is fixed, calls from \(who) to \(destination.name) are denied (fail closed)" : ""), enforced: enforced)
                continue
            }

            var missing: [String] = []
            var badKeys: [String] = []
            var unhonoured: [UnhonouredField] = []
            var needsIdentity = source != nil
            for (i, rule) in spec.rules.enumerated() {
                let authentication = rule.authentication
                var credentials: [Credential] = []
                for method in authentication?.methods ?? [] {
                    switch method {
                    case .mtls:
                        needsIdentity = true
                        credentials.append(.mtls)
                    case .jwt:
                        guard let jwt = authentication?.jwt, let endpoint = JWKSEndpoint(jwt.jwksUri) else { continue }
                        let key = JWTProviderKey(issuer: jwt.issuer, jwksUri: jwt.jwksUri)
                        if !providers.contains(where: { $0.key == key }) {
                            providers.append((key, Self.providerName(jwt.issuer, taken: providers.map(\.name)), endpoint))
                        }
                        credentials.append(.jwt(JWTCheck(provider: key, audiences: jwt.audiences ?? [],
                                                         roles: rule.authorization?.roles ?? [], permissions: rule.authorization?.permissions ?? [],
                                                         rolesClaim: Self.claimPath(jwt.rolesClaim ?? "roles"),
                                                         permissionsClaim: Self.claimPath(jwt.permissionsClaim ?? "permissions"))))
                    case .apiKey:
                        guard let secretName = authentication?.apiKey?.secretRef?.name else { continue }
                        let header = (authentication?.apiKey?.header ?? "x-api-key").lowercased()
                        credentials.append(.apiKey(header: header, secret: secretName))
                        secretsRead.insert(secretName)
                        guard let secret = inputs.secrets[secretName] else {
                            if !missing.contains(secretName) { missing.append(secretName) }
                            continue
                        }
                        for (entry, value) in secret.entries.sorted(by: { $0.key < $1.key }) {
                            let client = "\(secretName)/\(entry)"
                            if apiKeys[header]?.contains(where: { $0.client == client }) ?? false { continue }
                            if let problem = Self.keyProblem(value) {
                                badKeys.append("Secret \(secretName) entry \(entry): the key \(problem)")
                                continue
                            }
                            if let owner = keyOwners[header]?[value], owner != client {
                                badKeys.append("Secret \(secretName) entry \(entry) holds the same key as \(owner) for header \(header): give each client its own key")
                                continue
                            }
                            keyOwners[header, default: [:]][value] = client
                            apiKeys[header, default: []].append((client, value))
                        }
                        if secret.entries.isEmpty { badKeys.append("Secret \(secretName) has no entries: add one per client, its value the API key") }
                    }
                }
                let kind: SecurityEntry.Kind
                switch rule.action {
                case .allow:
                    if authentication?.required == false {
                        if authentication != nil {
                            unhonoured.append(UnhonouredField(field: "spec.rules[\(i)].authentication",
                                reason: "required is false: the rule allows with or without credentials (a JWT that is present is still verified)"))
                        }
                        kind = .allow(anyOf: nil)
                    } else {
                        kind = .allow(anyOf: credentials.isEmpty ? nil : credentials)
                    }
                case .deny: kind = .deny
                case .requireMTLS:
                    needsIdentity = true
                    kind = .require(anyOf: [.mtls])
                case .requireAuth: kind = .require(anyOf: credentials)
                }
                program.entries.append(SecurityEntry(policy: policy.name, rule: i, source: source?.name, match: rule.match ?? SecurityMatch(),
                                                     kind: kind, action: rule.action.rawValue))
            }

            var notReady: String?
            if needsIdentity && !destinationCertificateReady {
                notReady = "Secret \"\(certificate)\" (the certificate of \(destination.name)) is not ready: cert-manager writes it from the Certificate \(certificate) once its issuer signs it; until then \(destination.name) accepts only plaintext and treats every caller as anonymous"
            }
            if let source {
                let sourceCertificate = MeshIdentity.certificateSecretName(source.name)
                secretsRead.insert(sourceCertificate)
                if notReady == nil && !certified.contains(source.name) {
                    notReady = "Secret \"\(sourceCertificate)\" (the certificate of \(source.name)) is not ready: cert-manager writes it from the Certificate \(sourceCertificate) once its issuer signs it; until then \(source.name) cannot prove who it is and its calls are anonymous"
                }
            }
            if !badKeys.isEmpty {
                outcomes[policy.name] = .notApplied("Invalid", badKeys.joined(separator: "; ") + "; calls that need those keys are denied until fixed", enforced: true)
            } else if let name = missing.first {
                outcomes[policy.name] = .notApplied("SecretNotFound",
                    "Secret \"\(name)\" not found in namespace \(destination.namespace): create it with one entry per client, its value the API key; until then calls that need a key from it are denied",
                    enforced: true)
            } else if let notReady {
                outcomes[policy.name] = .notApplied("CertificateNotReady", notReady, enforced: true)
            } else {
                outcomes[policy.name] = .applied(unhonoured: unhonoured)
            }
            outcomes[policy.name]?.unhonoured = unhonoured
        }
        program.providerNames = Dictionary(uniqueKeysWithValues: providers.map { ($0.key, $0.name) })
        reportShadowedRules()
        if destination.targetPort == nil {
            for (name, outcome) in outcomes where outcome.reason != "Disabled" {
                outcomes[name] = .notApplied("InvalidDestination",
                    "Service \(destination.name) names its targetPort: the sidecar forwards to the application by port number; set spec.ports[0].targetPort to the container's port",
                    enforced: false)
            }
        }
    }

    private mutating func reportShadowedRules() {
        for (shadowed, by) in program.shadowed() {
            guard let rule = shadowed.rule, var outcome = outcomes[shadowed.policy] else { continue }
            let note: String
            if by.policy == shadowed.policy {
                note = "rules[\(rule)] (\(shadowed.action)) is never reached: \(by.label.dropFirst(by.policy.count + 1)) (\(by.action)) decides first for every call it applies to; reorder or narrow them"
            } else {
                let which = by.rule.map { "policy \(by.policy) rules[\($0)] (\(by.action))" } ?? "policy \(by.policy) (invalid, denying its source)"
                note = "rules[\(rule)] (\(shadowed.action)) is shadowed by \(which), which decides first for every call rules[\(rule)] applies to: raise this policy's priority or narrow \(by.policy)"
            }
            outcome.conflicts.append(note)
            if outcome.ready || outcome.reason == "Conflict" {
                outcome.ready = false
                outcome.reason = "Conflict"
                outcome.message = outcome.conflicts.joined(separator: "; ")
            }
            outcomes[shadowed.policy] = outcome
        }
    }

    /// Why a key cannot be matched in a header, without saying what it is.
    static func keyProblem(_ key: [UInt8]) -> String? {
        if key.isEmpty { return "is empty" }
        if key.last == 0x0A || key.last == 0x0D { return "ends with a newline (was it written with echo without -n?)" }
        if key.count < 16 { return "is shorter than 16 characters" }
        if !key.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) { return "has characters a header cannot carry (only visible ASCII)" }
        return nil
    }

    /// A provider name readable in metadata and logs: the issuer without its scheme.
    static func providerName(_ issuer: String, taken: [String]) -> String {
        var base = issuer
        for scheme in ["https://", "http://"] where base.hasPrefix(scheme) { base = String(base.dropFirst(scheme.count)) }
        base = String(base.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" ? $0 : "_" })
        while base.hasSuffix("_") { base.removeLast() }
        if base.isEmpty { base = "jwt" }
        var name = base
        var n = 2
        while taken.contains(name) { name = "\(base)-\(n)"; n += 1 }
        return name
    }

    static func claimPath(_ claim: String) -> [String] { claim.split(separator: ".").map(String.init) }
}
