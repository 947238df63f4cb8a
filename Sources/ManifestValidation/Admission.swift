import StructuralSchema
import YAML

/// A custom resource admitted offline as the API server admits it on create with
/// `fieldValidation=Strict` (kubectl's default): unknown fields refused (the root's
/// `apiVersion`, `kind` and `metadata` are always allowed), then pruning and defaults, the
/// structural schema, and the CEL rules unless a schema error blocks them. Where the server
/// stops at the first failing step, this reports every step, so one run shows everything.
enum Admission {
    struct Outcome {
        /// Unknown fields and schema errors, then rule errors; field paths from the object's root.
        var schemaErrors: [FieldError]
        var ruleErrors: [FieldError]
        /// A type, required, enum or size error kept the CEL rules from running (as on the server).
        var rulesSkipped: Bool
        /// The object pruned and defaulted, with its root fields: what the cluster would store.
        var admitted: JSON
    }

    /// Schema errors that keep the server from evaluating CEL (apiextensions' `hasBlockingErr`).
    static let blocking: Set<FieldError.Kind> = [.notSupported, .required, .tooLong, .tooMany, .typeInvalid]

    static func admit(_ object: JSON, as kind: CustomKind) -> Outcome {
        let schema = kind.schema
        var body = object
        for root in ["apiVersion", "kind"] where schema.property(root) == nil { body[root] = nil }
        body["metadata"] = nil
        if kind.hasStatus { body["status"] = nil }

        var schemaErrors = SchemaValidator(rejectUnknown: true).validate(body, schema, at: "").filter { $0.kind == .unknown }
        var value = schema.applyingDefaults(to: schema.pruning(body).0)
        schemaErrors += SchemaValidator().validate(value, schema, at: "")

        let skipped = schemaErrors.contains { blocking.contains($0.kind) }
        var ruleErrors: [FieldError] = []
        if !skipped {
            var view = value
            var metadata = JSONObject()
            for key in ["name", "generateName"] { if let v = object[path: "metadata", key] { metadata[key] = v } }
            view["metadata"] = .object(metadata)
            ruleErrors = schema.validateRules(view, old: nil, at: "")
        }

        var admitted = JSONObject()
        for root in ["apiVersion", "kind", "metadata"] { if let v = object[root] { admitted[root] = v } }
        for (key, v) in value.objectValue ?? JSONObject() where admitted[key] == nil { admitted[key] = v }
        value = .object(admitted)
        return Outcome(schemaErrors: schemaErrors, ruleErrors: ruleErrors, rulesSkipped: skipped, admitted: value)
    }

    /// The server's note when a blocking error kept the rules from running.
    static let rulesSkippedMessage = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"
}
