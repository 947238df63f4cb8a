import YAML

/// Discovery documents (`/api`, `/apis`, resource lists), `/version`, and the OpenAPI v3 index
/// kubectl reads to learn that the server validates fields itself (`fieldValidation`).
enum Discovery {
    static func version() -> JSON {
        ["major": "1", "minor": "32", "gitVersion": "v1.32.0-lucid", "gitCommit": "embedded", "gitTreeState": "clean",
         "buildDate": "2026-01-01T00:00:00Z", "goVersion": "swift6", "compiler": "swift", "platform": "linux/amd64"]
    }

    static func coreVersions(address: String) -> JSON {
        ["kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(address)]]]
    }

    static func groupVersions(_ types: [ResourceType]) -> [(group: String, versions: [String])] {
        var order: [String] = []
        var versions: [String: [String]] = [:]
        for t in types where !t.group.isEmpty {
            if versions[t.group] == nil { order.append(t.group) }
            if !(versions[t.group] ?? []).contains(t.version) { versions[t.group, default: []].append(t.version) }
        }
        return order.map { ($0, versions[$0]!) }
    }

    static func group(_ name: String, _ versions: [String]) -> JSON {
        let list: [JSON] = versions.map { ["groupVersion": .string("\(name)/\($0)"), "version": .string($0)] }
        return ["kind": "APIGroup", "apiVersion": "v1", "name": .string(name), "versions": .array(list), "preferredVersion": list[0]]
    }

    static func groups(_ types: [ResourceType]) -> JSON {
        var groups: [JSON] = []
        for (name, versions) in groupVersions(types) {
            var g = group(name, versions)
            g["kind"] = nil
            g["apiVersion"] = nil
            groups.append(g)
        }
        return ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups)]
    }

    static func resources(_ groupVersion: String, _ types: [ResourceType]) -> JSON {
        let entries = types.filter { $0.groupVersion == groupVersion }.sorted { $0.resource < $1.resource }.flatMap(\.discoveryEntries)
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(groupVersion), "resources": .array(entries)]
    }

    static func openAPIIndex(_ types: [ResourceType], revision: UInt64) -> JSON {
        var paths = JSONObject()
        for gv in Set(types.map { $0.group.isEmpty ? "api/\($0.version)" : "apis/\($0.group)/\($0.version)" }).sorted() {
            paths[gv] = ["serverRelativeURL": .string("/openapi/v3/\(gv)?hash=\(revision)")]
        }
        return ["paths": .object(paths)]
    }
}
