import Foundation
import StructuralSchema
import YAML

/// What distinguishes one custom resource kind: names, spec and status types, schema, columns
/// and the rules a schema cannot express.
public protocol ResourceKind: Sendable {
    associatedtype Spec: Codable & Sendable & Equatable
    associatedtype Status: Codable & Sendable & Equatable

    static var group: String { get }
    static var kind: String { get }
    static var plural: String { get }
    static var shortNames: [String] { get }
    static var description: String { get }
    static var specSchema: Schema { get }
    static var statusSchema: Schema { get }
    static var printerColumns: [PrinterColumn] { get }
    /// Rules beyond the schema (checksums, cross-field contradictions), with field paths.
    static func semanticErrors(_ spec: Spec) -> [FieldError]
}

extension ResourceKind {
    public static var version: String { "v1alpha1" }
    public static var apiVersion: String { "\(group)/\(version)" }
    public static var singular: String { kind.lowercased() }
    public static var crdName: String { "\(plural).\(group)" }
}

/// A custom resource: the Kubernetes envelope around a kind's spec and status.
public struct Resource<Kind: ResourceKind>: Codable, Sendable, Equatable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Kind.Spec
    public var status: Kind.Status?

    public init(metadata: ObjectMeta, spec: Kind.Spec, status: Kind.Status? = nil) {
        apiVersion = Kind.apiVersion
        kind = Kind.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// The whole object schema (`openAPIV3Schema`).
    public static var schema: Schema {
        Schema.object(
            Kind.description, required: ["spec"],
            [
                "apiVersion": .string("APIVersion defines the versioned schema of this representation of an object."),
                "kind": .string("Kind is a string value representing the REST resource this object represents."),
                "metadata": Schema(type: "object"),
                "spec": Kind.specSchema,
                "status": Kind.statusSchema,
            ])
    }

    /// Every rule the CRD states plus the semantic ones, as field errors. Empty means valid.
    public func validate() -> [FieldError] {
        var errors: [FieldError] = []
        if apiVersion != Kind.apiVersion { errors.append(FieldError(.invalid, "apiVersion", "Invalid value: \"\(apiVersion)\": must be \(Kind.apiVersion)")) }
        if kind != Kind.kind { errors.append(FieldError(.invalid, "kind", "Invalid value: \"\(kind)\": must be \(Kind.kind)")) }
        guard let specJSON = try? JSON.encode(spec) else { return errors + [FieldError(.invalid, "spec", "cannot be encoded")] }
        errors += Self.validate(specJSON: specJSON)
        return errors
    }

    /// Validates a spec in its JSON form: the schema (with defaults applied, as the API server
    /// would), then, if that passes, the semantic rules.
    public static func validate(specJSON: JSON) -> [FieldError] {
        let defaulted = Kind.specSchema.applyingDefaults(to: specJSON)
        let errors = SchemaValidator(rejectUnknown: true).validate(defaulted, Kind.specSchema, at: "spec")
        guard errors.isEmpty else { return errors }
        guard let spec = try? defaulted.decode(Kind.Spec.self) else {
            return [FieldError(.invalid, "spec", "does not decode as a \(Kind.kind) spec")]
        }
        return Kind.semanticErrors(spec)
    }

    /// Reads an object (JSON or YAML already parsed) as this kind; errors name the field.
    public static func decode(_ value: JSON) throws(ResourceDecodingError) -> Resource<Kind> {
        do { return try value.decode(Resource<Kind>.self) } catch {
            throw ResourceDecodingError(kind: Kind.kind, message: "\(error)")
        }
    }
}

public struct ResourceDecodingError: Error, Sendable, CustomStringConvertible {
    public var kind: String
    public var message: String
    public var description: String { "not a valid \(kind): \(message)" }
}
