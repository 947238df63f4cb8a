import YAML

/// A kind of object the API serves, as it appears in URLs.
public struct GroupVersionResource: Sendable, Hashable, CustomStringConvertible {
    /// "" for the core group.
    public var group: String
    public var version: String
    /// The plural, lower-case name: `configmaps`, `trafficpolicies`.
    public var resource: String
    public var namespaced: Bool

    public init(group: String, version: String, resource: String, namespaced: Bool = true) {
        self.group = group
        self.version = version
        self.resource = resource
        self.namespaced = namespaced
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var description: String { group.isEmpty ? "\(resource).\(version)" : "\(resource).\(version).\(group)" }

    /// `/api/v1/namespaces/ns/configmaps/name/status` and the like.
    public func path(namespace: String? = nil, name: String? = nil, subresource: String? = nil) -> String {
        var p = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { p += "/namespaces/\(namespace.pathEscaped)" }
        p += "/\(resource)"
        if let name { p += "/\(name.pathEscaped)" }
        if let subresource { p += "/\(subresource)" }
        return p
    }

    public static let namespaces = GroupVersionResource(group: "", version: "v1", resource: "namespaces", namespaced: false)
    public static let services = GroupVersionResource(group: "", version: "v1", resource: "services")
    public static let configMaps = GroupVersionResource(group: "", version: "v1", resource: "configmaps")
    public static let secrets = GroupVersionResource(group: "", version: "v1", resource: "secrets")
    public static let pods = GroupVersionResource(group: "", version: "v1", resource: "pods")
    public static let coreEvents = GroupVersionResource(group: "", version: "v1", resource: "events")
    public static let events = GroupVersionResource(group: "events.k8s.io", version: "v1", resource: "events")
    public static let jobs = GroupVersionResource(group: "batch", version: "v1", resource: "jobs")
    public static let leases = GroupVersionResource(group: "coordination.k8s.io", version: "v1", resource: "leases")
    public static let endpointSlices = GroupVersionResource(group: "discovery.k8s.io", version: "v1", resource: "endpointslices")
    public static let customResourceDefinitions = GroupVersionResource(
        group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions", namespaced: false)
}

extension String {
    /// Percent-encodes everything but RFC 3986 unreserved characters.
    var queryEscaped: String {
        var out = ""
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }

    var pathEscaped: String { queryEscaped.replacingOccurrences(of: "%3A", with: ":") }

    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// Options of list and watch requests.
public struct ListOptions: Sendable, Equatable {
    public var labelSelector: String?
    public var fieldSelector: String?
    public var limit: Int?
    public var continueToken: String?
    public var resourceVersion: String?
    /// "NotOlderThan" or "Exact", with `resourceVersion`.
    public var resourceVersionMatch: String?

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil,
                continueToken: String? = nil, resourceVersion: String? = nil, resourceVersionMatch: String? = nil) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
        self.resourceVersion = resourceVersion
        self.resourceVersionMatch = resourceVersionMatch
    }

    var query: [(String, String)] {
        var q: [(String, String)] = []
        if let labelSelector { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector { q.append(("fieldSelector", fieldSelector)) }
        if let limit { q.append(("limit", String(limit))) }
        if let continueToken { q.append(("continue", continueToken)) }
        if let resourceVersion { q.append(("resourceVersion", resourceVersion)) }
        if let resourceVersionMatch { q.append(("resourceVersionMatch", resourceVersionMatch)) }
        return q
    }
}

/// Options of a watch.
public struct WatchOptions: Sendable, Equatable {
    public var labelSelector: String?
    public var fieldSelector: String?
    /// Start after this version; nil starts with synthetic ADDED events for what exists.
    public var resourceVersion: String?
    public var allowWatchBookmarks: Bool
    /// The server ends the watch after this long.
    public var timeoutSeconds: Int?

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, resourceVersion: String? = nil,
                allowWatchBookmarks: Bool = true, timeoutSeconds: Int? = nil) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.resourceVersion = resourceVersion
        self.allowWatchBookmarks = allowWatchBookmarks
        self.timeoutSeconds = timeoutSeconds
    }

    var query: [(String, String)] {
        var q: [(String, String)] = [("watch", "true")]
        if let labelSelector { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector { q.append(("fieldSelector", fieldSelector)) }
        if let resourceVersion { q.append(("resourceVersion", resourceVersion)) }
        if allowWatchBookmarks { q.append(("allowWatchBookmarks", "true")) }
        if let timeoutSeconds { q.append(("timeoutSeconds", String(timeoutSeconds))) }
        return q
    }
}

/// A patch and its media type.
public enum Patch: Sendable {
    /// RFC 7386 JSON merge patch.
    case merge(JSON)
    /// RFC 6902 JSON patch: a list of operations.
    case json([JSON])
    /// Server-side apply: the fields this manager owns, as a whole object.
    case apply(JSON, fieldManager: String, force: Bool = false)

    var contentType: String {
        switch self {
        case .merge: "application/merge-patch+json"
        case .json: "application/json-patch+json"
        case .apply: "application/apply-patch+yaml"
        }
    }
}

/// How a delete proceeds.
public struct DeleteOptions: Sendable, Equatable {
    public enum Propagation: String, Sendable { case foreground = "Foreground", background = "Background", orphan = "Orphan" }

    public var propagationPolicy: Propagation?
    /// Delete only if the object still has this uid / resourceVersion.
    public var preconditionUID: String?
    public var preconditionResourceVersion: String?
    public var gracePeriodSeconds: Int?

    public init(propagationPolicy: Propagation? = nil, preconditionUID: String? = nil,
                preconditionResourceVersion: String? = nil, gracePeriodSeconds: Int? = nil) {
        self.propagationPolicy = propagationPolicy
        self.preconditionUID = preconditionUID
        self.preconditionResourceVersion = preconditionResourceVersion
        self.gracePeriodSeconds = gracePeriodSeconds
    }

    var body: JSON {
        var o: JSON = ["kind": "DeleteOptions", "apiVersion": "v1"]
        if let propagationPolicy { o["propagationPolicy"] = .string(propagationPolicy.rawValue) }
        if let gracePeriodSeconds { o["gracePeriodSeconds"] = .int(Int64(gracePeriodSeconds)) }
        if preconditionUID != nil || preconditionResourceVersion != nil {
            var p: JSON = [:]
            if let preconditionUID { p["uid"] = .string(preconditionUID) }
            if let preconditionResourceVersion { p["resourceVersion"] = .string(preconditionResourceVersion) }
            o["preconditions"] = p
        }
        return o
    }
}
