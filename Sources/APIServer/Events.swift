import YAML

/// One Event store behind two APIs, as in a real server: objects are kept in core/v1 form and
/// events.k8s.io/v1 reads and writes are converted (regarding ↔ involvedObject, note ↔ message,
/// reportingController ↔ reportingComponent, deprecatedSource ↔ source, ...).
enum EventConversion {
    /// events.k8s.io/v1 field ↔ core/v1 field.
    static let fields: [(events: String, core: String)] = [
        ("eventTime", "eventTime"), ("series", "series"), ("reportingController", "reportingComponent"),
        ("reportingInstance", "reportingInstance"), ("action", "action"), ("reason", "reason"),
        ("regarding", "involvedObject"), ("related", "related"), ("note", "message"), ("type", "type"),
        ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"),
    ]

    static func isEventsView(_ rt: ResourceType) -> Bool { rt.group == "events.k8s.io" && rt.resource == "events" }

    /// An events.k8s.io/v1 Event as a core/v1 Event.
    static func toCore(_ event: JSON) -> JSON {
        guard event.objectValue != nil else { return event }
        var core: JSON = ["apiVersion": "v1", "kind": "Event"]
        core["metadata"] = event["metadata"]
        for (e, c) in fields { if let v = event[e], v != .null { core[c] = v } }
        return core
    }

    /// A core/v1 Event as an events.k8s.io/v1 Event.
    static func toEvents(_ core: JSON) -> JSON {
        guard core.objectValue != nil else { return core }
        var event: JSON = ["apiVersion": "events.k8s.io/v1", "kind": "Event"]
        event["metadata"] = core["metadata"]
        for (e, c) in fields { if let v = core[c], v != .null { event[e] = v } }
        return event
    }

    /// A field selector written against events.k8s.io/v1 names, in core/v1 names.
    static func coreSelector(_ text: String) -> String {
        text.split(separator: ",", omittingEmptySubsequences: false).map { part -> String in
            for (e, c) in fields where e != c {
                if part.hasPrefix(e + ".") || part.hasPrefix(e + "=") || part.hasPrefix(e + "!") { return c + part.dropFirst(e.count) }
            }
            return String(part)
        }.joined(separator: ",")
    }
}
