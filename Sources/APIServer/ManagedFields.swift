import StructuralSchema
import YAML

/// A set of field paths, as a managedFields entry's `fieldsV1` holds it: `f:<field>`,
/// `k:{<keys>}` (an item of an associative list), `v:<value>` (an item of a set), and `.` for
/// a node that is itself in the set besides some of its children.
struct FieldSet: Equatable, Sendable {
    var member = false
    var children: [String: FieldSet] = [:]

    static let leaf = FieldSet(member: true)

    var isEmpty: Bool { !member && children.isEmpty }

    init(member: Bool = false, children: [String: FieldSet] = [:]) {
        self.member = member
        self.children = children
    }

    init(fieldsV1 json: JSON) {
        guard let o = json.objectValue else { return }
        if o.isEmpty { member = true; return }
        for (k, v) in o {
            if k == "." { member = true } else { children[k] = FieldSet(fieldsV1: v) }
        }
    }

    var fieldsV1: JSON {
        var o = JSONObject()
        if member && !children.isEmpty { o["."] = [:] }
        for k in children.keys.sorted() where !children[k]!.isEmpty { o[k] = children[k]!.fieldsV1 }
        return .object(o)
    }

    func union(_ other: FieldSet) -> FieldSet {
        var out = self
        out.member = member || other.member
        for (k, v) in other.children { out.children[k] = (children[k] ?? FieldSet()).union(v) }
        return out
    }

    func subtracting(_ other: FieldSet) -> FieldSet {
        var out = self
        if other.member && other.children.isEmpty { out.member = false }
        for (k, v) in other.children {
            guard let mine = out.children[k] else { continue }
            let rest = mine.subtracting(v)
            out.children[k] = rest.isEmpty ? nil : rest
        }
        // A node whose every child went loses itself only when it was removed as a whole.
        return out
    }

    func contains(_ path: [String]) -> Bool {
        guard let first = path.first else { return member }
        return children[first]?.contains(Array(path.dropFirst())) ?? false
    }

    /// Every path in the set (nodes that are members).
    func paths(_ prefix: [String] = []) -> [[String]] {
        var out: [[String]] = member ? [prefix] : []
        for k in children.keys.sorted() { out += children[k]!.paths(prefix + [k]) }
        return out
    }

    /// Whether anything at or under `path` is in the set.
    func touches(_ path: [String]) -> Bool {
        guard let first = path.first else { return !isEmpty }
        return children[first]?.touches(Array(path.dropFirst())) ?? false
    }
}

/// How lists and maps merge at a path: what the schema (CRDs) or the Go types (built-ins) say.
struct FieldTyping: Sendable {
    enum ListKind: Equatable, Sendable { case atomic, set, map([String]) }
    var list: @Sendable ([String]) -> ListKind
    var atomicObject: @Sendable ([String]) -> Bool

    static func forType(_ rt: ResourceType) -> FieldTyping {
        if let schema = rt.schema {
            return FieldTyping(
                list: { path in
                    guard let node = schemaNode(schema, path) else { return .atomic }
                    switch node.listType {
                    case "set": return .set
                    case "map": return .map(node.listMapKeys ?? [])
                    default: return .atomic
                    }
                },
                atomicObject: { path in schemaNode(schema, path)?.preserveUnknownFields == true && schemaNode(schema, path)?.properties.isEmpty == true })
        }
        guard let message = KubeTypes.message(apiVersion: rt.apiVersion, kind: rt.kind)?.name else {
            return FieldTyping(list: { _ in .atomic }, atomicObject: { _ in false })
        }
        return FieldTyping(
            list: { path in
                guard let f = KubeTypes.field(message, path[...]) else { return .atomic }
                if f.listType == "set" { return .set }
                if f.listType == "map" { return .map(f.listMapKeys) }
                if f.listType == "atomic" { return .atomic }
                if let key = f.patchMergeKey, f.patchStrategy?.contains("merge") == true { return f.isMessage ? .map([key]) : .set }
                return .atomic
            },
            atomicObject: { path in
                guard let f = KubeTypes.field(message, path[...]) else { return false }
                return f.atomicMap || (f.isMessage && KubeTypes.messages[f.type]?.atomic == true) || KubeTypes.special.contains(f.type)
            })
    }

    private static func schemaNode(_ schema: Schema, _ path: [String]) -> Schema? {
        var node = schema
        for name in path {
            if let child = node.property(name) { node = child } else if let values = node.additionalProperties { node = values }
            else if let items = node.items, let child = items.property(name) { node = child } else { return nil }
        }
        return node
    }
}

/// Server-side apply and managedFields, modelled on structured-merge-diff: per manager and
/// operation a field set; `Apply` merges the applied configuration, refuses to change fields
/// other managers own (409 naming them) unless forced, and removes fields the manager no
/// longer applies when nobody else owns them; every other write records an `Update` entry for
/// what it changed and takes those fields from the others.
enum ManagedFields {
    struct Entry: Sendable, Equatable {
        var manager: String
        var operation: String
        var apiVersion: String
        var time: String
        var subresource: String?
        var fields: FieldSet

        init(manager: String, operation: String, apiVersion: String, time: String, subresource: String?, fields: FieldSet) {
            self.manager = manager
            self.operation = operation
            self.apiVersion = apiVersion
            self.time = time
            self.subresource = subresource
            self.fields = fields
        }

        init?(_ json: JSON) {
            guard let manager = json["manager"]?.stringValue, let operation = json["operation"]?.stringValue else { return nil }
            self.init(manager: manager, operation: operation, apiVersion: json["apiVersion"]?.stringValue ?? "", time: json["time"]?.stringValue ?? "",
                      subresource: json["subresource"]?.stringValue, fields: FieldSet(fieldsV1: json["fieldsV1"] ?? [:]))
        }

        var json: JSON {
            var o: JSON = ["apiVersion": .string(apiVersion), "fieldsType": "FieldsV1", "fieldsV1": fields.fieldsV1,
                           "manager": .string(manager), "operation": .string(operation)]
            if let subresource { o["subresource"] = .string(subresource) }
            o["time"] = .string(time)
            return o
        }

        func same(_ manager: String, _ operation: String, _ subresource: String?) -> Bool {
            self.manager == manager && self.operation == operation && self.subresource == subresource
        }
    }

    struct Conflict: Error { var conflicts: [(manager: String, path: String)] }

    static func entries(_ object: JSON) -> [Entry] {
        (object[path: "metadata", "managedFields"]?.arrayValue ?? []).compactMap(Entry.init)
    }

    static func store(_ entries: [Entry], in object: inout JSON) {
        let kept = entries.filter { !$0.fields.isEmpty }
        object["metadata"]?["managedFields"] = kept.isEmpty ? nil : .array(kept.map(\.json))
    }

    /// The manager a write without `fieldManager` is recorded under: the User-Agent up to its first `/`.
    static func manager(_ options: WriteOptions) -> String {
        if let m = options.fieldManager, !m.isEmpty { return m }
        let agent = options.agent.split(separator: "/").first.map(String.init) ?? ""
        return agent.isEmpty ? "unknown" : agent
    }

    /// What a write may own: everything but the identity and server-set metadata, apiVersion
    /// and kind, and (through the main resource of a kind with a status subresource) status;
    /// through /status, only status.
    static func trackable(_ object: JSON, rt: ResourceType, subresource: String?) -> JSON {
        guard var o = object.objectValue else { return object }
        o["apiVersion"] = nil
        o["kind"] = nil
        if subresource == "status" {
            var only = JSONObject()
            only["status"] = o["status"]
            return .object(only)
        }
        if rt.hasStatus { o["status"] = nil }
        if var meta = o["metadata"]?.objectValue {
            for k in ["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "managedFields", "selfLink", "generateName"] { meta[k] = nil }
            o["metadata"] = meta.isEmpty ? nil : .object(meta)
        }
        return .object(o)
    }

    // MARK: field sets of values

    static func fieldSet(_ value: JSON, _ path: [String], _ typing: FieldTyping) -> FieldSet {
        switch value {
        case .object(let o):
            if o.isEmpty || typing.atomicObject(path) { return .leaf }
            var fs = FieldSet()
            for (k, v) in o { fs.children["f:\(k)"] = fieldSet(v, path + [k], typing) }
            return fs
        case .array(let items):
            switch typing.list(path) {
            case .atomic: return .leaf
            case .set:
                var fs = FieldSet()
                for item in items { fs.children["v:\(item.jsonText)"] = .leaf }
                return fs
            case .map(let keys):
                var fs = FieldSet()
                for item in items {
                    var element = fieldSet(item, path, typing)
                    element.member = true
                    fs.children[itemKey(item, keys)] = element
                }
                return fs
            }
        default:
            return .leaf
        }
    }

    /// `k:{"port":80,"protocol":"TCP"}`.
    static func itemKey(_ item: JSON, _ keys: [String]) -> String {
        var o = JSONObject()
        for k in keys.sorted() { if let v = item[k] { o[k] = v } }
        return "k:" + JSON.object(o).jsonText
    }

    /// The fields an update from `old` to `new` set or changed, and those it removed.
    static func diff(_ old: JSON?, _ new: JSON?, _ path: [String], _ typing: FieldTyping) -> (changed: FieldSet, removed: FieldSet) {
        switch (old, new) {
        case (nil, nil): return (FieldSet(), FieldSet())
        case (nil, let n?):
            var fs = fieldSet(n, path, typing)
            if case .object = n { fs.member = true }
            return (fs, FieldSet())
        case (let o?, nil): return (FieldSet(), fieldSet(o, path, typing).union(.leaf))
        case (.object(let a)?, .object(let b)?) where !typing.atomicObject(path) && !(a.isEmpty && b.isEmpty):
            var changed = FieldSet(), removed = FieldSet()
            for k in Set(a.keys).union(b.keys) {
                let (c, r) = diff(a[k], b[k], path + [k], typing)
                if !c.isEmpty { changed.children["f:\(k)"] = c }
                if !r.isEmpty { removed.children["f:\(k)"] = r }
            }
            return (changed, removed)
        case (.array(let a)?, .array(let b)?):
            switch typing.list(path) {
            case .atomic: return a == b ? (FieldSet(), FieldSet()) : (.leaf, FieldSet())
            case .set:
                var changed = FieldSet(), removed = FieldSet()
                for item in b where !a.contains(item) { changed.children["v:\(item.jsonText)"] = .leaf }
                for item in a where !b.contains(item) { removed.children["v:\(item.jsonText)"] = .leaf }
                return (changed, removed)
            case .map(let keys):
                var changed = FieldSet(), removed = FieldSet()
                let before = Dictionary(a.map { (itemKey($0, keys), $0) }, uniquingKeysWith: { x, _ in x })
                let after = Dictionary(b.map { (itemKey($0, keys), $0) }, uniquingKeysWith: { x, _ in x })
                for (k, item) in after {
                    var (c, _) = diff(before[k], item, path, typing)
                    if before[k] == nil { c.member = true }
                    if !c.isEmpty { changed.children[k] = c }
                }
                for (k, item) in before where after[k] == nil {
                    var r = fieldSet(item, path, typing)
                    r.member = true
                    removed.children[k] = r
                }
                for (k, item) in after {
                    guard let was = before[k] else { continue }
                    let (_, r) = diff(was, item, path, typing)
                    if !r.isEmpty { removed.children[k] = r }
                }
                return (changed, removed)
            }
        case (let o?, let n?):
            return o == n ? (FieldSet(), FieldSet()) : (.leaf, FieldSet())
        }
    }

    // MARK: values at paths

    static func value(_ object: JSON, _ path: [String]) -> JSON? {
        var current: JSON? = object
        for element in path {
            guard let c = current else { return nil }
            if element.hasPrefix("f:") {
                current = c[String(element.dropFirst(2))]
            } else if element.hasPrefix("k:"), let key = try? JSON.parse(String(element.dropFirst(2))), let keys = key.objectValue {
                current = c.arrayValue?.first { item in keys.allSatisfy { item[$0.key] == $0.value } }
            } else if element.hasPrefix("v:"), let v = try? JSON.parse(String(element.dropFirst(2))) {
                current = c.arrayValue?.contains(v) == true ? v : nil
            } else {
                return nil
            }
        }
        return current
    }

    static func removing(_ object: JSON, _ path: [String]) -> JSON {
        guard let first = path.first else { return object }
        let rest = Array(path.dropFirst())
        switch object {
        case .object(var o) where first.hasPrefix("f:"):
            let key = String(first.dropFirst(2))
            if rest.isEmpty { o[key] = nil } else if let child = o[key] { o[key] = removing(child, rest) }
            return .object(o)
        case .array(var items):
            guard let index = items.firstIndex(where: { matches($0, first) }) else { return object }
            if rest.isEmpty { items.remove(at: index) } else { items[index] = removing(items[index], rest) }
            return .array(items)
        default:
            return object
        }
    }

    private static func matches(_ item: JSON, _ element: String) -> Bool {
        if element.hasPrefix("k:"), let key = try? JSON.parse(String(element.dropFirst(2))), let keys = key.objectValue {
            return keys.allSatisfy { item[$0.key] == $0.value }
        }
        if element.hasPrefix("v:"), let v = try? JSON.parse(String(element.dropFirst(2))) { return item == v }
        return false
    }

    /// `.spec.ports[port=80,protocol="TCP"].targetPort`, as conflicts name fields.
    static func display(_ path: [String]) -> String {
        path.map { element -> String in
            if element.hasPrefix("f:") { return "." + element.dropFirst(2) }
            if element.hasPrefix("k:"), let key = try? JSON.parse(String(element.dropFirst(2))), let o = key.objectValue {
                return "[" + o.keys.sorted().map { "\($0)=\(o[$0]!.jsonText)" }.joined(separator: ",") + "]"
            }
            if element.hasPrefix("v:") { return "[=\(element.dropFirst(2))]" }
            return element
        }.joined()
    }

    // MARK: apply

    /// Merges an applied configuration into the live object: objects field by field,
    /// associative lists item by item (by their keys), sets by value, atomic lists and scalars
    /// replaced.
    static func merge(_ live: JSON?, _ config: JSON, _ path: [String], _ typing: FieldTyping) -> JSON {
        switch (live, config) {
        case (.object(var l)?, .object(let c)) where !typing.atomicObject(path):
            for (k, v) in c { l[k] = merge(l[k], v, path + [k], typing) }
            return .object(l)
        case (.array(let l)?, .array(let c)):
            switch typing.list(path) {
            case .atomic: return config
            case .set: return .array(c + l.filter { !c.contains($0) })
            case .map(let keys):
                var result = l
                for item in c {
                    let k = itemKey(item, keys)
                    if let i = result.firstIndex(where: { itemKey($0, keys) == k }) { result[i] = merge(result[i], item, path, typing) } else { result.append(item) }
                }
                return .array(result)
            }
        default:
            return config
        }
    }

    /// Applies `config` for `manager`: the merged object and the new entries, or the conflicts.
    static func apply(live: JSON, config: JSON, manager: String, force: Bool, rt: ResourceType, subresource: String?,
                      now: String) throws(Conflict) -> (JSON, [Entry]) {
        let typing = FieldTyping.forType(rt)
        var entries = entries(live)
        let tracked = trackable(config, rt: rt, subresource: subresource)
        let applied = fieldSet(tracked, [], typing)
        let liveTracked = trackable(live, rt: rt, subresource: subresource)
        // Conflicts: leaves this apply would change that another manager owns.
        var conflicts: [(String, [String])] = []
        for path in applied.paths() {
            guard let current = value(liveTracked, path), let wanted = value(tracked, path), current != wanted else { continue }
            if case .object = wanted, !(wanted.objectValue?.isEmpty ?? true) { continue }
            if case .array = wanted, typing.list(fieldNames(path)) != .atomic { continue }
            for e in entries where !e.same(manager, "Apply", subresource) && e.fields.contains(path) { conflicts.append((e.manager, path)) }
        }
        if !conflicts.isEmpty && !force {
            throw Conflict(conflicts: conflicts.map { ($0.0, display($0.1)) })
        }
        var taken = FieldSet()
        for (_, path) in conflicts { taken = taken.union(single(path)) }
        for i in entries.indices where !entries[i].same(manager, "Apply", subresource) { entries[i].fields = entries[i].fields.subtracting(taken) }

        var merged = merge(live, config, [], typing)
        // Fields this manager applied before and applies no more go, when nobody else owns them.
        let previous = entries.first { $0.same(manager, "Apply", subresource) }?.fields ?? FieldSet()
        let others = entries.filter { !$0.same(manager, "Apply", subresource) }.reduce(FieldSet()) { $0.union($1.fields) }
        for path in previous.paths().reversed() where !applied.contains(path) && !applied.touches(path) && !others.touches(path) {
            merged = removing(merged, path)
        }
        if let i = entries.firstIndex(where: { $0.same(manager, "Apply", subresource) }) {
            if entries[i].fields != applied { entries[i].fields = applied; entries[i].time = now; entries[i].apiVersion = rt.apiVersion }
        } else {
            entries.append(Entry(manager: manager, operation: "Apply", apiVersion: rt.apiVersion, time: now, subresource: subresource, fields: applied))
        }
        return (merged, entries)
    }

    /// The entries after a non-apply write from `old` to `new` by `manager`.
    static func update(old: JSON?, new: JSON, manager: String, rt: ResourceType, subresource: String?, now: String) -> [Entry] {
        let typing = FieldTyping.forType(rt)
        var entries = old.map(entries) ?? []
        let before = old.map { trackable($0, rt: rt, subresource: subresource) }
        let after = trackable(new, rt: rt, subresource: subresource)
        let (changed, removed) = diff(before, after, [], typing)
        if changed.isEmpty && removed.isEmpty { return entries }
        for i in entries.indices where !entries[i].same(manager, "Update", subresource) {
            entries[i].fields = entries[i].fields.subtracting(changed).subtracting(removed)
        }
        var mine = changed
        mine.member = false
        if let i = entries.firstIndex(where: { $0.same(manager, "Update", subresource) }) {
            entries[i].fields = entries[i].fields.subtracting(removed).union(mine)
            entries[i].time = now
        } else {
            entries.append(Entry(manager: manager, operation: "Update", apiVersion: rt.apiVersion, time: now, subresource: subresource, fields: mine))
        }
        return entries
    }

    private static func single(_ path: [String]) -> FieldSet {
        guard let first = path.first else { return .leaf }
        return FieldSet(children: [first: single(Array(path.dropFirst()))])
    }

    /// The field names along a path (list keys dropped), for the typing lookups.
    static func fieldNames(_ path: [String]) -> [String] {
        path.compactMap { $0.hasPrefix("f:") ? String($0.dropFirst(2)) : nil }
    }
}
