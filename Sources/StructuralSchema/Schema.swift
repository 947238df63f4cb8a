import CEL
import YAML

/// An OpenAPI v3 structural schema, as a CRD's `openAPIV3Schema` holds it.
///
/// The resource types describe themselves with it (so the generated CRDs and the Swift validator
/// enforce the same rules), and the embedded API server reads CRDs back into it.
public final class Schema: Sendable {
    /// A CEL rule (`x-kubernetes-validations`). The Swift validator enforces the same rules in
    /// Swift; a real API server evaluates the CEL.
    public struct Rule: Sendable, Equatable {
        public var rule: String
        public var message: String
        /// A CEL expression giving the message (a string); `message` is the fallback.
        public var messageExpression: String?
        public var fieldPath: String?
        public var reason: String?
        /// A transition rule with this set also runs on create, with `oldSelf` an optional.
        public var optionalOldSelf: Bool

        public init(_ rule: String, message: String, messageExpression: String? = nil, fieldPath: String? = nil,
                    reason: String? = nil, optionalOldSelf: Bool = false) {
            self.rule = rule
            self.message = message
            self.messageExpression = messageExpression
            self.fieldPath = fieldPath
            self.reason = reason
            self.optionalOldSelf = optionalOldSelf
        }
    }

    public let type: String?
    public let description: String?
    public let properties: [(name: String, schema: Schema)]
    public let required: [String]
    public let items: Schema?
    /// For maps: the schema of every value.
    public let additionalProperties: Schema?
    public let enumValues: [JSON]?
    public let pattern: String?
    public let minimum: Double?
    public let maximum: Double?
    public let minLength: Int?
    public let maxLength: Int?
    public let minItems: Int?
    public let maxItems: Int?
    public let defaultValue: JSON?
    public let format: String?
    public let nullable: Bool
    /// `x-kubernetes-preserve-unknown-fields`: keep fields the schema does not name.
    public let preserveUnknownFields: Bool
    /// `x-kubernetes-embedded-resource` (metadata of embedded objects).
    public let embeddedResource: Bool
    public let listType: String?
    public let listMapKeys: [String]?
    /// `x-kubernetes-int-or-string`.
    public let intOrString: Bool
    public let rules: [Rule]
    /// The rules compiled against this node's type, in order (compiled once, when built).
    public let compiledRules: [CompiledRule]
    /// What `self` is in this node's rules.
    public let celType: CELType

    public init(
        type: String?, description: String? = nil, properties: [(name: String, schema: Schema)] = [], required: [String] = [],
        items: Schema? = nil, additionalProperties: Schema? = nil, enumValues: [JSON]? = nil, pattern: String? = nil,
        minimum: Double? = nil, maximum: Double? = nil, minLength: Int? = nil, maxLength: Int? = nil,
        minItems: Int? = nil, maxItems: Int? = nil, defaultValue: JSON? = nil, format: String? = nil, nullable: Bool = false,
        preserveUnknownFields: Bool = false, embeddedResource: Bool = false, listType: String? = nil,
        listMapKeys: [String]? = nil, intOrString: Bool = false, rules: [Rule] = []
    ) {
        self.type = type
        self.description = description
        self.properties = properties
        self.required = required
        self.items = items
        self.additionalProperties = additionalProperties
        self.enumValues = enumValues
        self.pattern = pattern
        self.minimum = minimum
        self.maximum = maximum
        self.minLength = minLength
        self.maxLength = maxLength
        self.minItems = minItems
        self.maxItems = maxItems
        self.defaultValue = defaultValue
        self.format = format
        self.nullable = nullable
        self.preserveUnknownFields = preserveUnknownFields
        self.embeddedResource = embeddedResource
        self.listType = listType
        self.listMapKeys = listMapKeys
        self.intOrString = intOrString
        self.rules = rules
        let selfType = Self.celType(type: type, properties: properties, items: items, additionalProperties: additionalProperties,
                                    preserveUnknownFields: preserveUnknownFields, intOrString: intOrString)
        celType = selfType
        compiledRules = rules.map { CompiledRule($0, selfType: selfType) }
    }

    public func property(_ name: String) -> Schema? { properties.first { $0.name == name }?.schema }

    // MARK: building

    public static func object(_ description: String? = nil, required: [String] = [], rules: [Rule] = [],
                              _ properties: KeyValuePairs<String, Schema>) -> Schema {
        Schema(type: "object", description: description, properties: properties.map { ($0.key, $0.value) }, required: required, rules: rules)
    }

    public static func object(_ properties: KeyValuePairs<String, Schema>) -> Schema {
        Schema(type: "object", properties: properties.map { ($0.key, $0.value) })
    }

    public static func string(_ description: String? = nil, enum values: [String]? = nil, pattern: String? = nil,
                              minLength: Int? = nil, maxLength: Int? = nil, default value: String? = nil,
                              format: String? = nil, rules: [Rule] = []) -> Schema {
        Schema(type: "string", description: description, enumValues: values?.map { .string($0) }, pattern: pattern,
               minLength: minLength, maxLength: maxLength, defaultValue: value.map { .string($0) }, format: format, rules: rules)
    }

    public static func integer(_ description: String? = nil, minimum: Int64? = nil, maximum: Int64? = nil,
                               enum values: [Int64]? = nil, default value: Int64? = nil, format: String? = "int64") -> Schema {
        Schema(type: "integer", description: description, enumValues: values?.map { .int($0) }, minimum: minimum.map(Double.init),
               maximum: maximum.map(Double.init), defaultValue: value.map { .int($0) }, format: format)
    }

    public static func boolean(_ description: String? = nil, default value: Bool? = nil) -> Schema {
        Schema(type: "boolean", description: description, defaultValue: value.map { .bool($0) })
    }

    public static func array(_ description: String? = nil, of items: Schema, minItems: Int? = nil, maxItems: Int? = nil,
                             listType: String? = nil, rules: [Rule] = []) -> Schema {
        Schema(type: "array", description: description, items: items, minItems: minItems, maxItems: maxItems, listType: listType, rules: rules)
    }

    public static func map(_ description: String? = nil, of values: Schema, maxProperties: Int? = nil) -> Schema {
        Schema(type: "object", description: description, additionalProperties: values)
    }

    /// An object whose content is not described (kept as is).
    public static func freeform(_ description: String? = nil) -> Schema {
        Schema(type: "object", description: description, preserveUnknownFields: true)
    }

    /// The same schema with a default.
    public func withDefault(_ value: JSON) -> Schema {
        Schema(type: type, description: description, properties: properties, required: required, items: items,
               additionalProperties: additionalProperties, enumValues: enumValues, pattern: pattern, minimum: minimum,
               maximum: maximum, minLength: minLength, maxLength: maxLength, minItems: minItems, maxItems: maxItems,
               defaultValue: value, format: format, nullable: nullable, preserveUnknownFields: preserveUnknownFields,
               embeddedResource: embeddedResource, listType: listType, listMapKeys: listMapKeys, intOrString: intOrString, rules: rules)
    }

    // MARK: JSON form

    /// The `openAPIV3Schema` JSON.
    public var json: JSON {
        var o = JSONObject()
        if let description { o["description"] = .string(description) }
        if let type { o["type"] = .string(type) }
        if let format { o["format"] = .string(format) }
        if let enumValues { o["enum"] = .array(enumValues) }
        if let pattern { o["pattern"] = .string(pattern) }
        if let minimum { o["minimum"] = Self.number(minimum) }
        if let maximum { o["maximum"] = Self.number(maximum) }
        if let minLength { o["minLength"] = .int(Int64(minLength)) }
        if let maxLength { o["maxLength"] = .int(Int64(maxLength)) }
        if let minItems { o["minItems"] = .int(Int64(minItems)) }
        if let maxItems { o["maxItems"] = .int(Int64(maxItems)) }
        if let defaultValue { o["default"] = defaultValue }
        if nullable { o["nullable"] = true }
        if !required.isEmpty { o["required"] = .array(required.map { .string($0) }) }
        if !properties.isEmpty {
            var p = JSONObject()
            for (name, schema) in properties { p[name] = schema.json }
            o["properties"] = .object(p)
        }
        if let items { o["items"] = items.json }
        if let additionalProperties { o["additionalProperties"] = additionalProperties.json }
        if preserveUnknownFields { o["x-kubernetes-preserve-unknown-fields"] = true }
        if embeddedResource { o["x-kubernetes-embedded-resource"] = true }
        if let listType { o["x-kubernetes-list-type"] = .string(listType) }
        if let listMapKeys { o["x-kubernetes-list-map-keys"] = .array(listMapKeys.map { .string($0) }) }
        if intOrString { o["x-kubernetes-int-or-string"] = true }
        if !rules.isEmpty {
            o["x-kubernetes-validations"] = .array(rules.map { r in
                var v: JSON = ["rule": .string(r.rule)]
                if !r.message.isEmpty { v["message"] = .string(r.message) }
                if let m = r.messageExpression { v["messageExpression"] = .string(m) }
                if let fieldPath = r.fieldPath { v["fieldPath"] = .string(fieldPath) }
                if let reason = r.reason { v["reason"] = .string(reason) }
                if r.optionalOldSelf { v["optionalOldSelf"] = true }
                return v
            })
        }
        return .object(o)
    }

    private static func number(_ d: Double) -> JSON { d.rounded() == d && abs(d) < 9e15 ? .int(Int64(d)) : .double(d) }

    /// Reads an `openAPIV3Schema` (or any node of one).
    public convenience init(json: JSON) {
        func ints(_ key: String) -> Int? { json[key]?.intValue.map { Int($0) } }
        let properties = json["properties"]?.objectValue.map { $0.map { (name: $0.key, schema: Schema(json: $0.value)) } } ?? []
        var additional: Schema?
        if let ap = json["additionalProperties"], ap.objectValue != nil { additional = Schema(json: ap) }
        self.init(
            type: json["type"]?.stringValue, description: json["description"]?.stringValue, properties: properties,
            required: json["required"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            items: json["items"].flatMap { $0.objectValue != nil ? Schema(json: $0) : nil },
            additionalProperties: additional, enumValues: json["enum"]?.arrayValue, pattern: json["pattern"]?.stringValue,
            minimum: json["minimum"]?.doubleValue, maximum: json["maximum"]?.doubleValue, minLength: ints("minLength"),
            maxLength: ints("maxLength"), minItems: ints("minItems"), maxItems: ints("maxItems"), defaultValue: json["default"],
            format: json["format"]?.stringValue, nullable: json["nullable"]?.boolValue ?? false,
            preserveUnknownFields: json["x-kubernetes-preserve-unknown-fields"]?.boolValue ?? false,
            embeddedResource: json["x-kubernetes-embedded-resource"]?.boolValue ?? false,
            listType: json["x-kubernetes-list-type"]?.stringValue,
            listMapKeys: json["x-kubernetes-list-map-keys"]?.arrayValue?.compactMap(\.stringValue),
            intOrString: json["x-kubernetes-int-or-string"]?.boolValue ?? false,
            rules: json["x-kubernetes-validations"]?.arrayValue?.map { r in
                Rule(r["rule"]?.stringValue ?? "", message: r["message"]?.stringValue ?? "",
                     messageExpression: r["messageExpression"]?.stringValue, fieldPath: r["fieldPath"]?.stringValue,
                     reason: r["reason"]?.stringValue, optionalOldSelf: r["optionalOldSelf"]?.boolValue ?? false)
            } ?? [])
    }
}
