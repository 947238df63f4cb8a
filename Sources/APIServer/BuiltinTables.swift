import Foundation
import YAML

/// The columns a real server prints for the built-in kinds (k8s.io/kubernetes
/// `pkg/printers/internalversion`), with what each cell shows. Priority-1 columns appear with
/// `-o wide`.
struct BuiltinColumn: Sendable {
    var name: String
    var type = "string"
    var format = ""
    var priority = 0
    var description = ""
    var value: @Sendable (JSON, Date) -> JSON
}

extension Tables {
    static func builtIn(_ rt: ResourceType) -> [BuiltinColumn] {
        let name = BuiltinColumn(name: "Name", format: "name", description: "Name must be unique within a namespace.") { o, _ in o[path: "metadata", "name"] ?? "" }
        let age = BuiltinColumn(name: "Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created.") { o, now in
            .string(since(o[path: "metadata", "creationTimestamp"]?.stringValue, now))
        }
        func text(_ column: String, priority: Int = 0, _ f: @escaping @Sendable (JSON) -> String) -> BuiltinColumn {
            BuiltinColumn(name: column, priority: priority) { o, _ in .string(f(o)) }
        }
        func number(_ column: String, _ f: @escaping @Sendable (JSON) -> Int64) -> BuiltinColumn {
            BuiltinColumn(name: column, type: "integer") { o, _ in .int(f(o)) }
        }
        switch (rt.group, rt.resource) {
        case ("", "namespaces"):
            return [name, text("Status") { $0[path: "status", "phase"]?.stringValue ?? "Active" }, age]
        case ("", "services"):
            return [name, text("Type") { $0[path: "spec", "type"]?.stringValue ?? "ClusterIP" },
                    text("Cluster-IP") { s in
                        let ip = s[path: "spec", "clusterIP"]?.stringValue ?? ""
                        return ip.isEmpty ? "<none>" : ip
                    },
                    text("External-IP", externalIPs), text("Port(s)", servicePorts), age,
                    text("Selector", priority: 1) { formatLabels($0[path: "spec", "selector"]) }]
        case ("", "configmaps"):
            return [name, number("Data") { Int64(($0["data"]?.objectValue?.count ?? 0) + ($0["binaryData"]?.objectValue?.count ?? 0)) }, age]
        case ("", "secrets"):
            return [name, text("Type") { $0["type"]?.stringValue ?? "" }, number("Data") { Int64($0["data"]?.objectValue?.count ?? 0) }, age]
        case ("", "serviceaccounts"):
            return [name, number("Secrets") { Int64($0["secrets"]?.arrayValue?.count ?? 0) }, age]
        case ("", "pods"):
            return [name,
                    text("Ready") { p in
                        let statuses = p[path: "status", "containerStatuses"]?.arrayValue ?? []
                        let ready = statuses.filter { $0["ready"]?.boolValue == true }.count
                        return "\(ready)/\(p[path: "spec", "containers"]?.arrayValue?.count ?? 0)"
                    },
                    text("Status") { p in
                        if p[path: "metadata", "deletionTimestamp"] != nil { return "Terminating" }
                        return p[path: "status", "reason"]?.stringValue ?? p[path: "status", "phase"]?.stringValue ?? "Pending"
                    },
                    BuiltinColumn(name: "Restarts", type: "string") { p, _ in
                        .string(String((p[path: "status", "containerStatuses"]?.arrayValue ?? []).reduce(0) { $0 + ($1["restartCount"]?.intValue ?? 0) }))
                    },
                    age,
                    text("IP", priority: 1) { $0[path: "status", "podIP"]?.stringValue ?? "<none>" },
                    text("Node", priority: 1) { $0[path: "spec", "nodeName"]?.stringValue ?? "<none>" },
                    text("Nominated Node", priority: 1) { $0[path: "status", "nominatedNodeName"]?.stringValue ?? "<none>" },
                    text("Readiness Gates", priority: 1) { p in
                        let gates = p[path: "spec", "readinessGates"]?.arrayValue ?? []
                        return gates.isEmpty ? "<none>" : "0/\(gates.count)"
                    }]
        case ("", "events"), ("events.k8s.io", "events"):
            return eventColumns
        case ("batch", "jobs"):
            return [name, text("Status", jobStatus),
                    text("Completions") { j in
                        let succeeded = j[path: "status", "succeeded"]?.intValue ?? 0
                        if let completions = j[path: "spec", "completions"]?.intValue { return "\(succeeded)/\(completions)" }
                        let parallelism = j[path: "spec", "parallelism"]?.intValue ?? 1
                        return parallelism > 1 ? "\(succeeded)/1 of \(parallelism)" : "\(succeeded)/1"
                    },
                    BuiltinColumn(name: "Duration") { j, now in
                        guard let start = date(j[path: "status", "startTime"]?.stringValue) else { return "" }
                        let end = date(j[path: "status", "completionTime"]?.stringValue) ?? now
                        return .string(humanAge(end.timeIntervalSince(start)))
                    },
                    age,
                    text("Containers", priority: 1) { names($0[path: "spec", "template", "spec", "containers"], "name") },
                    text("Images", priority: 1) { names($0[path: "spec", "template", "spec", "containers"], "image") },
                    text("Selector", priority: 1) { formatSelector($0[path: "spec", "selector"]) }]
        case ("coordination.k8s.io", "leases"):
            return [name, text("Holder") { $0[path: "spec", "holderIdentity"]?.stringValue ?? "" }, age]
        case ("discovery.k8s.io", "endpointslices"):
            return [name, text("AddressType") { $0["addressType"]?.stringValue ?? "" },
                    text("Ports") { e in
                        let ports = (e["ports"]?.arrayValue ?? []).compactMap { $0["port"]?.intValue.map(String.init) }
                        return ports.isEmpty ? "<unset>" : ports.joined(separator: ",")
                    },
                    text("Endpoints") { e in
                        let addresses = (e["endpoints"]?.arrayValue ?? []).flatMap { ($0["addresses"]?.arrayValue ?? []).compactMap(\.stringValue) }
                        if addresses.isEmpty { return "<unset>" }
                        let shown = addresses.prefix(3).joined(separator: ",")
                        return addresses.count > 3 ? "\(shown) + \(addresses.count - 3) more..." : shown
                    },
                    age]
        case ("networking.k8s.io", "networkpolicies"):
            return [name, text("Pod-Selector") { formatSelector($0[path: "spec", "podSelector"]) }, age]
        case ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "clusterroles"):
            return [name, BuiltinColumn(name: "Created At", type: "date") { o, _ in o[path: "metadata", "creationTimestamp"] ?? "" }]
        case ("rbac.authorization.k8s.io", "rolebindings"), ("rbac.authorization.k8s.io", "clusterrolebindings"):
            func subjects(_ kind: String) -> @Sendable (JSON) -> String {
                { b in
                    (b["subjects"]?.arrayValue ?? []).filter { $0["kind"]?.stringValue == kind }.map { s in
                        let n = s["name"]?.stringValue ?? ""
                        return kind == "ServiceAccount" ? "\(s["namespace"]?.stringValue ?? ""):\(n)" : n
                    }.joined(separator: ", ")
                }
            }
            return [name, text("Role") { "\($0[path: "roleRef", "kind"]?.stringValue ?? "")/\($0[path: "roleRef", "name"]?.stringValue ?? "")" }, age,
                    text("Users", priority: 1, subjects("User")), text("Groups", priority: 1, subjects("Group")),
                    text("ServiceAccounts", priority: 1, subjects("ServiceAccount"))]
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            return [name, BuiltinColumn(name: "Created At", type: "date") { o, _ in o[path: "metadata", "creationTimestamp"] ?? "" }]
        default:
            return [name, age]
        }
    }

    /// Core and events.k8s.io Events print alike (one store): no Name column first.
    static let eventColumns: [BuiltinColumn] = {
        @Sendable func first(_ e: JSON, _ now: Date) -> String {
            if let t = e["firstTimestamp"]?.stringValue { return since(t, now) }
            return since(e["eventTime"]?.stringValue, now)
        }
        @Sendable func last(_ e: JSON, _ now: Date) -> String {
            if let t = e[path: "series", "lastObservedTime"]?.stringValue { return since(t, now) }
            if let t = e["lastTimestamp"]?.stringValue { return since(t, now) }
            return first(e, now)
        }
        return [
            BuiltinColumn(name: "Last Seen") { e, now in .string(last(e, now)) },
            BuiltinColumn(name: "Type") { e, _ in e["type"] ?? "" },
            BuiltinColumn(name: "Reason") { e, _ in e["reason"] ?? "" },
            BuiltinColumn(name: "Object") { e, _ in
                let kind = (e[path: "involvedObject", "kind"]?.stringValue ?? "").lowercased()
                let name = e[path: "involvedObject", "name"]?.stringValue ?? ""
                return .string(name.isEmpty ? kind : "\(kind)/\(name)")
            },
            BuiltinColumn(name: "Subobject", priority: 1) { e, _ in e[path: "involvedObject", "fieldPath"] ?? "" },
            BuiltinColumn(name: "Source", priority: 1) { e, _ in
                let component = e[path: "source", "component"]?.stringValue ?? e["reportingComponent"]?.stringValue ?? ""
                if let host = e[path: "source", "host"]?.stringValue, !host.isEmpty { return .string("\(component), \(host)") }
                return .string(component)
            },
            BuiltinColumn(name: "Message") { e, _ in .string((e["message"]?.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) },
            BuiltinColumn(name: "First Seen", priority: 1) { e, now in .string(first(e, now)) },
            BuiltinColumn(name: "Count", priority: 1) { e, _ in
                .string(String(e[path: "series", "count"]?.intValue ?? e["count"]?.intValue.flatMap { $0 == 0 ? nil : $0 } ?? 1))
            },
            BuiltinColumn(name: "Name", format: "name", priority: 1) { e, _ in e[path: "metadata", "name"] ?? "" },
        ]
    }()

    static func date(_ text: String?) -> Date? {
        guard let text else { return nil }
        let f = ISO8601DateFormatter()
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }

    static func since(_ text: String?, _ now: Date) -> String {
        guard let d = date(text) else { return "<unknown>" }
        return humanAge(now.timeIntervalSince(d))
    }

    static func externalIPs(_ s: JSON) -> String {
        let external = (s[path: "spec", "externalIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        switch s[path: "spec", "type"]?.stringValue ?? "ClusterIP" {
        case "LoadBalancer":
            let ingress = (s[path: "status", "loadBalancer", "ingress"]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue ?? $0["hostname"]?.stringValue }
            let all = ingress + external
            return all.isEmpty ? "<pending>" : all.joined(separator: ",")
        case "ExternalName":
            return s[path: "spec", "externalName"]?.stringValue ?? ""
        default:
            return external.isEmpty ? "<none>" : external.joined(separator: ",")
        }
    }

    static func servicePorts(_ s: JSON) -> String {
        let ports = s[path: "spec", "ports"]?.arrayValue ?? []
        if ports.isEmpty { return "<none>" }
        return ports.map { p in
            let port = p["port"]?.intValue ?? 0
            let proto = p["protocol"]?.stringValue ?? "TCP"
            if let node = p["nodePort"]?.intValue, node > 0 { return "\(port):\(node)/\(proto)" }
            return "\(port)/\(proto)"
        }.joined(separator: ",")
    }

    static func jobStatus(_ j: JSON) -> String {
        let conditions = (j[path: "status", "conditions"]?.arrayValue ?? []).filter { $0["status"]?.stringValue == "True" }
        for type in ["Complete", "Failed"] where conditions.contains(where: { $0["type"]?.stringValue == type }) { return type }
        if conditions.contains(where: { $0["type"]?.stringValue == "Suspended" }) { return "Suspended" }
        if conditions.contains(where: { $0["type"]?.stringValue == "FailureTarget" }) { return "FailureTarget" }
        if conditions.contains(where: { $0["type"]?.stringValue == "SuccessCriteriaMet" }) { return "SuccessCriteriaMet" }
        return "Running"
    }

    /// `a=b,c=d` in key order, or `<none>`.
    static func formatLabels(_ labels: JSON?) -> String {
        guard let o = labels?.objectValue, !o.isEmpty else { return "<none>" }
        return o.keys.sorted().map { "\($0)=\(o[$0]?.stringValue ?? "")" }.joined(separator: ",")
    }

    /// metav1.FormatLabelSelector: `<none>` for an empty selector.
    static func formatSelector(_ selector: JSON?) -> String {
        guard let selector else { return "<none>" }
        var parts: [String] = []
        if let labels = selector["matchLabels"]?.objectValue {
            parts += labels.keys.sorted().map { "\($0)=\(labels[$0]?.stringValue ?? "")" }
        }
        for expr in selector["matchExpressions"]?.arrayValue ?? [] {
            let key = expr["key"]?.stringValue ?? ""
            let values = (expr["values"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ",")
            switch expr["operator"]?.stringValue {
            case "In": parts.append("\(key) in (\(values))")
            case "NotIn": parts.append("\(key) notin (\(values))")
            case "Exists": parts.append(key)
            case "DoesNotExist": parts.append("!\(key)")
            default: break
            }
        }
        return parts.isEmpty ? "<none>" : parts.joined(separator: ",")
    }

    static func names(_ containers: JSON?, _ field: String) -> String {
        (containers?.arrayValue ?? []).compactMap { $0[field]?.stringValue }.joined(separator: ",")
    }
}
