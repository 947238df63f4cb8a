import StructuralSchema
import YAML

/// `metav1.ObjectMeta`, the fields the operator reads and writes (`managedFields` is dropped).
public struct ObjectMeta: Codable, Sendable, Equatable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var finalizers: [String]?
    public var ownerReferences: [OwnerReference]?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }
}

public struct OwnerReference: Codable, Sendable, Equatable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = true, blockOwnerDeletion: Bool? = true) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

/// `metav1.Condition`.
public struct Condition: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case `true` = "True", `false` = "False", unknown = "Unknown" }

    public var type: String
    public var status: State
    public var observedGeneration: Int64?
    /// RFC 3339; moves only when `status` flips.
    public var lastTransitionTime: String
    /// CamelCase, stable: what a machine matches on.
    public var reason: String
    /// For a person: what happened and what to fix.
    public var message: String

    public init(type: String, status: State, observedGeneration: Int64?, lastTransitionTime: String, reason: String, message: String) {
        self.type = type
        self.status = status
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = lastTransitionTime
        self.reason = reason
        self.message = message
    }

    static let schema = Schema.object(
        "A metav1.Condition.", required: ["type", "status", "lastTransitionTime", "reason", "message"],
        [
            "type": .string("Ready, Reconciling or Stalled.", pattern: #"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"#, maxLength: 316),
            "status": .string(enum: ["True", "False", "Unknown"]),
            "observedGeneration": .integer(minimum: 0),
            "lastTransitionTime": .string(format: "date-time"),
            "reason": .string(pattern: #"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"#, minLength: 1, maxLength: 1024),
            "message": .string(maxLength: 32768),
        ])

    static let listSchema = Schema(
        type: "array", description: "Current state: Ready, plus Reconciling or Stalled where they apply.",
        items: schema, listType: "map", listMapKeys: ["type"])
}

/// One column of `kubectl get`.
public struct PrinterColumn: Sendable {
    public var name: String
    public var type: String
    public var jsonPath: String
    public var description: String?
    public var priority: Int

    public init(_ name: String, _ type: String, _ jsonPath: String, description: String? = nil, priority: Int = 0) {
        self.name = name
        self.type = type
        self.jsonPath = jsonPath
        self.description = description
        self.priority = priority
    }

    var json: JSON {
        var o: JSON = ["name": .string(name), "type": .string(type), "jsonPath": .string(jsonPath)]
        if let description { o["description"] = .string(description) }
        if priority != 0 { o["priority"] = .int(Int64(priority)) }
        return o
    }

    static let ready = PrinterColumn("Ready", "string", #".status.conditions[?(@.type=="Ready")].status"#, description: "Whether the resource is applied")
    static let age = PrinterColumn("Age", "date", ".metadata.creationTimestamp")
}

/// DNS-1123 label: what Service names are.
let dnsLabelPattern = #"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"#
