import StructuralSchema

public enum SecurityAction: String, Codable, Sendable, CaseIterable {
    case allow, deny
    case requireAuth = "require-auth"
    case requireMTLS = "require-mtls"
}

public enum AuthMethod: String, Codable, Sendable, CaseIterable {
    case jwt, mtls
    case apiKey = "api-key"
}

/// Who may call a destination (seed: SecurityPolicy / SecurityRule).
public struct SecurityPolicySpec: Codable, Sendable, Equatable {
    /// The calling service (a mesh Service in this namespace), or "*" for any caller.
    public var source: String
    /// The protected service.
    public var destination: String
    public var rules: [SecurityRule]
    /// Higher first; ties by creation time, then name.
    public var priority: Int?
    public var enabled: Bool?

    public init(source: String, destination: String, rules: [SecurityRule], priority: Int? = nil, enabled: Bool? = nil) {
        self.source = source
        self.destination = destination
        self.rules = rules
        self.priority = priority
        self.enabled = enabled
    }
}

/// One rule. `allow` and `deny` decide; `require-mtls` and `require-auth` deny the calls they
/// match unless the caller proves who it is, and let evaluation go on otherwise.
public struct SecurityRule: Codable, Sendable, Equatable {
    public var action: SecurityAction
    /// The requests the rule applies to (all when absent).
    public var match: SecurityMatch?
    public var authentication: Authentication?
    public var authorization: Authorization?

    public init(action: SecurityAction, match: SecurityMatch? = nil, authentication: Authentication? = nil,
                authorization: Authorization? = nil) {
        self.action = action
        self.match = match
        self.authentication = authentication
        self.authorization = authorization
    }
}

/// Requests a rule applies to; all given conditions must hold.
public struct SecurityMatch: Codable, Sendable, Equatable, Hashable {
    /// Path prefix by whole segments: "/api" matches "/api" and "/api/x", not "/apix".
    public var path: String?
    public var method: String?

    public init(path: String? = nil, method: String? = nil) {
        self.path = path
        self.method = method
    }
}

public struct Authentication: Codable, Sendable, Equatable {
    public var required: Bool?
    /// Any one of them is enough.
    public var methods: [AuthMethod]?
    /// For the jwt method: who issues tokens and where their keys are.
    public var jwt: JWTProvider?
    /// For the api-key method: which header carries the key, and the Secret holding the keys.
    public var apiKey: APIKeySource?

    public init(required: Bool? = nil, methods: [AuthMethod]? = nil, jwt: JWTProvider? = nil, apiKey: APIKeySource? = nil) {
        self.required = required
        self.methods = methods
        self.jwt = jwt
        self.apiKey = apiKey
    }
}

public struct JWTProvider: Codable, Sendable, Equatable, Hashable {
    public var issuer: String
    public var jwksUri: String
    /// The token's `aud` must hold one of them (any audience when absent).
    public var audiences: [String]?
    /// The claim holding the caller's roles (default `roles`; dots separate nested claims).
    public var rolesClaim: String?
    /// The claim holding the caller's permissions (default `permissions`).
    public var permissionsClaim: String?

    public init(issuer: String, jwksUri: String, audiences: [String]? = nil, rolesClaim: String? = nil, permissionsClaim: String? = nil) {
        self.issuer = issuer
        self.jwksUri = jwksUri
        self.audiences = audiences
        self.rolesClaim = rolesClaim
        self.permissionsClaim = permissionsClaim
    }
}

public struct APIKeySource: Codable, Sendable, Equatable {
    /// The request header carrying the key (default `x-api-key`).
    public var header: String?
    /// The Secret in this namespace whose entries are the valid keys, one per client (the entry's
    /// name is the client's name). The operator copies them only into the sidecar's own Secret.
    public var secretRef: LocalSecretReference?

    public init(header: String? = nil, secretRef: LocalSecretReference? = nil) {
        self.header = header
        self.secretRef = secretRef
    }
}

/// A Secret in the policy's namespace.
public struct LocalSecretReference: Codable, Sendable, Equatable, Hashable {
    public var name: String
    public init(name: String) { self.name = name }
}

public struct Authorization: Codable, Sendable, Equatable, Hashable {
    /// The verified token must carry at least one of these roles.
    public var roles: [String]?
    /// The verified token must carry every one of these permissions.
    public var permissions: [String]?

    public init(roles: [String]? = nil, permissions: [String]? = nil) {
        self.roles = roles
        self.permissions = permissions
    }
}

public enum SecurityPolicyKind: ResourceKind {
    public typealias Spec = SecurityPolicySpec
    public typealias Status = PolicyStatus

    public static let group = "mesh.lucid.io"
    public static let kind = "SecurityPolicy"
    public static let plural = "securitypolicies"
    public static let shortNames = ["sp", "secpol"]
    public static let description = "SecurityPolicy declares who may call a destination service: allow, deny, require authentication (jwt, api-key) or mutual TLS, with roles and permissions. It becomes authn/authz filters in the destination's sidecar."

    static let claimPattern = #"^[A-Za-z0-9_:-]+(\.[A-Za-z0-9_:-]+)*$"#

    public static let specSchema = Schema.object(
        "Desired access control for calls from source to destination.", required: ["source", "destination", "rules"],
        [
            "source": .string("The calling service, or \"*\" for any.", pattern: #"^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$"#, maxLength: 63),
            "destination": .string("The protected service.", pattern: dnsLabelPattern, maxLength: 63),
            "rules": .array("Evaluated in order.", of: ruleSchema, minItems: 1, maxItems: 64),
            "priority": .integer("Higher first; ties by creation time, then name.", minimum: 0, maximum: 1000, default: 0, format: "int32"),
            "enabled": .boolean(default: true),
        ])

    static let ruleSchema = Schema.object(
        required: ["action"],
        rules: [Schema.Rule("self.action != 'require-auth' || (has(self.authentication) && has(self.authentication.methods) && size(self.authentication.methods) > 0)",
                            message: "a require-auth rule needs authentication.methods", fieldPath: ".authentication.methods")],
        [
            "action": .string(enum: SecurityAction.allCases.map(\.rawValue)),
            "match": .object("Requests the rule applies to; all given conditions must hold.", [
                "path": .string("Path prefix, by whole segments.", pattern: "^/", maxLength: 1024),
                "method": .string(enum: TrafficPolicyKind.methods),
            ]),
            "authentication": .object(
                rules: [
                    Schema.Rule("!has(self.methods) || !('jwt' in self.methods) || has(self.jwt)", message: "the jwt method needs jwt.issuer and jwt.jwksUri", fieldPath: ".jwt"),
                    Schema.Rule("!has(self.methods) || !('api-key' in self.methods) || (has(self.apiKey) && has(self.apiKey.secretRef))",
                                message: "the api-key method needs apiKey.secretRef.name", fieldPath: ".apiKey.secretRef"),
                ],
                [
                    "required": .boolean(default: true),
                    "methods": .array(of: .string(enum: AuthMethod.allCases.map(\.rawValue)), maxItems: 3, listType: "set"),
                    "jwt": .object(required: ["issuer", "jwksUri"], [
                        "issuer": .string(minLength: 1, maxLength: 512),
                        "jwksUri": .string(pattern: "^https?://", maxLength: 2048),
                        "audiences": .array(of: .string(maxLength: 512), maxItems: 16),
                        "rolesClaim": .string("The claim holding the caller's roles; dots separate nested claims.", pattern: claimPattern, maxLength: 256, default: "roles"),
                        "permissionsClaim": .string("The claim holding the caller's permissions.", pattern: claimPattern, maxLength: 256, default: "permissions"),
                    ]),
                    "apiKey": .object([
                        "header": .string(pattern: #"^[A-Za-z0-9-]+$"#, maxLength: 128, default: "x-api-key"),
                        "secretRef": .object("The Secret whose entries are the valid keys, one per client.", required: ["name"], [
                            "name": .string(pattern: #"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"#, maxLength: 253),
                        ]),
                    ]),
                ]),
            "authorization": .object([
                "roles": .array(of: .string(minLength: 1, maxLength: 128), maxItems: 64, listType: "set"),
                "permissions": .array(of: .string(pattern: #"^[a-z0-9-]+:[a-z0-9-*]+$"#, maxLength: 128), maxItems: 64, listType: "set"),
            ]),
        ])

    public static let statusSchema = PolicyStatus.schema

    public static let printerColumns = [
        PrinterColumn("Source", "string", ".spec.source"),
        PrinterColumn("Destination", "string", ".spec.destination"),
        PrinterColumn.ready,
        PrinterColumn.age,
    ]

    public static func semanticErrors(_ spec: SecurityPolicySpec) -> [FieldError] {
        var errors: [FieldError] = []
        struct DecisionKey: Hashable { var match: SecurityMatch; var authorization: Authorization }
        var decisions: [DecisionKey: (Int, SecurityAction)] = [:]
        for (i, rule) in spec.rules.enumerated() {
            let path = "spec.rules[\(i)]"
            let methods = rule.authentication?.methods ?? []
            if rule.action == .requireAuth {
                if methods.isEmpty {
                    errors.append(FieldError(.required, "\(path).authentication.methods", "Required value: a require-auth rule needs at least one method"))
                }
                if rule.authentication?.required == false {
                    errors.append(FieldError(.invalid, "\(path).authentication.required", "Invalid value: false: contradicts action require-auth"))
                }
            }
            if methods.contains(.jwt) && rule.authentication?.jwt == nil {
                errors.append(FieldError(.required, "\(path).authentication.jwt", "Required value: the jwt method needs jwt.issuer and jwt.jwksUri"))
            }
            if rule.authentication?.jwt != nil && !methods.contains(.jwt) {
                errors.append(FieldError(.forbidden, "\(path).authentication.jwt", "Forbidden: jwt is set but authentication.methods does not list jwt"))
            }
            if methods.contains(.apiKey) && rule.authentication?.apiKey?.secretRef == nil {
                errors.append(FieldError(.required, "\(path).authentication.apiKey.secretRef", "Required value: the api-key method needs the Secret holding the keys"))
            }
            if rule.authentication?.apiKey != nil && !methods.contains(.apiKey) {
                errors.append(FieldError(.forbidden, "\(path).authentication.apiKey", "Forbidden: apiKey is set but authentication.methods does not list api-key"))
            }
            if rule.action == .deny && rule.authentication != nil {
                errors.append(FieldError(.forbidden, "\(path).authentication", "Forbidden: a deny rule refuses the call whatever the credentials"))
            }
            if rule.action == .requireMTLS && rule.authentication != nil {
                errors.append(FieldError(.forbidden, "\(path).authentication", "Forbidden: require-mtls needs only the caller's certificate; put other credentials in a require-auth rule after it"))
            }
            if let authorization = rule.authorization, !(authorization.roles ?? []).isEmpty || !(authorization.permissions ?? []).isEmpty {
                // Roles and permissions are claims of a verified token: only a rule that accepts
                // nothing but a required JWT can check them.
                if rule.action == .deny || rule.action == .requireMTLS {
                    errors.append(FieldError(.forbidden, "\(path).authorization", "Forbidden: roles and permissions come from a verified JWT, which a \(rule.action.rawValue) rule does not take; put them in a require-auth rule"))
                } else if methods != [.jwt] || rule.authentication?.required == false {
                    errors.append(FieldError(.invalid, "\(path).authorization", "Invalid value: roles and permissions come from the claims of a verified JWT: the rule needs authentication.methods [jwt], required (api-key and mtls callers carry no claims; keep one Secret of keys per role instead)"))
                }
            }
            if rule.action == .allow || rule.action == .deny {
                let key = DecisionKey(match: rule.match ?? SecurityMatch(), authorization: rule.authorization ?? Authorization())
                if let (j, other) = decisions[key], other != rule.action {
                    errors.append(FieldError(.invalid, "\(path).action", "Invalid value: \"\(rule.action.rawValue)\": contradicts rules[\(j)] (\(other.rawValue)) for the same match, roles and permissions"))
                } else if decisions[key] == nil {
                    decisions[key] = (i, rule.action)
                }
            }
        }
        return errors
    }
}

public typealias SecurityPolicy = Resource<SecurityPolicyKind>
