import Foundation

/// What a request asks to do, in the terms authorization speaks: kube-apiserver's RequestInfo.
/// Read from the method, path and query alone, before anything is looked up, so a request for a
/// kind the server does not serve is still authorized (and forbidden) the way a real server does it.
public struct RequestAttributes: Sendable, Hashable, CustomStringConvertible {
    /// False for `/version`, `/healthz`, discovery (`/api`, `/apis/<group>/<version>`), OpenAPI.
    public var isResourceRequest: Bool
    /// The request path (non-resource requests are authorized by it).
    public var path: String
    /// get, list, watch, create, update, patch, delete, deletecollection; for non-resource
    /// requests the lower-case HTTP method (get, post, ...).
    public var verb: String
    public var apiGroup = ""
    public var apiVersion = ""
    public var resource = ""
    public var subresource = ""
    public var namespace = ""
    public var name = ""

    public init(isResourceRequest: Bool, path: String, verb: String, apiGroup: String = "", apiVersion: String = "",
                resource: String = "", subresource: String = "", namespace: String = "", name: String = "") {
        self.isResourceRequest = isResourceRequest
        self.path = path
        self.verb = verb
        self.apiGroup = apiGroup
        self.apiVersion = apiVersion
        self.resource = resource
        self.subresource = subresource
        self.namespace = namespace
        self.name = name
    }

    /// A resource request's attributes (for reviews and tests).
    public static func resource(_ verb: String, group: String = "", resource: String, subresource: String = "",
                                namespace: String = "", name: String = "") -> RequestAttributes {
        RequestAttributes(isResourceRequest: true, path: "", verb: verb, apiGroup: group, resource: resource, subresource: subresource,
                          namespace: namespace, name: name)
    }

    /// `resource/subresource`, as RBAC rules name it.
    public var combinedResource: String { subresource.isEmpty ? resource : "\(resource)/\(subresource)" }

    public var description: String {
        guard isResourceRequest else { return "\(verb) \(path)" }
        var text = "\(verb) \(combinedResource)"
        if !apiGroup.isEmpty { text += ".\(apiGroup)" }
        if !name.isEmpty { text += " \"\(name)\"" }
        text += namespace.isEmpty ? " (cluster)" : " in \(namespace)"
        return text
    }

    /// Parses a request as kube-apiserver's RequestInfoFactory does: `/api/v1/...` and
    /// `/apis/<group>/<version>/...` with at least a resource are resource requests; a GET
    /// without a name is a list or (with `watch`) a watch, a DELETE without one a
    /// deletecollection; `namespaces/<ns>/<resource>` sets the namespace (a Namespace's own
    /// path sets it to the namespace's name); a list or watch with the field selector
    /// `metadata.name=<n>` is authorized as being for that name.
    public static func parse(method: String, path: String, query: [String: String]) -> RequestAttributes {
        var attributes = RequestAttributes(isResourceRequest: false, path: path, verb: method.lowercased())
        var parts = path.split(separator: "/").map(String.init)
        guard parts.count >= 3, parts[0] == "api" || parts[0] == "apis" else { return attributes }
        let grouped = parts[0] == "apis"
        parts.removeFirst()
        if grouped {
            guard parts.count >= 3 else { return attributes }
            attributes.apiGroup = parts.removeFirst()
        }
        attributes.isResourceRequest = true
        attributes.apiVersion = parts.removeFirst()
        if parts.first == "watch" || parts.first == "proxy" {
            // The deprecated /watch/ prefix (and /proxy/): the verb is in the path.
            guard parts.count >= 2 else { return attributes }
            attributes.verb = parts.removeFirst()
        } else {
            switch method {
            case "POST": attributes.verb = "create"
            case "GET", "HEAD": attributes.verb = "get"
            case "PUT": attributes.verb = "update"
            case "PATCH": attributes.verb = "patch"
            case "DELETE": attributes.verb = "delete"
            default: attributes.verb = ""
            }
        }
        if parts.first == "namespaces", parts.count > 1 {
            attributes.namespace = parts[1]
            if parts.count > 2, !["status", "finalize"].contains(parts[2]) { parts.removeFirst(2) }
        }
        if parts.count >= 3 && attributes.verb != "proxy" { attributes.subresource = parts[2] }
        if parts.count >= 2 { attributes.name = parts[1] }
        if parts.count >= 1 { attributes.resource = parts[0] }
        if attributes.name.isEmpty && attributes.verb == "get" {
            let watch = query["watch"].map { !["false", "0"].contains($0.lowercased()) } ?? false
            attributes.verb = watch ? "watch" : "list"
            if let selector = query["fieldSelector"], let name = exactName(selector) { attributes.name = name }
        }
        if attributes.name.isEmpty && attributes.verb == "delete" { attributes.verb = "deletecollection" }
        return attributes
    }

    /// The name a field selector requires exactly (`metadata.name=x` or `metadata.name==x`,
    /// possibly among other terms), if it is a valid path segment.
    static func exactName(_ selector: String) -> String? {
        for term in selector.split(separator: ",") {
            let text = String(term)
            for op in ["==", "="] {
                guard let range = text.range(of: op) else { continue }
                let key = text[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
                let value = text[range.upperBound...].trimmingCharacters(in: .whitespaces)
                if key == "metadata.name", !value.isEmpty, value != ".", value != "..",
                   !value.contains("/"), !value.contains("%") {
                    return value
                }
                break
            }
        }
        return nil
    }
}
