import Foundation
import YAML

/// `meta.k8s.io/v1` Table responses, for `kubectl get`: a Name column, the CRD's printer
/// columns (or a few per built-in kind), dates shown as ages.
enum Tables {
    static func columns(_ rt: ResourceType) -> [JSON] {
        if rt.crdName == nil {
            return builtIn(rt).map { c in
                var d: JSON = ["name": .string(c.name), "type": .string(c.type), "format": .string(c.format), "description": .string(c.description),
                               "priority": .int(Int64(c.priority))]
                if c.format.isEmpty { d["format"] = "" }
                return d
            }
        }
        var columns: [JSON] = [["name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0]]
        for c in rt.printerColumns {
            columns.append(["name": c["name"] ?? "", "type": c["type"] ?? "string", "format": c["format"] ?? "",
                            "description": c["description"] ?? "", "priority": c["priority"] ?? 0])
        }
        if !rt.printerColumns.contains(where: { $0["jsonPath"]?.stringValue == ".metadata.creationTimestamp" }) {
            columns.append(age)
        }
        return columns
    }

    static let age: JSON = ["name": "Age", "type": "date", "format": "", "description": "Time since the object was created.", "priority": 0]

    static func row(_ rt: ResourceType, _ object: JSON, now: Date) -> JSON {
        var cells: [JSON]
        if rt.crdName != nil {
            cells = [object[path: "metadata", "name"] ?? ""]
            for c in rt.printerColumns {
                cells.append(cell(object, c["jsonPath"]?.stringValue ?? "", type: c["type"]?.stringValue ?? "string", now: now))
            }
            if !rt.printerColumns.contains(where: { $0["jsonPath"]?.stringValue == ".metadata.creationTimestamp" }) {
                cells.append(cell(object, ".metadata.creationTimestamp", type: "date", now: now))
            }
        } else {
            cells = builtIn(rt).map { $0.value(object, now) }
        }
        var meta = object["metadata"] ?? [:]
        meta["managedFields"] = nil
        return ["cells": .array(cells), "object": ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta]]
    }

    static func table(_ rt: ResourceType, _ objects: [JSON], resourceVersion: String, continueToken: String? = nil) -> JSON {
        let now = Date()
        var meta: JSON = ["resourceVersion": .string(resourceVersion)]
        if let continueToken { meta["continue"] = .string(continueToken) }
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                "columnDefinitions": .array(columns(rt)), "rows": .array(objects.map { row(rt, $0, now: now) })]
    }

    static func cell(_ object: JSON, _ path: String, type: String, now: Date) -> JSON {
        let values = JSONPath.evaluate(path, object)
        guard let first = values.first else { return "<none>" }
        if type == "date", let text = first.stringValue, let date = ISO8601DateFormatter().date(from: text) {
            return .string(humanAge(now.timeIntervalSince(date)))
        }
        if values.count > 1 { return .string(values.map { $0.stringValue ?? $0.jsonText }.joined(separator: ",")) }
        return first
    }

    /// kubectl's short durations: 45s, 5m30s, 17m, 3h5m, 20h, 4d.
    static func humanAge(_ interval: TimeInterval) -> String {
        let s = max(0, Int(interval))
        if s < 120 { return "\(s)s" }
        let m = s / 60
        if m < 10 { return s % 60 == 0 ? "\(m)m" : "\(m)m\(s % 60)s" }
        if m < 180 { return "\(m)m" }
        let h = m / 60
        if h < 8 { return m % 60 == 0 ? "\(h)h" : "\(h)h\(m % 60)m" }
        if h < 48 { return "\(h)h" }
        return "\(h / 24)d"
    }
}

/// The JSONPath subset printer columns use: `.a.b`, `[0]`, `[*]`, `[?(@.k=="v")]`.
enum JSONPath {
    static func evaluate(_ path: String, _ root: JSON) -> [JSON] {
        var current = [root]
        var rest = Substring(path.hasPrefix("{") ? String(path.dropFirst().dropLast()) : path)
        while !rest.isEmpty {
            if rest.hasPrefix(".") {
                rest = rest.dropFirst()
                let name = rest.prefix { $0 != "." && $0 != "[" }
                rest = rest.dropFirst(name.count)
                if name.isEmpty { continue }
                current = current.compactMap { $0[String(name)] }
            } else if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { return [] }
                let inside = rest[rest.index(after: rest.startIndex)..<close]
                rest = rest[rest.index(after: close)...]
                if inside == "*" {
                    current = current.flatMap { $0.arrayValue ?? $0.objectValue.map { Array($0.map(\.value)) } ?? [] }
                } else if let i = Int(inside) {
                    current = current.compactMap { value in
                        guard let a = value.arrayValue else { return nil }
                        let index = i >= 0 ? i : a.count + i  // negative indexes count from the end
                        return a.indices.contains(index) ? a[index] : nil
                    }
                } else if inside.hasPrefix("?(@."), inside.hasSuffix(")") {
                    let condition = inside.dropFirst(4).dropLast()
                    let parts = condition.components(separatedBy: "==")
                    guard parts.count == 2 else { return [] }
                    let key = parts[0].trimmingCharacters(in: .whitespaces)
                    let value = parts[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                    current = current.flatMap { ($0.arrayValue ?? []).filter { item in
                        let v = key.split(separator: ".").reduce(Optional(item)) { $0?[String($1)] }
                        return v?.stringValue == value || v.map { $0.jsonText } == value
                    } }
                } else {
                    return []
                }
            } else {
                return []
            }
        }
        return current
    }
}
