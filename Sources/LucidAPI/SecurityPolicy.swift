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
    public var source: String
    public var destination: String
    public var rules: [SecurityRule]
    public var priority: Int?
    public var enabled: Bool?
}

public struct SecurityRule: Codable, Sendable, Equatable {
    public var action: SecurityAction
    public var authentication: Authentication?
    public var authorization: Authorization?
}

public struct Authentication: Codable, Sendable, Equatable {
    public var required: Bool?
    public var methods: [AuthMethod]?
    /// For the jwt method: who issues tokens and where their keys are.
    public var jwt: JWTProvider?
    /// For the api-key method: which header carries the key.
    public var apiKey: APIKeySource?
}

public struct JWTProvider: Codable, Sendable, Equatable {
    public var issuer: String
    public var jwksUri: String
    public var audiences: [String]?
}

public struct APIKeySource: Codable, Sendable, Equatable {
    public var header: String?
}

public struct Authorization: Codable, Sendable, Equatable, Hashable {
    public var roles: [String]?
    public var permissions: [String]?
}

public enum SecurityPolicyKind: ResourceKind {
    public typealias Spec = SecurityPolicySpec
    public typealias Status = PolicyStatus

    public static let group = "mesh.lucid.io"
    public static let kind = "SecurityPolicy"
    public static let plural = "securitypolicies"
    public static let shortNames = ["sp", "secpol"]
    public static let description = "SecurityPolicy declares who may call a destination service: allow, deny, require authentication (jwt, api-key) or mutual TLS, with roles and permissions. It becomes authn/authz filters in the destination's sidecar."

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
            "authentication": .object(
                rules: [Schema.Rule("!has(self.methods) || !('jwt' in self.methods) || has(self.jwt)", message: "the jwt method needs jwt.issuer and jwt.jwksUri", fieldPath: ".jwt")],
                [
                    "required": .boolean(default: true),
                    "methods": .array(of: .string(enum: AuthMethod.allCases.map(\.rawValue)), maxItems: 3, listType: "set"),
                    "jwt": .object(required: ["issuer", "jwksUri"], [
                        "issuer": .string(minLength: 1, maxLength: 512),
                        "jwksUri": .string(pattern: "^https?://", maxLength: 2048),
                        "audiences": .array(of: .string(maxLength: 512), maxItems: 16),
                    ]),
                    "apiKey": .object([
                        "header": .string(pattern: #"^[A-Za-z0-9-]+$"#, maxLength: 128, default: "x-api-key"),
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
        var decisions: [Authorization: (Int, SecurityAction)] = [:]
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
            if rule.action == .deny && rule.authentication != nil {
                errors.append(FieldError(.forbidden, "\(path).authentication", "Forbidden: a deny rule refuses the call whatever the credentials"))
            }
            if rule.action == .allow || rule.action == .deny {
                let key = rule.authorization ?? Authorization()
                if let (j, other) = decisions[key], other != rule.action {
                    errors.append(FieldError(.invalid, "\(path).action", "Invalid value: \"\(rule.action.rawValue)\": contradicts rules[\(j)] (\(other.rawValue)) for the same roles and permissions"))
                } else if decisions[key] == nil {
                    decisions[key] = (i, rule.action)
                }
            }
        }
        return errors
    }
}

public typealias SecurityPolicy = Resource<SecurityPolicyKind>
