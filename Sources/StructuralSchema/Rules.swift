import CEL
import YAML

/// One `x-kubernetes-validations` rule compiled against the type of the node that declares it.
public struct CompiledRule: Sendable {
    public let rule: Schema.Rule
    /// The rule, or why it does not compile (cel-go's wording).
    public let program: Result<CELProgram, CELError>
    /// The `messageExpression`, when there is one, or why it does not compile.
    public let messageProgram: Result<CELProgram, CELError>?

    init(_ rule: Schema.Rule, selfType: CELType) {
        self.rule = rule
        let variables: [String: CELType] = ["self": selfType, "oldSelf": selfType]
        program = Result(catching: { () throws(CELError) -> CELProgram in
            let p = try CELProgram.compile(rule.rule, variables: variables)
            guard p.resultType == .bool || p.resultType == .dyn else {
                throw CELError("rule must evaluate to a bool, not \(p.resultType)")
            }
            return p
        })
        messageProgram = rule.messageExpression.map { source in
            Result(catching: { () throws(CELError) -> CELProgram in
                let p = try CELProgram.compile(source, variables: variables)
                guard p.resultType == .string || p.resultType == .dyn else {
                    throw CELError("messageExpression must evaluate to a string, not \(p.resultType)")
                }
                return p
            })
        }
    }

    /// A transition rule: it compares with `oldSelf`, so it runs only on updates.
    public var isTransition: Bool { (try? program.get())?.references("oldSelf") ?? false }
}

extension Schema {
    /// What `self` is for CEL at a node of this shape: objects with their fields (open with
    /// `x-kubernetes-preserve-unknown-fields`), maps, lists, scalars; int-or-string is `dyn`.
    static func celType(type: String?, properties: [(name: String, schema: Schema)], items: Schema?, additionalProperties: Schema?,
                        preserveUnknownFields: Bool, intOrString: Bool) -> CELType {
        if intOrString { return .dyn }
        switch type {
        case "string": return .string
        case "integer": return .int
        case "number": return .double
        case "boolean": return .bool
        case "array": return .list(items?.celType ?? .dyn)
        case "object":
            if let additionalProperties { return .map(.string, additionalProperties.celType) }
            if properties.isEmpty && preserveUnknownFields { return .dyn }
            var fields: [String: CELType] = [:]
            for (name, schema) in properties {
                // The root's metadata: rules see only name and generateName.
                if name == "metadata", schema.properties.isEmpty, schema.type == "object" {
                    fields[name] = .object(name: "metadata", fields: ["name": .string, "generateName": .string], open: false)
                } else {
                    fields[name] = schema.celType
                }
            }
            return .object(name: "object", fields: fields, open: preserveUnknownFields)
        default:
            return .dyn
        }
    }

    /// The rules of this schema (every node) that cannot be compiled, or that use `oldSelf`
    /// where no old value can be matched up (inside a list that is not `x-kubernetes-list-type:
    /// map`), as field errors on the CRD: `path` is where this schema sits in it, e.g.
    /// `spec.versions[0].schema.openAPIV3Schema`.
    public func ruleErrors(at path: String) -> [FieldError] {
        var errors: [FieldError] = []
        collectRuleErrors(path, correlatable: true, &errors)
        return errors
    }

    private func collectRuleErrors(_ path: String, correlatable: Bool, _ errors: inout [FieldError]) {
        for (i, compiled) in compiledRules.enumerated() {
            let rulePath = "\(path).x-kubernetes-validations[\(i)]"
            switch compiled.program {
            case .failure(let error):
                errors.append(FieldError(.invalid, "\(rulePath).rule", "Invalid value: \(SchemaValidator.quote(.string(compiled.rule.rule))): compilation failed: \(error.message)"))
            case .success(let program):
                if program.references("oldSelf") && !correlatable {
                    errors.append(FieldError(.invalid, "\(rulePath).rule",
                                             "Invalid value: \(SchemaValidator.quote(.string(compiled.rule.rule))): oldSelf cannot be used on the uncorrelatable portion of the schema within \(path)"))
                }
            }
            if case .failure(let error)? = compiled.messageProgram {
                errors.append(FieldError(.invalid, "\(rulePath).messageExpression",
                                         "Invalid value: \(SchemaValidator.quote(.string(compiled.rule.messageExpression ?? ""))): messageExpression compilation failed: \(error.message)"))
            }
            if let reason = compiled.rule.reason, !["FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"].contains(reason) {
                errors.append(FieldError(.notSupported, "\(rulePath).reason",
                                         "Unsupported value: \"\(reason)\": supported values: \"FieldValueDuplicate\", \"FieldValueForbidden\", \"FieldValueInvalid\", \"FieldValueRequired\""))
            }
            if let fieldPath = compiled.rule.fieldPath, resolve(fieldPath) == nil {
                errors.append(FieldError(.invalid, "\(rulePath).fieldPath", "Invalid value: \"\(fieldPath)\": fieldPath must be a valid path"))
            }
        }
        for (name, child) in properties { child.collectRuleErrors("\(path).properties[\(name)]", correlatable: correlatable, &errors) }
        items?.collectRuleErrors("\(path).items", correlatable: correlatable && listType == "map", &errors)
        additionalProperties?.collectRuleErrors("\(path).additionalProperties", correlatable: correlatable, &errors)
    }

    /// `.a.b` or `.a['b']` under this node, as the path an error is reported at (`a.b`).
    func resolve(_ fieldPath: String) -> String? {
        var node: Schema = self
        var out: [String] = []
        var rest = Substring(fieldPath)
        while !rest.isEmpty {
            var name: Substring
            if rest.hasPrefix("['") {
                guard let close = rest.range(of: "']") else { return nil }
                name = rest[rest.index(rest.startIndex, offsetBy: 2)..<close.lowerBound]
                rest = rest[close.upperBound...]
            } else if rest.hasPrefix(".") {
                rest = rest.dropFirst()
                name = rest.prefix { $0 != "." && $0 != "[" }
                rest = rest.dropFirst(name.count)
            } else {
                return nil
            }
            guard !name.isEmpty else { return nil }
            if let child = node.property(String(name)) { node = child } else if let values = node.additionalProperties { node = values } else { return nil }
            out.append(String(name))
        }
        return out.joined(separator: ".")
    }

    /// Applies every `x-kubernetes-validations` rule in the tree to `value` (already defaulted
    /// and pruned), as the API server does. `old` is the stored object on updates: transition
    /// rules (`oldSelf`) run only where an old value matches up (object fields, map keys, items
    /// of `x-kubernetes-list-type: map` lists by their keys). Errors carry the field path and the
    /// real server's wording: `spec.rules[0]: Invalid value: "object": <message>`.
    public func validateRules(_ value: JSON, old: JSON?, at path: String, budget: Int = 10_000_000) -> [FieldError] {
        var errors: [FieldError] = []
        var remaining = budget
        walkRules(value, old, path, &remaining, &errors)
        return errors
    }

    private func walkRules(_ value: JSON, _ old: JSON?, _ path: String, _ budget: inout Int, _ errors: inout [FieldError]) {
        guard budget > 0, value != .null else { return }
        if !compiledRules.isEmpty { evaluateRules(value, old, path, &budget, &errors) }
        switch value {
        case .object(let object):
            if let values = additionalProperties {
                for (key, child) in object { values.walkRules(child, old?[key], "\(path)[\(key)]", &budget, &errors) }
            } else {
                for (name, child) in properties {
                    guard let v = object[name] else { continue }
                    child.walkRules(v, old?[name], SchemaValidator.join(path, name), &budget, &errors)
                }
            }
        case .array(let list):
            guard let items else { return }
            let oldItems = listType == "map" ? (old?.arrayValue ?? []) : []
            let keys = listMapKeys ?? []
            for (i, item) in list.enumerated() {
                let match = keys.isEmpty ? nil : oldItems.first { o in keys.allSatisfy { o[$0] == item[$0] } }
                items.walkRules(item, match, "\(path)[\(i)]", &budget, &errors)
            }
        default:
            break
        }
    }

    private func evaluateRules(_ value: JSON, _ old: JSON?, _ path: String, _ budget: inout Int, _ errors: inout [FieldError]) {
        let selfValue = CELValue(json: value, type: celType)
        let oldValue = old.map { CELValue(json: $0, type: celType) }
        let shownType = type ?? "object"
        for compiled in compiledRules {
            guard case .success(let program) = compiled.program else { continue }
            let transition = program.references("oldSelf")
            if transition && oldValue == nil { continue }
            var variables: [String: CELValue] = ["self": selfValue]
            if let oldValue { variables["oldSelf"] = oldValue }
            let rule = compiled.rule
            let rulePath = rule.fieldPath.flatMap { resolve($0) }.map { SchemaValidator.join(path, $0) } ?? path
            let ruleText = rule.message.isEmpty ? rule.rule.trimmingSpaces : rule.message.trimmingSpaces
            let limit = min(budget, 1_000_000)
            do {
                let result = try program.evaluate(variables, budget: limit)
                budget -= limit / 100
                guard case .bool(let ok) = result else {
                    errors.append(FieldError(.invalid, rulePath, "Invalid value: \"\(shownType)\": rule did not evaluate to a bool: \(ruleText)"))
                    continue
                }
                if ok { continue }
                errors.append(Self.failure(rule, compiled.messageProgram, variables, rulePath, shownType))
            } catch {
                if error == .costExceeded {
                    errors.append(FieldError(.invalid, rulePath, "Invalid value: \"\(shownType)\": '\(error.message)': no further validation rules will be run due to call cost exceeds limit for rule: \(ruleText)"))
                    budget = 0
                    return
                }
                if error.message.hasPrefix("no such overload") {
                    errors.append(FieldError(.invalid, rulePath, "Invalid value: \"\(shownType)\": '\(error.message)': call arguments did not match a supported operator, function or macro signature for rule: \(ruleText)"))
                } else {
                    errors.append(FieldError(.invalid, rulePath, "Invalid value: \"\(shownType)\": \(error.message) evaluating rule: \(ruleText)"))
                }
            }
        }
    }

    /// The error for a rule that evaluated to false: the message expression's result when it
    /// gives a non-empty string, else `message`, else `failed rule: <rule>`; shaped by `reason`.
    private static func failure(_ rule: Rule, _ messageProgram: Result<CELProgram, CELError>?, _ variables: [String: CELValue],
                                _ path: String, _ shownType: String) -> FieldError {
        var message = rule.message.isEmpty ? "failed rule: \(rule.rule.trimmingSpaces)" : rule.message
        if case .success(let program)? = messageProgram, case .string(let text)? = try? program.evaluate(variables, budget: 100_000),
           !text.trimmingSpaces.isEmpty, !text.contains("\n") {
            message = text
        }
        switch rule.reason {
        case "FieldValueForbidden": return FieldError(.forbidden, path, "Forbidden: \(message)")
        case "FieldValueRequired": return FieldError(.required, path, "Required value: \(message)")
        case "FieldValueDuplicate": return FieldError(.duplicate, path, "Duplicate value: \"\(shownType)\"")
        default: return FieldError(.invalid, path, "Invalid value: \"\(shownType)\": \(message)")
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
