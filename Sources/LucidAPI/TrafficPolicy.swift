import StructuralSchema

public enum TrafficAction: String, Codable, Sendable, CaseIterable { case allow, deny, redirect, mirror }

/// How a source service may call a destination (seed: TrafficPolicy / TrafficRule).
public struct TrafficPolicySpec: Codable, Sendable, Equatable {
    /// The calling service (a mesh Service in the same namespace).
    public var source: String
    /// The called service.
    public var destination: String
    public var rules: [TrafficRule]
    /// Higher first; ties by creation time, then name.
    public var priority: Int?
    public var enabled: Bool?

    public init(source: String, destination: String, rules: [TrafficRule], priority: Int? = nil, enabled: Bool? = nil) {
        self.source = source
        self.destination = destination
        self.rules = rules
        self.priority = priority
        self.enabled = enabled
    }
}

public struct TrafficRule: Codable, Sendable, Equatable {
    public var action: TrafficAction
    public var match: TrafficMatch?
    /// Share of matching traffic (0–100) when several rules or policies match the same requests.
    public var weight: Int?
    /// Request timeout, milliseconds.
    public var timeout: Int?
    public var retries: Retries?
    public var redirect: RedirectTarget?
    public var mirror: MirrorTarget?

    public init(action: TrafficAction, match: TrafficMatch? = nil, weight: Int? = nil, timeout: Int? = nil,
                retries: Retries? = nil, redirect: RedirectTarget? = nil, mirror: MirrorTarget? = nil) {
        self.action = action
        self.match = match
        self.weight = weight
        self.timeout = timeout
        self.retries = retries
        self.redirect = redirect
        self.mirror = mirror
    }
}

public struct TrafficMatch: Codable, Sendable, Equatable, Hashable {
    /// Exact header values.
    public var headers: [String: String]?
    /// Path prefix, starting with "/".
    public var path: String?
    public var method: String?

    public init(headers: [String: String]? = nil, path: String? = nil, method: String? = nil) {
        self.headers = headers
        self.path = path
        self.method = method
    }
}

public struct Retries: Codable, Sendable, Equatable {
    public var attempts: Int
    /// Milliseconds per try.
    public var perTryTimeout: Int?
    public var retryOn: [String]?
}

public struct RedirectTarget: Codable, Sendable, Equatable {
    public var host: String?
    public var path: String?
    public var responseCode: Int?
}

public struct MirrorTarget: Codable, Sendable, Equatable {
    /// The service that receives a copy of the traffic (responses are discarded).
    public var service: String
    public var percent: Int?
}

/// What the operator reports on the three mesh policies.
public struct PolicyStatus: Codable, Sendable, Equatable {
    public var observedGeneration: Int64?
    public var conditions: [Condition]?
    /// The sidecar ConfigMaps (`namespace/name`) this policy is rendered into.
    public var appliedTo: [String]?
    /// Other policies this one conflicts with, and how.
    public var conflicts: [String]?
    /// Fields accepted by the API but not honoured by the data plane, with why.
    public var unhonoured: [UnhonouredField]?

    public init() {}
}

public struct UnhonouredField: Codable, Sendable, Equatable {
    public var field: String
    public var reason: String
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
}

extension PolicyStatus {
    static let schema = Schema.object(
        "What the operator did with this policy.",
        [
            "observedGeneration": .integer("The generation the status describes.", minimum: 0),
            "conditions": Condition.listSchema,
            "appliedTo": .array("Sidecar ConfigMaps (namespace/name) this policy is rendered into.", of: .string()),
            "conflicts": .array("Conflicts with other policies, in words.", of: .string()),
            "unhonoured": .array("Fields the data plane cannot honour.", of: .object(required: ["field", "reason"], [
                "field": .string(), "reason": .string(),
            ])),
        ])
}

public enum TrafficPolicyKind: ResourceKind {
    public typealias Spec = TrafficPolicySpec
    public typealias Status = PolicyStatus

    public static let group = "mesh.lucid.io"
    public static let kind = "TrafficPolicy"
    public static let plural = "trafficpolicies"
    public static let shortNames = ["tp", "tpol"]
    public static let description = "TrafficPolicy declares how a source service may call a destination: allow, deny, redirect or mirror matching requests, with weights, timeouts and retries. It becomes routes in the source's sidecar."

    static let methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"]
    static let retryOn = ["5xx", "gateway-error", "reset", "connect-failure", "retriable-4xx", "refused-stream", "retriable-status-codes"]

    public static let specSchema = Schema.object(
        "Desired routing from source to destination.", required: ["source", "destination", "rules"],
        rules: [Schema.Rule("self.rules.filter(r, has(r.weight)).map(r, r.weight).sum() <= 100",
                            message: "the weights of a policy's rules add up to at most 100", fieldPath: ".rules")],
        [
            "source": .string("The calling service: a mesh Service in this namespace.", pattern: dnsLabelPattern, maxLength: 63),
            "destination": .string("The called service: a mesh Service in this namespace.", pattern: dnsLabelPattern, maxLength: 63),
            "rules": .array("Evaluated in order; the first match applies.", of: ruleSchema, minItems: 1, maxItems: 64),
            "priority": .integer("Higher first; ties by creation time, then name.", minimum: 0, maximum: 1000, default: 0, format: "int32"),
            "enabled": .boolean("A disabled policy is kept but not rendered.", default: true),
        ])

    static let ruleSchema = Schema.object(
        "One rule: what to match and what to do.", required: ["action"],
        rules: [
            Schema.Rule("self.action != 'redirect' || has(self.redirect)", message: "a redirect rule needs redirect.host or redirect.path", fieldPath: ".redirect"),
            Schema.Rule("self.action != 'mirror' || has(self.mirror)", message: "a mirror rule needs mirror.service", fieldPath: ".mirror"),
        ],
        [
            "action": .string("allow, deny (403), redirect or mirror.", enum: TrafficAction.allCases.map(\.rawValue)),
            "match": .object("Requests the rule applies to; all given conditions must hold.", [
                "headers": .map("Exact header values.", of: .string(maxLength: 1024)),
                "path": .string("Path prefix.", pattern: "^/", maxLength: 1024),
                "method": .string(enum: methods),
            ]),
            "weight": .integer("Share of matching traffic, 0–100.", minimum: 0, maximum: 100, format: "int32"),
            "timeout": .integer("Request timeout in milliseconds.", minimum: 1, maximum: 3_600_000, format: "int32"),
            "retries": .object(required: ["attempts"], [
                "attempts": .integer(minimum: 0, maximum: 10, format: "int32"),
                "perTryTimeout": .integer("Milliseconds per try.", minimum: 1, maximum: 3_600_000, format: "int32"),
                "retryOn": .array(of: .string(enum: retryOn), listType: "set"),
            ]),
            "redirect": .object(
                "Where a redirect rule sends the client.",
                rules: [Schema.Rule("has(self.host) || has(self.path)", message: "a redirect needs host or path")],
                [
                    "host": .string(pattern: #"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"#, maxLength: 253),
                    "path": .string(pattern: "^/", maxLength: 1024),
                    "responseCode": .integer(enum: [301, 302, 303, 307, 308], default: 302, format: "int32"),
                ]),
            "mirror": .object("Where a mirror rule copies traffic.", required: ["service"], [
                "service": .string(pattern: dnsLabelPattern, maxLength: 63),
                "percent": .integer(minimum: 0, maximum: 100, default: 100, format: "int32"),
            ]),
        ])

    public static let statusSchema = PolicyStatus.schema

    public static let printerColumns = [
        PrinterColumn("Source", "string", ".spec.source"),
        PrinterColumn("Destination", "string", ".spec.destination"),
        PrinterColumn("Priority", "integer", ".spec.priority"),
        PrinterColumn.ready,
        PrinterColumn.age,
    ]

    public static func semanticErrors(_ spec: TrafficPolicySpec) -> [FieldError] {
        var errors: [FieldError] = []
        var firstRuleFor: [TrafficMatch: Int] = [:]
        var weightFor: [TrafficMatch: Int] = [:]
        for (i, rule) in spec.rules.enumerated() {
            let path = "spec.rules[\(i)]"
            if rule.redirect != nil && rule.action != .redirect {
                errors.append(FieldError(.forbidden, "\(path).redirect", "Forbidden: only a redirect rule has a redirect target"))
            }
            if rule.mirror != nil && rule.action != .mirror {
                errors.append(FieldError(.forbidden, "\(path).mirror", "Forbidden: only a mirror rule has a mirror target"))
            }
            if rule.action == .redirect, let r = rule.redirect, r.host == nil, r.path == nil {
                errors.append(FieldError(.required, "\(path).redirect", "Required value: a redirect needs host or path"))
            }
            if rule.action == .redirect && rule.redirect == nil {
                errors.append(FieldError(.required, "\(path).redirect", "Required value: a redirect rule needs redirect.host or redirect.path"))
            }
            if rule.action == .mirror && rule.mirror == nil {
                errors.append(FieldError(.required, "\(path).mirror", "Required value: a mirror rule needs mirror.service"))
            }
            if rule.action == .mirror, rule.mirror?.service == spec.destination {
                errors.append(FieldError(.invalid, "\(path).mirror.service", "Invalid value: \"\(spec.destination)\": mirroring a destination to itself doubles its traffic"))
            }
            if rule.action == .deny {
                for (field, set) in [("timeout", rule.timeout != nil), ("retries", rule.retries != nil), ("weight", rule.weight != nil)] where set {
                    errors.append(FieldError(.forbidden, "\(path).\(field)", "Forbidden: a deny rule answers 403 itself; \(field) has no meaning"))
                }
            }
            for key in (rule.match?.headers ?? [:]).keys.sorted() where !Self.isHeaderName(key) {
                errors.append(FieldError(.invalid, "\(path).match.headers[\(key)]", "Invalid value: \"\(key)\": a header name is letters, digits and '-'"))
            }
            let match = rule.match ?? TrafficMatch()
            if let j = firstRuleFor[match] {
                let other = spec.rules[j].action
                if (other == .deny) != (rule.action == .deny) {
                    errors.append(FieldError(.invalid, "\(path).action", "Invalid value: \"\(rule.action.rawValue)\": contradicts rules[\(j)] (\(other.rawValue)) for the same match"))
                }
            } else {
                firstRuleFor[match] = i
            }
            if let w = rule.weight {
                weightFor[match, default: 0] += w
                if weightFor[match]! > 100 {
                    errors.append(FieldError(.invalid, "\(path).weight", "Invalid value: \(w): the weights of rules with the same match add up to more than 100"))
                }
            }
        }
        return errors
    }

    static func isHeaderName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D }
    }
}

public typealias TrafficPolicy = Resource<TrafficPolicyKind>
