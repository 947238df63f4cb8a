import Foundation

import YAML

struct PatchError: Error { let message: String }

enum Patches {
    /// RFC 7386: objects merge, `null` deletes, everything else replaces.
    static func merge(_ target: JSON, _ patch: JSON) -> JSON {
        guard case .object(let p) = patch else { return patch }
        var result = target.objectValue ?? JSONObject()
        for (key, value) in p {
            if value == .null { result[key] = nil } else { result[key] = merge(result[key] ?? .null, value) }
        }
        return .object(result)
    }

    /// RFC 6902 operations: add, remove, replace, move, copy, test.
    static func json(_ target: JSON, _ operations: JSON) throws(PatchError) -> JSON {
        guard let ops = operations.arrayValue else { throw PatchError(message: "a JSON patch is a list of operations") }
        var doc = target
        for (i, op) in ops.enumerated() {
            guard let name = op["op"]?.stringValue, let path = op["path"]?.stringValue else {
                throw PatchError(message: "operation \(i) needs op and path")
            }
            let pointer = try Self.pointer(path)
            switch name {
            case "add": doc = try set(doc, pointer, op["value"] ?? .null, insert: true)
            case "replace":
                guard get(doc, pointer) != nil else { throw PatchError(message: "replace: \(path) does not exist") }
                doc = try set(doc, pointer, op["value"] ?? .null, insert: false)
            case "remove": doc = try remove(doc, pointer)
            case "move", "copy":
                guard let from = op["from"]?.stringValue, let value = get(doc, try Self.pointer(from)) else {
                    throw PatchError(message: "\(name): from does not exist")
                }
                if name == "move" { doc = try remove(doc, try Self.pointer(from)) }
                doc = try set(doc, pointer, value, insert: true)
            case "test":
                guard get(doc, pointer) == (op["value"] ?? .null) else { throw PatchError(message: "test failed at \(path)") }
            default:
                throw PatchError(message: "unknown operation \"\(name)\"")
            }
        }
        return doc
    }

    static func pointer(_ path: String) throws(PatchError) -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw PatchError(message: "\"\(path)\" is not a JSON pointer") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func get(_ doc: JSON, _ pointer: [String]) -> JSON? {
        var current: JSON? = doc
        for token in pointer {
            switch current {
            case .object(let o)?: current = o[token]
            case .array(let a)?: current = Int(token).flatMap { a.indices.contains($0) ? a[$0] : nil }
            default: return nil
            }
        }
        return current
    }

    static func set(_ doc: JSON, _ pointer: [String], _ value: JSON, insert: Bool) throws(PatchError) -> JSON {
        guard let token = pointer.first else { return value }
        let rest = Array(pointer.dropFirst())
        switch doc {
        case .object(var o):
            if rest.isEmpty { o[token] = value } else {
                guard let child = o[token] else { throw PatchError(message: "path /\(pointer.joined(separator: "/")) does not exist") }
                o[token] = try set(child, rest, value, insert: insert)
            }
            return .object(o)
        case .array(var a):
            let index = token == "-" ? a.count : (Int(token) ?? -1)
            if rest.isEmpty {
                guard index >= 0, index <= a.count else { throw PatchError(message: "index \(token) out of range") }
                if insert { a.insert(value, at: index) } else {
                    guard index < a.count else { throw PatchError(message: "index \(token) out of range") }
                    a[index] = value
                }
            } else {
                guard a.indices.contains(index) else { throw PatchError(message: "index \(token) out of range") }
                a[index] = try set(a[index], rest, value, insert: insert)
            }
            return .array(a)
        default:
            throw PatchError(message: "cannot descend into a \(doc.typeName)")
        }
    }

    static func remove(_ doc: JSON, _ pointer: [String]) throws(PatchError) -> JSON {
        guard let token = pointer.first else { throw PatchError(message: "cannot remove the whole document") }
        let rest = Array(pointer.dropFirst())
        switch doc {
        case .object(var o):
            guard let child = o[token] else { throw PatchError(message: "remove: /\(pointer.joined(separator: "/")) does not exist") }
            o[token] = rest.isEmpty ? nil : try remove(child, rest)
            return .object(o)
        case .array(var a):
            guard let index = Int(token), a.indices.contains(index) else { throw PatchError(message: "index \(token) out of range") }
            if rest.isEmpty { a.remove(at: index) } else { a[index] = try remove(a[index], rest) }
            return .array(a)
        default:
            throw PatchError(message: "cannot descend into a \(doc.typeName)")
        }
    }

    /// Keys that identify list elements for strategic merge (the built-in types' merge keys).
    static let mergeKeys = ["name", "port", "containerPort", "mountPath", "devicePath", "ip", "type", "topologyKey"]

    /// Strategic merge patch, the subset `kubectl apply` sends for built-in kinds: objects merge
    /// like a merge patch; lists of objects merge by their key (`name`, `port`, ...), with
    /// `$patch: delete` entries and `$setElementOrder/<field>` honoured; other lists replace;
    /// `$retainKeys` and `$deleteFromPrimitiveList/<field>` are applied.
    static func strategic(_ target: JSON, _ patch: JSON) -> JSON {
        guard case .object(let p) = patch else { return patch }
        if p["$patch"]?.stringValue == "replace" {
            var replaced = p
            replaced["$patch"] = nil
            return .object(replaced)
        }
        var result = target.objectValue ?? JSONObject()
        var orders: [String: [JSON]] = [:]
        for (key, value) in p {
            if key == "$retainKeys" {
                let keep = Set((value.arrayValue ?? []).compactMap(\.stringValue))
                for k in result.keys where !keep.contains(k) && p[k] == nil { result[k] = nil }
            } else if key.hasPrefix("$setElementOrder/") {
                orders[String(key.dropFirst("$setElementOrder/".count))] = value.arrayValue ?? []
            } else if key.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(key.dropFirst("$deleteFromPrimitiveList/".count))
                let drop = Set(value.arrayValue ?? [])
                if let list = result[field]?.arrayValue { result[field] = .array(list.filter { !drop.contains($0) }) }
            } else if key.hasPrefix("$") {
                continue
            } else if value == .null {
                result[key] = nil
            } else if case .array(let items) = value, let current = result[key]?.arrayValue,
                      let mergeKey = mergeKey(items + current) {
                result[key] = .array(mergeList(current, items, by: mergeKey))
            } else if case .object = value {
                result[key] = strategic(result[key] ?? .null, value)
            } else {
                result[key] = value
            }
        }
        for (field, order) in orders {
            guard let list = result[field]?.arrayValue, let mergeKey = mergeKey(order + list) else { continue }
            let wanted = order.compactMap { $0[mergeKey] }
            let ordered = wanted.compactMap { k in list.first { $0[mergeKey] == k } }
            let rest = list.filter { item in !wanted.contains { $0 == item[mergeKey] } }
            result[field] = .array(ordered + rest)
        }
        return .object(result)
    }

    private static func mergeKey(_ items: [JSON]) -> String? {
        guard !items.isEmpty, items.allSatisfy({ $0.objectValue != nil }) else { return nil }
        return mergeKeys.first { k in items.allSatisfy { $0[k] != nil || $0["$patch"] != nil } }
    }

    private static func mergeList(_ current: [JSON], _ patch: [JSON], by key: String) -> [JSON] {
        var result = current
        for item in patch {
            let id = item[key]
            let index = result.firstIndex { $0[key] == id }
            if item["$patch"]?.stringValue == "delete" {
                if let index { result.remove(at: index) }
            } else if let index {
                result[index] = strategic(result[index], item)
            } else {
                result.append(strategic(.null, item))
            }
        }
        return result
    }
}
