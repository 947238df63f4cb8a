import StructuralSchema
import YAML

/// A refusal, as the API server words it: an HTTP code and a `Status` body.
struct APIError: Error, Sendable {
    var code: Int
    var reason: String
    var message: String
    var details: JSON?

    var status: JSON {
        var s: JSON = ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
                       "message": .string(message), "reason": .string(reason), "code": .int(Int64(code))]
        if let details { s["details"] = details }
        return s
    }

    static func notFound(_ type: ResourceType, _ name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(type.resource)\(type.group.isEmpty ? "" : ".\(type.group)") \"\(name)\" not found",
                 details: ["name": .string(name), "group": .string(type.group), "kind": .string(type.resource)])
    }

    static func alreadyExists(_ type: ResourceType, _ name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(type.resource)\(type.group.isEmpty ? "" : ".\(type.group)") \"\(name)\" already exists",
                 details: ["name": .string(name), "group": .string(type.group), "kind": .string(type.resource)])
    }

    static func conflict(_ type: ResourceType, _ name: String) -> APIError {
        APIError(code: 409, reason: "Conflict",
                 message: "Operation cannot be fulfilled on \(type.resource)\(type.group.isEmpty ? "" : ".\(type.group)") \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
                 details: ["name": .string(name), "group": .string(type.group), "kind": .string(type.resource)])
    }

    static func invalid(_ type: ResourceType, _ name: String, _ errors: [FieldError]) -> APIError {
        let list = errors.map(\.description)
        let joined = list.count == 1 ? list[0] : "[" + list.joined(separator: ", ") + "]"
        let qualified = type.group.isEmpty ? type.kind : "\(type.kind).\(type.group)"
        return APIError(
            code: 422, reason: "Invalid", message: "\(qualified) \"\(name)\" is invalid: \(joined)",
            details: ["name": .string(name), "group": .string(type.group), "kind": .string(type.kind),
                      "causes": .array(errors.map { ["reason": .string($0.kind.rawValue), "message": .string($0.detail), "field": .string($0.field)] })])
    }

    /// 409 for a server-side apply that would change fields other managers own, naming them.
    static func applyConflict(_ conflicts: [(manager: String, path: String)], apiVersion: String) -> APIError {
        var order: [String] = []
        var byManager: [String: [String]] = [:]
        for c in conflicts {
            if byManager[c.manager] == nil { order.append(c.manager) }
            byManager[c.manager, default: []].append(c.path)
        }
        let message: String
        if conflicts.count == 1, let c = conflicts.first {
            message = "Apply failed with 1 conflict: conflict with \"\(c.manager)\" using \(apiVersion): \(c.path)"
        } else {
            message = "Apply failed with \(conflicts.count) conflicts: " + order.map { m in
                "conflicts with \"\(m)\" using \(apiVersion):\n" + byManager[m]!.map { "- \($0)" }.joined(separator: "\n")
            }.joined(separator: "\n")
        }
        let causes: [JSON] = conflicts.map {
            ["reason": "FieldManagerConflict", "message": .string("conflict with \"\($0.manager)\" using \(apiVersion)"), "field": .string($0.path)]
        }
        return APIError(code: 409, reason: "Conflict", message: message, details: ["causes": .array(causes)])
    }

    static func badRequest(_ message: String) -> APIError { APIError(code: 400, reason: "BadRequest", message: message) }

    static func gone(_ message: String) -> APIError { APIError(code: 410, reason: "Expired", message: message) }
}

