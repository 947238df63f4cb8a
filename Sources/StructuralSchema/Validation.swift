import Synchronization
import YAML

/// One thing wrong with one field, in the shape of a Kubernetes `StatusCause`.
public struct FieldError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        case required = "FieldValueRequired"
        case typeInvalid = "FieldValueTypeInvalid"
        case notSupported = "FieldValueNotSupported"
        case invalid = "FieldValueInvalid"
        case tooLong = "FieldValueTooLong"
        case tooMany = "FieldValueTooMany"
        case duplicate = "FieldValueDuplicate"
        case forbidden = "FieldValueForbidden"
        case unknown = "FieldValueUnknown"
    }

    public var kind: Kind
    /// `spec.rules[0].action`.
    public var field: String
    /// What is wrong and what would be right, without the field name.
    public var detail: String

    public init(_ kind: Kind, _ field: String, _ detail: String) {
        self.kind = kind
        self.field = field
        self.detail = detail
    }

    /// "spec.rules[0].action: Unsupported value: ..." as the API server words it.
    public var description: String { "\(field): \(detail)" }
}

/// Checks values against a `Schema`: types, required, enum, pattern, bounds, lengths, and (with
/// `rejectUnknown`) fields the schema does not name. No I/O; patterns are compiled once per call.
public struct SchemaValidator {
    public var rejectUnknown: Bool

    public init(rejectUnknown: Bool = false) { self.rejectUnknown = rejectUnknown }

    public func validate(_ value: JSON, _ schema: Schema, at path: String) -> [FieldError] {
        var errors: [FieldError] = []
        check(value, schema, path, &errors)
        return errors
    }

    private func check(_ value: JSON, _ schema: Schema, _ path: String, _ errors: inout [FieldError]) {
        if value == .null {
            if !schema.nullable && schema.type != nil {
                errors.append(FieldError(.typeInvalid, path, "Invalid value: \"null\": \(path) in body must be of type \(schema.type!): \"null\""))
            }
            return
        }
        if let type = schema.type, !Self.matches(value, type) {
            errors.append(FieldError(.typeInvalid, path, "Invalid value: \"\(value.typeName)\": \(path) in body must be of type \(type): \"\(value.typeName)\""))
            return
        }
        if let values = schema.enumValues, !values.contains(value) {
            let supported = values.map { $0.stringValue.map { "\"\($0)\"" } ?? $0.jsonText }.joined(separator: ", ")
            errors.append(FieldError(.notSupported, path, "Unsupported value: \(Self.quote(value)): supported values: \(supported)"))
        }
        switch value {
        case .string(let s):
            if let pattern = schema.pattern, !Self.matches(s, pattern: pattern) {
                errors.append(FieldError(.invalid, path, "Invalid value: \"\(s)\": \(path) in body should match '\(pattern)'"))
            }
            let length = s.count
            if let max = schema.maxLength, length > max {
                errors.append(FieldError(.tooLong, path, "Too long: may not be more than \(max) bytes"))
            }
            if let min = schema.minLength, length < min {
                errors.append(FieldError(.invalid, path, "Invalid value: \"\(s)\": \(path) in body should be at least \(min) chars long"))
            }
        case .int, .double:
            let n = value.doubleValue ?? 0
            if let min = schema.minimum, n < min {
                errors.append(FieldError(.invalid, path, "Invalid value: \(value.jsonText): \(path) in body should be greater than or equal to \(Self.format(min))"))
            }
            if let max = schema.maximum, n > max {
                errors.append(FieldError(.invalid, path, "Invalid value: \(value.jsonText): \(path) in body should be less than or equal to \(Self.format(max))"))
            }
        case .array(let items):
            if let max = schema.maxItems, items.count > max {
                errors.append(FieldError(.tooMany, path, "Too many: \(items.count): must have at most \(max) items"))
            }
            if let min = schema.minItems, items.count < min {
                errors.append(FieldError(.invalid, path, "Invalid value: \(items.count): \(path) in body should have at least \(min) items"))
            }
            if schema.listType == "set" {
                var seen = Set<JSON>()
                for (i, item) in items.enumerated() where !seen.insert(item).inserted {
                    errors.append(FieldError(.duplicate, "\(path)[\(i)]", "Duplicate value: \(Self.quote(item))"))
                }
            }
            if let itemSchema = schema.items {
                for (i, item) in items.enumerated() { check(item, itemSchema, "\(path)[\(i)]", &errors) }
            }
        case .object(let object):
            for name in schema.required where object[name] == nil || object[name] == .null {
                errors.append(FieldError(.required, Self.join(path, name), "Required value"))
            }
            for (key, child) in object {
                if let propertySchema = schema.property(key) {
                    check(child, propertySchema, Self.join(path, key), &errors)
                } else if let valueSchema = schema.additionalProperties {
                    check(child, valueSchema, "\(path)[\(key)]", &errors)
                } else if rejectUnknown && !schema.preserveUnknownFields && !(schema.properties.isEmpty && schema.type == nil)
                            && !(schema.embeddedResource && ["apiVersion", "kind", "metadata"].contains(key)) {
                    errors.append(FieldError(.unknown, Self.join(path, key), "unknown field \"\(Self.join(path, key))\""))
                }
            }
        default:
            break
        }
    }

    /// `a` + `b` → `a.b` (or `b` at the root).
    public static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    static func quote(_ v: JSON) -> String { v.stringValue.map { "\"\($0)\"" } ?? v.jsonText }

    static func format(_ d: Double) -> String { d.rounded() == d ? String(Int64(d)) : String(d) }

    static func matches(_ value: JSON, _ type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("integer", .int): true
        case ("integer", .double(let d)): d.rounded() == d
        case ("number", .int), ("number", .double): true
        default: false
        }
    }

    static func matches(_ s: String, pattern: String) -> Bool {
        guard let regex = compiled(pattern) else { return true }  // an uncompilable pattern is the CRD author's error, not the object's
        return (try? regex.firstMatch(in: s)) != nil
    }

    /// A compiled pattern. `@unchecked Sendable`: `AnyRegexOutput` is not Sendable, but a compiled
    /// regex is immutable once its program is built, which happens under the cache's lock
    /// (a first match) before any other thread sees it.
    struct Compiled: @unchecked Sendable {
        let regex: Regex<AnyRegexOutput>?
    }

    /// Patterns compiled once each: compiling costs far more than matching, and a schema has few.
    private static let patterns = Mutex<[String: Compiled]>([:])

    static func compiled(_ pattern: String) -> Regex<AnyRegexOutput>? {
        patterns.withLock { cache in
            if let known = cache[pattern] { return known.regex }
            let regex = try? Regex(pattern)
            _ = try? regex?.firstMatch(in: "")
            if cache.count > 4096 { cache.removeAll() }  // patterns come from CRDs: a bound, not an expected case
            cache[pattern] = Compiled(regex: regex)
            return regex
        }
    }
}

extension Schema {
    /// Fills in defaults for absent fields, recursively (as the API server does before validation).
    /// A `null` where the schema does not allow one (not `nullable`) counts as absent, as in
    /// apiextensions' defaulting: it takes the default, or is dropped when there is none.
    public func applyingDefaults(to value: JSON) -> JSON {
        switch value {
        case .object(var object):
            for (name, schema) in properties {
                if object[name] == .null && !schema.nullable { object[name] = nil }
                if object[name] == nil, let d = schema.defaultValue { object[name] = d }
                if let child = object[name] { object[name] = schema.applyingDefaults(to: child) }
            }
            if let valueSchema = additionalProperties {
                for key in object.keys {
                    guard let child = object[key] else { continue }
                    if child == .null && !valueSchema.nullable {
                        object[key] = valueSchema.defaultValue.map { valueSchema.applyingDefaults(to: $0) }
                    } else {
                        object[key] = valueSchema.applyingDefaults(to: child)
                    }
                }
            }
            return .object(object)
        case .array(let items):
            guard let items = self.items.map({ s in items.map { s.applyingDefaults(to: $0) } }) else { return value }
            return .array(items)
        default:
            return value
        }
    }

    /// Drops fields the schema does not name (unless it preserves unknown fields); returns the
    /// pruned value and the paths it dropped.
    public func pruning(_ value: JSON, at path: String = "") -> (JSON, dropped: [String]) {
        switch value {
        case .object(var object):
            if preserveUnknownFields && properties.isEmpty && additionalProperties == nil { return (value, []) }
            if type == nil && properties.isEmpty && additionalProperties == nil { return (value, []) }
            var dropped: [String] = []
            for key in object.keys {
                let child = object[key]!
                let childPath = SchemaValidator.join(path, key)
                if let schema = property(key) {
                    let (pruned, d) = schema.pruning(child, at: childPath)
                    object[key] = pruned
                    dropped += d
                } else if let schema = additionalProperties {
                    let (pruned, d) = schema.pruning(child, at: "\(path)[\(key)]")
                    object[key] = pruned
                    dropped += d
                } else if !preserveUnknownFields && !(embeddedResource && ["apiVersion", "kind", "metadata"].contains(key)) {
                    object[key] = nil
                    dropped.append(childPath)
                }
            }
            return (.object(object), dropped)
        case .array(let array):
            guard let items else { return (value, []) }
            var dropped: [String] = []
            let pruned = array.enumerated().map { i, item in
                let (p, d) = items.pruning(item, at: "\(path)[\(i)]")
                dropped += d
                return p
            }
            return (.array(pruned), dropped)
        default:
            return (value, [])
        }
    }

    /// Every node of the schema with its path, for checks that walk the whole tree.
    public func walk(_ path: String = "", _ visit: (String, Schema) -> Void) {
        visit(path, self)
        for (name, schema) in properties { schema.walk(SchemaValidator.join(path, name), visit) }
        items?.walk("\(path)[*]", visit)
        additionalProperties?.walk("\(path)[*]", visit)
    }
}
