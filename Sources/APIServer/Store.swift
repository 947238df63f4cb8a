import Foundation
import StructuralSchema
import Synchronization
import YAML

struct ObjectKey: Hashable, Comparable, Sendable {
    var namespace: String
    var name: String
    static func < (a: ObjectKey, b: ObjectKey) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
}

/// One change, as watchers and the history window hold it. The wire form is made once, by
/// whichever watcher needs it first.
final class ChangeEvent: Sendable {
    let rv: UInt64
    let type: String
    let typeKey: String
    let object: JSON
    /// The object before the change (for selector transitions).
    let previous: JSON?
    private let line = Mutex<[UInt8]?>(nil)
    private let bytes = Mutex<[UInt8]?>(nil)

    init(rv: UInt64, type: String, typeKey: String, object: JSON, previous: JSON?) {
        self.rv = rv
        self.type = type
        self.typeKey = typeKey
        self.object = object
        self.previous = previous
    }

    /// The object's JSON bytes, made once: the latest change of an object also serves gets and
    /// lists of it, so each version of an object is serialized once however often it is read.
    var objectBytes: [UInt8] {
        bytes.withLock { cached in
            if let cached { return cached }
            let out = object.serialized()
            cached = out
            return out
        }
    }

    /// `{"type":...,"object":...}\n`.
    var wireLine: [UInt8] {
        let body = objectBytes
        return line.withLock { cached in
            if let cached { return cached }
            var out = Array(#"{"type":""#.utf8) + Array(type.utf8) + Array(#"","object":"#.utf8)
            out += body
            out += Array("}\n".utf8)
            cached = out
            return out
        }
    }
}

/// What a watch stream carries.
enum WatchItem: Sendable {
    case change(ChangeEvent, type: String)
    case bookmark(UInt64)
    /// An ERROR event (e.g. 410 Expired), after which the watch ends.
    case failure(JSON)
    case end
}

final class Watcher: Sendable {
    let id: Int
    let typeKey: String
    let namespace: String?
    let labels: LabelSelector?
    let fields: FieldSelector?
    let continuation: WatchBuffer

    init(id: Int, typeKey: String, namespace: String?, labels: LabelSelector?, fields: FieldSelector?,
         continuation: WatchBuffer) {
        self.id = id
        self.typeKey = typeKey
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.continuation = continuation
    }

    func selects(_ object: JSON) -> Bool {
        if let namespace, object[path: "metadata", "namespace"]?.stringValue != namespace { return false }
        if let labels, !labels.matches(object[path: "metadata", "labels"]?.objectValue) { return false }
        if let fields, !fields.matches(object) { return false }
        return true
    }

    /// The event this watcher sees for a change, if any: selector transitions become ADDED/DELETED.
    func deliver(_ event: ChangeEvent) {
        guard event.typeKey == typeKey else { return }
        let now = selects(event.object)
        let before = event.previous.map(selects) ?? false
        switch (event.type, before, now) {
        case ("MODIFIED", true, true), ("ADDED", _, true), ("DELETED", _, true):
            continuation.yield(.change(event, type: event.type))
        case ("MODIFIED", false, true):
            continuation.yield(.change(event, type: "ADDED"))
        case ("MODIFIED", true, false):
            continuation.yield(.change(event, type: "DELETED"))
        default:
            break
        }
    }
}

/// Counts of writes the server accepted, by verb: what "an idle operator writes nothing" is measured by.
public struct WriteCounts: Sendable, Equatable {
    public var byVerb: [String: Int] = [:]
    public var byResource: [String: Int] = [:]
    /// By the client's User-Agent (what tells replicas apart).
    public var byAgent: [String: Int] = [:]
    public var total: Int { byVerb.values.reduce(0, +) }
}

/// The server's state: every object, one resourceVersion counter, the recent history, the
/// watchers. All of it behind one lock; events reach watchers inside it, so each watcher sees
/// changes in resourceVersion order.
final class Store: Sendable {
    struct State {
        var rv: UInt64 = 1
        var types: [String: ResourceType] = [:]
        var objects: [String: [ObjectKey: JSON]] = [:]
        var history: [ChangeEvent] = []
        /// Each stored object's latest change (its cached wire form), by type and key.
        var latest: [String: [ObjectKey: ChangeEvent]] = [:]
        var historyHead = 0
        var watchers: [Int: Watcher] = [:]
        var nextWatcherID = 1
        var dependents: [String: Set<DependentRef>] = [:]
        var writes = WriteCounts()
        var nextClusterIP = 10
        var nextNodePort: Int64 = 30000
        /// Namespaces being deleted, whose last object's removal lets them go.
        var terminating: Set<String> = []
        /// Bumped by every change to a Role, ClusterRole or binding (the authorizer's cache key).
        var rbacVersion: UInt64 = 0
    }

    struct DependentRef: Hashable, Sendable {
        var typeKey: String
        var key: ObjectKey
    }

    let state = Mutex(State())
    let historyLimit: Int

    init(historyLimit: Int) {
        self.historyLimit = historyLimit
        state.withLock { s in
            for t in ResourceType.builtIns { s.types[t.key] = t }
            for ns in ["default", "kube-system", "kube-public"] {
                _ = try? s.create(ResourceType.builtIns[0], namespace: nil, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]],
                                  options: WriteOptions(), historyLimit: historyLimit)
            }
            s.writes = WriteCounts()
        }
    }
}

struct WriteOptions: Sendable {
    var agent = ""
    var strictFields = false
    var dryRun = false
    var fieldManager: String?
    /// managedFields computed by server-side apply; other writes record an Update entry.
    var managedFields: [ManagedFields.Entry]?
    /// A last check of the object about to be stored (RBAC escalation prevention): its refusal.
    var admit: (@Sendable (ResourceType, JSON) -> APIError?)?
}

extension Store.State {
    // MARK: types

    func type(group: String, version: String, resource: String) -> ResourceType? { types["\(group)/\(version)/\(resource)"] }

    var now: String { Timestamp.now() }

    // MARK: reads

    func get(_ type: ResourceType, namespace: String?, name: String) throws(APIError) -> JSON {
        guard let object = objects[type.key]?[ObjectKey(namespace: namespace ?? "", name: name)] else {
            throw APIError.notFound(type, name)
        }
        return object
    }

    /// Objects in key order after `after`, at most `limit`; the list's resourceVersion.
    func list(_ type: ResourceType, namespace: String?, labels: LabelSelector?, fields: FieldSelector?,
              limit: Int?, after: ObjectKey?) -> (items: [JSON], rv: UInt64, next: ObjectKey?, encoded: [ChangeEvent?]) {
        let all = objects[type.key] ?? [:]
        var keys = all.keys.filter { namespace == nil || $0.namespace == namespace }.sorted()
        if let after { keys = keys.filter { $0 > after } }
        var items: [JSON] = []
        var next: ObjectKey?
        for key in keys {
            let object = all[key]!
            if let labels, !labels.matches(object[path: "metadata", "labels"]?.objectValue) { continue }
            if let fields, !fields.matches(object) { continue }
            if let limit, items.count == limit {
                next = items.isEmpty ? nil : ObjectKey(namespace: items.last![path: "metadata", "namespace"]?.stringValue ?? "",
                                                        name: items.last![path: "metadata", "name"]?.stringValue ?? "")
                break
            }
            items.append(object)
        }
        let cached = latest[type.key] ?? [:]
        let encoded = items.map { item -> ChangeEvent? in
            let key = ObjectKey(namespace: item[path: "metadata", "namespace"]?.stringValue ?? "", name: item[path: "metadata", "name"]?.stringValue ?? "")
            guard let event = cached[key], event.object[path: "metadata", "resourceVersion"] == item[path: "metadata", "resourceVersion"] else { return nil }
            return event
        }
        return (items, rv, next, encoded)
    }

    // MARK: watch

    /// Registers a watcher, replaying what it must see first: every object (no version), or
    /// the history after `since`. Throws 410 when `since` is older than the history kept.
    mutating func watch(_ type: ResourceType, namespace: String?, labels: LabelSelector?, fields: FieldSelector?,
                        since: UInt64?, continuation: WatchBuffer) throws(APIError) -> Int {
        let watcher = Watcher(id: nextWatcherID, typeKey: type.key, namespace: namespace, labels: labels, fields: fields, continuation: continuation)
        nextWatcherID += 1
        if let since, since > 0 {
            let oldest = historyHead < history.count ? history[historyHead].rv : rv + 1
            if since + 1 < oldest && since < rv {
                throw APIError.gone("too old resource version: \(since) (\(oldest - 1))")
            }
            for event in history[historyHead...] where event.rv > since { watcher.deliver(event) }
        } else {
            for (_, object) in (objects[type.key] ?? [:]).sorted(by: { $0.key < $1.key }) where watcher.selects(object) {
                let rvText = object[path: "metadata", "resourceVersion"]?.stringValue ?? "0"
                watcher.deliver(ChangeEvent(rv: UInt64(rvText) ?? 0, type: "ADDED", typeKey: type.key, object: object, previous: nil))
            }
        }
        watchers[watcher.id] = watcher
        return watcher.id
    }

    mutating func unwatch(_ id: Int) { watchers[id] = nil }

    // MARK: writes

    private mutating func record(_ type: String, _ rt: ResourceType, _ object: JSON, previous: JSON?, historyLimit: Int) {
        let event = ChangeEvent(rv: rv, type: type, typeKey: rt.key, object: object, previous: previous)
        let key = ObjectKey(namespace: object[path: "metadata", "namespace"]?.stringValue ?? "", name: object[path: "metadata", "name"]?.stringValue ?? "")
        if type == "DELETED" { latest[rt.key]?[key] = nil } else { latest[rt.key, default: [:]][key] = event }
        history.append(event)
        if history.count - historyHead > historyLimit { historyHead += 1 }
        if historyHead > 4096 && historyHead * 2 > history.count {
            history.removeFirst(historyHead)
            historyHead = 0
        }
        for watcher in watchers.values { watcher.deliver(event) }
        if rt.group == "rbac.authorization.k8s.io" { rbacVersion += 1 }
    }

    static let clusterRolesKey = "rbac.authorization.k8s.io/v1/clusterroles"

    /// ClusterRole aggregation (`aggregationRule`), run after any ClusterRole changes: each
    /// aggregated role's rules become those of the roles its selectors match, written as the
    /// aggregation controller would (a MODIFIED event), until nothing changes.
    mutating func aggregateClusterRoles(historyLimit: Int) {
        guard let rt = types[Self.clusterRolesKey] else { return }
        for _ in 0..<8 {
            let wanted = ClusterRoleAggregation.rules(Array((objects[Self.clusterRolesKey] ?? [:]).values))
            var changed = false
            for (name, rules) in wanted.sorted(by: { $0.key < $1.key }) {
                let key = ObjectKey(namespace: "", name: name)
                guard var role = objects[Self.clusterRolesKey]?[key], (role["rules"]?.arrayValue ?? []) != rules else { continue }
                let previous = role
                role["rules"] = .array(rules)
                role["metadata"]?["resourceVersion"] = .string(nextVersion())
                objects[Self.clusterRolesKey]![key] = role
                record("MODIFIED", rt, role, previous: previous, historyLimit: historyLimit)
                changed = true
            }
            if !changed { return }
        }
    }

    private mutating func count(_ verb: String, _ rt: ResourceType, agent: String = "") {
        writes.byVerb[verb, default: 0] += 1
        writes.byResource[rt.resource, default: 0] += 1
        writes.byAgent[agent, default: 0] += 1
    }

    private mutating func nextVersion() -> String {
        rv += 1
        return String(rv)
    }

    mutating func create(_ rt: ResourceType, namespace: String?, _ input: JSON, options: WriteOptions, historyLimit: Int) throws(APIError) -> JSON {
        var object = input
        guard object.objectValue != nil else { throw APIError.badRequest("the body is not an object") }
        var meta = object["metadata"]?.objectValue ?? JSONObject()
        if meta["name"]?.stringValue?.isEmpty ?? true, let prefix = meta["generateName"]?.stringValue, !prefix.isEmpty {
            var name: String
            repeat {
                name = prefix + String((0..<5).map { _ in "bcdfghjklmnpqrstvwxz2456789".randomElement()! })
            } while objects[rt.key]?[ObjectKey(namespace: namespace ?? "", name: name)] != nil
            meta["name"] = .string(name)
        }
        guard let name = meta["name"]?.stringValue, !name.isEmpty else {
            throw APIError.invalid(rt, "", [FieldError(.required, "metadata.name", "Required value: name or generateName is required")])
        }
        if let bodyNamespace = meta["namespace"]?.stringValue, let namespace, !bodyNamespace.isEmpty, bodyNamespace != namespace {
            throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        if rt.namespaced {
            guard let namespace, !namespace.isEmpty else { throw APIError.badRequest("a namespace is required for \(rt.resource)") }
            guard let ns = objects["/v1/namespaces"]?[ObjectKey(namespace: "", name: namespace)] else {
                throw APIError(code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found",
                               details: ["name": .string(namespace), "kind": "namespaces"])
            }
            if ns[path: "metadata", "deletionTimestamp"] != nil {
                throw APIError(code: 403, reason: "Forbidden",
                               message: "\(rt.resource)\(rt.group.isEmpty ? "" : ".\(rt.group)") \"\(name)\" is forbidden: unable to create new content in namespace \(namespace) because it is being terminated",
                               details: ["name": .string(name), "group": .string(rt.group), "kind": .string(rt.resource),
                                         "causes": [["reason": "NamespaceTerminating", "message": .string("namespace \(namespace) is being terminated"), "field": "metadata.namespace"]]])
            }
            meta["namespace"] = .string(namespace)
        } else {
            meta["namespace"] = nil
        }
        try Self.validateName(rt, name)
        let key = ObjectKey(namespace: namespace ?? "", name: name)
        if objects[rt.key]?[key] != nil { throw APIError.alreadyExists(rt, name) }

        meta["uid"] = .string(UUID().uuidString.lowercased())
        meta["creationTimestamp"] = .string(now)
        meta["generation"] = 1
        meta["deletionTimestamp"] = nil
        meta["managedFields"] = nil
        meta["resourceVersion"] = nil
        object["metadata"] = .object(meta)
        object["apiVersion"] = .string(rt.apiVersion)
        object["kind"] = .string(rt.kind)
        if rt.hasStatus && rt.crdName != nil { object["status"] = nil }
        object = try prepare(rt, object, old: nil, options: options)
        ManagedFields.store(options.managedFields ?? ManagedFields.update(old: nil, new: object, manager: ManagedFields.manager(options), rt: rt,
                                                                          subresource: nil, now: now), in: &object)
        if options.dryRun { return object }

        object["metadata"]?["resourceVersion"] = .string(nextVersion())
        objects[rt.key, default: [:]][key] = object
        indexOwners(rt, key, object, previous: nil)
        count("create", rt, agent: options.agent)
        record("ADDED", rt, object, previous: nil, historyLimit: historyLimit)
        if rt.resource == "customresourcedefinitions" { try registerCRD(object, historyLimit: historyLimit) }
        if rt.key == Self.clusterRolesKey { aggregateClusterRoles(historyLimit: historyLimit) }
        return objects[rt.key]![key]!
    }

    /// Replaces an object (or only its status). `resourceVersion` in the body, when set, must be current.
    mutating func update(_ rt: ResourceType, namespace: String?, name: String, _ input: JSON, status: Bool,
                         options: WriteOptions, historyLimit: Int) throws(APIError) -> JSON {
        let key = ObjectKey(namespace: rt.namespaced ? namespace ?? "" : "", name: name)
        guard let old = objects[rt.key]?[key] else { throw APIError.notFound(rt, name) }
        guard input.objectValue != nil else { throw APIError.badRequest("the body is not an object") }
        if let bodyName = input[path: "metadata", "name"]?.stringValue, bodyName != name {
            throw APIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        if let sent = input[path: "metadata", "resourceVersion"]?.stringValue, !sent.isEmpty,
           sent != old[path: "metadata", "resourceVersion"]?.stringValue {
            throw APIError.conflict(rt, name)
        }
        var object: JSON
        if status {
            // Only status changes through /status; it is validated and pruned like any write.
            object = old
            object["status"] = input["status"]
            if let schema = rt.schema { object = try Self.admitCustomResource(rt, schema, object, old: old, options: options) }
        } else {
            object = input
            object["apiVersion"] = .string(rt.apiVersion)
            object["kind"] = .string(rt.kind)
            var meta = object["metadata"]?.objectValue ?? JSONObject()
            for fixed in ["uid", "creationTimestamp", "namespace", "name", "generation", "deletionTimestamp"] { meta[fixed] = old[path: "metadata", fixed] }
            meta["managedFields"] = nil
            if old[path: "metadata", "deletionTimestamp"] != nil {
                // Finalizers may only be removed once deletion started.
                let before = Set(old[path: "metadata", "finalizers"]?.arrayValue ?? [])
                meta["finalizers"] = .array((meta["finalizers"]?.arrayValue ?? []).filter { before.contains($0) })
            }
            object["metadata"] = .object(meta)
            if rt.hasStatus { object["status"] = old["status"] }
            object = try prepare(rt, object, old: old, options: options)
            if Self.specChanged(rt, old, object) {
                object["metadata"]?["generation"] = .int((old[path: "metadata", "generation"]?.intValue ?? 1) + 1)
            }
        }
        object["metadata"]?["managedFields"] = old[path: "metadata", "managedFields"]
        var changed = object
        changed["metadata"]?["resourceVersion"] = old[path: "metadata", "resourceVersion"]
        if let entries = options.managedFields {
            ManagedFields.store(entries, in: &object)
        } else if changed != old {
            ManagedFields.store(ManagedFields.update(old: old, new: object, manager: ManagedFields.manager(options), rt: rt,
                                                     subresource: status ? "status" : nil, now: now), in: &object)
        }
        if options.dryRun { return object }
        // Writing what is already there changes nothing and costs nothing, as on a real server.
        var comparable = object
        comparable["metadata"]?["resourceVersion"] = old[path: "metadata", "resourceVersion"]
        if comparable == old { return old }

        object["metadata"]?["resourceVersion"] = .string(nextVersion())
        count(status ? "update-status" : "update", rt, agent: options.agent)
        if rt.key != "/v1/namespaces", object[path: "metadata", "deletionTimestamp"] != nil, (object[path: "metadata", "finalizers"]?.arrayValue ?? []).isEmpty {
            remove(rt, key, object, historyLimit: historyLimit)
            return object
        }
        objects[rt.key]![key] = object
        indexOwners(rt, key, object, previous: old)
        record("MODIFIED", rt, object, previous: old, historyLimit: historyLimit)
        if rt.resource == "customresourcedefinitions" && !status { try registerCRD(object, historyLimit: historyLimit) }
        if rt.key == Self.clusterRolesKey {
            aggregateClusterRoles(historyLimit: historyLimit)
            return objects[rt.key]?[key] ?? object
        }
        if rt.key == "/v1/namespaces", object[path: "metadata", "deletionTimestamp"] != nil {
            advanceNamespace(name, historyLimit: historyLimit)
            return objects[rt.key]?[key] ?? object
        }
        return object
    }

    // MARK: namespaces

    /// Deleting a namespace, as its controller does: the `Terminating` phase, then every object
    /// in it deleted (those with finalizers wait for them), then the `kubernetes` finalizer
    /// goes; the namespace itself goes once its own finalizers are gone too.
    mutating func terminate(_ name: String, historyLimit: Int) -> JSON {
        let nsKey = ObjectKey(namespace: "", name: name)
        guard var ns = objects["/v1/namespaces"]?[nsKey] else { return [:] }
        if ns[path: "metadata", "deletionTimestamp"] == nil {
            let previous = ns
            ns["metadata"]?["deletionTimestamp"] = .string(now)
            ns["metadata"]?["deletionGracePeriodSeconds"] = 0
            var status = ns["status"]?.objectValue ?? JSONObject()
            status["phase"] = "Terminating"
            ns["status"] = .object(status)
            ns["metadata"]?["resourceVersion"] = .string(nextVersion())
            objects["/v1/namespaces"]![nsKey] = ns
            record("MODIFIED", types["/v1/namespaces"]!, ns, previous: previous, historyLimit: historyLimit)
        }
        terminating.insert(name)
        let contents = objects.flatMap { typeKey, byKey in byKey.keys.filter { $0.namespace == name }.map { (typeKey, $0) } }
        for (typeKey, key) in contents.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) {
            guard let t = types[typeKey], objects[typeKey]?[key] != nil else { continue }
            _ = try? delete(t, namespace: name, name: key.name, propagation: "Background", preconditions: (nil, nil), historyLimit: historyLimit)
        }
        advanceNamespace(name, historyLimit: historyLimit)
        return objects["/v1/namespaces"]?[nsKey] ?? ns
    }

    /// Moves a terminating namespace on: conditions saying what remains, the `kubernetes`
    /// finalizer removed once it is empty, and the namespace removed once no finalizer is left.
    mutating func advanceNamespace(_ name: String, historyLimit: Int) {
        let nsKey = ObjectKey(namespace: "", name: name)
        guard let nsType = types["/v1/namespaces"], let previous = objects[nsType.key]?[nsKey],
              previous[path: "metadata", "deletionTimestamp"] != nil else { terminating.remove(name); return }
        var ns = previous
        var remaining: [String: Int] = [:]
        var finalizers: [String: Int] = [:]
        for (typeKey, byKey) in objects where typeKey != nsType.key {
            for (key, o) in byKey where key.namespace == name {
                remaining[types[typeKey]?.resource ?? typeKey, default: 0] += 1
                for f in o[path: "metadata", "finalizers"]?.arrayValue ?? [] { finalizers[f.stringValue ?? "", default: 0] += 1 }
            }
        }
        var spec = ns["spec"]?.objectValue ?? JSONObject()
        if remaining.isEmpty, let list = spec["finalizers"]?.arrayValue {
            let rest = list.filter { $0 != "kubernetes" }
            spec["finalizers"] = rest.isEmpty ? nil : .array(rest)
            ns["spec"] = .object(spec)
        }
        if (spec["finalizers"]?.arrayValue ?? []).isEmpty && (ns[path: "metadata", "finalizers"]?.arrayValue ?? []).isEmpty {
            terminating.remove(name)
            ns["metadata"]?["resourceVersion"] = .string(nextVersion())
            remove(nsType, nsKey, ns, historyLimit: historyLimit)
            return
        }
        let time = now
        func condition(_ type: String, _ on: Bool, _ reason: String, _ message: String) -> JSON {
            ["type": .string(type), "status": on ? "True" : "False", "lastTransitionTime": .string(time), "reason": .string(on ? reason : "ContentRemoved"),
             "message": .string(on ? message : "All content successfully removed")]
        }
        let content = remaining.keys.sorted().map { "\($0). has \(remaining[$0]!) resource instances" }.joined(separator: ", ")
        let pending = finalizers.keys.sorted().map { "\($0) in \(finalizers[$0]!) resource instances" }.joined(separator: ", ")
        let conditions: [JSON] = [
            condition("NamespaceContentRemaining", !remaining.isEmpty, "SomeResourcesRemain", "Some resources are remaining: \(content)"),
            condition("NamespaceFinalizersRemaining", !finalizers.isEmpty, "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: \(pending)"),
        ]
        var status = ns["status"]?.objectValue ?? JSONObject()
        let old = (status["conditions"]?.arrayValue ?? []).map { c -> JSON in var d = c; d["lastTransitionTime"] = nil; return d }
        if old != conditions.map({ c -> JSON in var d = c; d["lastTransitionTime"] = nil; return d }) { status["conditions"] = .array(conditions) }
        ns["status"] = .object(status)
        guard ns != previous else { return }
        ns["metadata"]?["resourceVersion"] = .string(nextVersion())
        objects[nsType.key]![nsKey] = ns
        record("MODIFIED", nsType, ns, previous: previous, historyLimit: historyLimit)
    }

    /// Deletes: with finalizers, marks the object (deletionTimestamp) and returns it; else
    /// removes it and its dependents (ownerReferences), unless they are orphaned.
    mutating func delete(_ rt: ResourceType, namespace: String?, name: String, propagation: String?, agent: String = "",
                         preconditions: (uid: String?, rv: String?), historyLimit: Int) throws(APIError) -> JSON {
        let key = ObjectKey(namespace: rt.namespaced ? namespace ?? "" : "", name: name)
        guard var object = objects[rt.key]?[key] else { throw APIError.notFound(rt, name) }
        if let uid = preconditions.uid, uid != object[path: "metadata", "uid"]?.stringValue {
            throw APIError(code: 409, reason: "Conflict", message: "Precondition failed: UID in precondition: \(uid), UID in object meta: \(object[path: "metadata", "uid"]?.stringValue ?? "")")
        }
        if let rv = preconditions.rv, rv != object[path: "metadata", "resourceVersion"]?.stringValue {
            throw APIError(code: 409, reason: "Conflict", message: "Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(object[path: "metadata", "resourceVersion"]?.stringValue ?? "")")
        }
        count("delete", rt, agent: agent)
        if rt.key == "/v1/namespaces" { return terminate(name, historyLimit: historyLimit) }
        if propagation == "Orphan" { orphanDependents(of: object, historyLimit: historyLimit) }
        if !(object[path: "metadata", "finalizers"]?.arrayValue ?? []).isEmpty {
            guard object[path: "metadata", "deletionTimestamp"] == nil else { return object }
            let previous = object
            object["metadata"]?["deletionTimestamp"] = .string(now)
            object["metadata"]?["deletionGracePeriodSeconds"] = 0
            object["metadata"]?["resourceVersion"] = .string(nextVersion())
            objects[rt.key]![key] = object
            record("MODIFIED", rt, object, previous: previous, historyLimit: historyLimit)
            return object
        }
        object["metadata"]?["resourceVersion"] = .string(nextVersion())
        remove(rt, key, object, historyLimit: historyLimit)
        return object
    }

    private mutating func remove(_ rt: ResourceType, _ key: ObjectKey, _ object: JSON, historyLimit: Int) {
        let previous = objects[rt.key]?[key]
        objects[rt.key]?[key] = nil
        indexOwners(rt, key, nil, previous: previous)
        record("DELETED", rt, object, previous: previous, historyLimit: historyLimit)
        if rt.resource == "customresourcedefinitions" { unregisterCRD(object, historyLimit: historyLimit) }
        if rt.key == Self.clusterRolesKey { aggregateClusterRoles(historyLimit: historyLimit) }
        if rt.namespaced, terminating.contains(key.namespace) { advanceNamespace(key.namespace, historyLimit: historyLimit) }
        if let uid = object[path: "metadata", "uid"]?.stringValue, let refs = dependents.removeValue(forKey: uid) {
            for ref in refs.sorted(by: { $0.key < $1.key }) {
                guard let rt = types[ref.typeKey], objects[ref.typeKey]?[ref.key] != nil else { continue }
                _ = try? delete(rt, namespace: ref.key.namespace, name: ref.key.name, propagation: "Background",
                                preconditions: (nil, nil), historyLimit: historyLimit)
            }
        }
    }

    private mutating func orphanDependents(of owner: JSON, historyLimit: Int) {
        guard let uid = owner[path: "metadata", "uid"]?.stringValue, let refs = dependents.removeValue(forKey: uid) else { return }
        for ref in refs {
            guard let rt = types[ref.typeKey], var dependent = objects[ref.typeKey]?[ref.key] else { continue }
            let previous = dependent
            let kept = (dependent[path: "metadata", "ownerReferences"]?.arrayValue ?? []).filter { $0["uid"]?.stringValue != uid }
            dependent["metadata"]?["ownerReferences"] = kept.isEmpty ? nil : .array(kept)
            dependent["metadata"]?["resourceVersion"] = .string(nextVersion())
            objects[ref.typeKey]![ref.key] = dependent
            record("MODIFIED", rt, dependent, previous: previous, historyLimit: historyLimit)
        }
    }

    private mutating func indexOwners(_ rt: ResourceType, _ key: ObjectKey, _ object: JSON?, previous: JSON?) {
        let ref = Store.DependentRef(typeKey: rt.key, key: key)
        for owner in previous?[path: "metadata", "ownerReferences"]?.arrayValue ?? [] {
            if let uid = owner["uid"]?.stringValue { dependents[uid]?.remove(ref) }
        }
        for owner in object?[path: "metadata", "ownerReferences"]?.arrayValue ?? [] {
            if let uid = owner["uid"]?.stringValue { dependents[uid, default: []].insert(ref) }
        }
    }

    // MARK: admission

    /// Kind-specific defaulting and validation before anything is stored.
    private mutating func prepare(_ rt: ResourceType, _ input: JSON, old: JSON?, options: WriteOptions) throws(APIError) -> JSON {
        var object = input
        let name = object[path: "metadata", "name"]?.stringValue ?? ""
        switch rt.resource {
        case "secrets":
            if let stringData = object["stringData"]?.objectValue {
                var data = object["data"]?.objectValue ?? JSONObject()
                for (k, v) in stringData { data[k] = .string(Data((v.stringValue ?? "").utf8).base64EncodedString()) }
                object["data"] = .object(data)
                object["stringData"] = nil
            }
            if object["type"] == nil { object["type"] = "Opaque" }
        case "customresourcedefinitions":
            if case .failure(let error) = ResourceType.from(crd: object) { throw APIError.invalid(rt, name, [error]) }
            let ruleErrors = Self.compileRules(object)
            if !ruleErrors.isEmpty { throw APIError.invalid(rt, name, ruleErrors) }
        default:
            break
        }
        guard let schema = rt.schema else {
            var clusterIP = nextClusterIP, nodePort = nextNodePort
            let allocations = BuiltinDefaults.Allocations(
                clusterIP: {
                    defer { clusterIP += 1 }
                    return "10.96.\(clusterIP / 250).\(clusterIP % 250 + 1)"
                },
                nodePort: {
                    defer { nodePort = nodePort >= 32767 ? 30000 : nodePort + 1 }
                    return nodePort
                })
            object = BuiltinDefaults.apply(rt, object, old: old, allocate: allocations)
            if !options.dryRun { (nextClusterIP, nextNodePort) = (clusterIP, nodePort) }
            let errors = BuiltinDefaults.errors(rt, object)
            if !errors.isEmpty {
                throw APIError.invalid(rt, name, errors.map { FieldError(FieldError.Kind(rawValue: $0.kind) ?? .invalid, $0.field, $0.detail) })
            }
            if let refusal = options.admit?(rt, object) { throw refusal }
            return object
        }
        return try Self.admitCustomResource(rt, schema, object, old: old, options: options)
    }

    /// Custom resources: prune or refuse unknown fields, default, validate against the schema,
    /// then the CEL rules. The root fields `apiVersion`, `kind` and `metadata` are always
    /// allowed and kept, whatever the schema lists; rules see `metadata.name` and `generateName`.
    static func admitCustomResource(_ rt: ResourceType, _ schema: Schema, _ object: JSON, old: JSON?, options: WriteOptions) throws(APIError) -> JSON {
        let name = object[path: "metadata", "name"]?.stringValue ?? ""
        func body(_ o: JSON) -> JSON {
            var b = o
            for root in ["apiVersion", "kind", "metadata"] where schema.property(root) == nil || root == "metadata" { b[root] = nil }
            return b
        }
        var value = body(object)
        if options.strictFields {
            let unknown = SchemaValidator(rejectUnknown: true).validate(value, schema, at: "").filter { $0.kind == .unknown }
            if !unknown.isEmpty {
                throw APIError.badRequest("\(rt.kind) in version \"\(rt.version)\" cannot be handled as a \(rt.kind): strict decoding error: "
                    + unknown.map { "unknown field \"\($0.field)\"" }.joined(separator: ", "))
            }
        }
        value = schema.pruning(value).0
        value = schema.applyingDefaults(to: value)
        // The root metadata is validated by the server itself, never against the schema: a
        // schema that requires it (as Argo CD's do) is met by every object.
        var errors = SchemaValidator().validate(value, schema, at: "").filter { !($0.kind == .required && $0.field == "metadata") }
        if errors.isEmpty {
            func ruleView(_ full: JSON, _ pruned: JSON) -> JSON {
                var v = pruned
                var meta = JSONObject()
                for key in ["name", "generateName"] { if let m = full[path: "metadata", key] { meta[key] = m } }
                v["metadata"] = .object(meta)
                return v
            }
            let oldView = old.map { ruleView($0, body($0)) }
            errors += schema.validateRules(ruleView(object, value), old: oldView, at: "")
        }
        if !errors.isEmpty { throw APIError.invalid(rt, name, errors) }
        var result = JSONObject()
        result["apiVersion"] = object["apiVersion"]
        result["kind"] = object["kind"]
        result["metadata"] = object["metadata"]
        for (k, v) in value.objectValue ?? JSONObject() where result[k] == nil { result[k] = v }
        return .object(result)
    }

    /// A CRD's schemas must compile: every CEL rule of every version (a rule that cannot be
    /// compiled is never skipped).
    static func compileRules(_ crd: JSON) -> [FieldError] {
        var errors: [FieldError] = []
        for (i, version) in (crd[path: "spec", "versions"]?.arrayValue ?? []).enumerated() {
            guard let json = version[path: "schema", "openAPIV3Schema"] else { continue }
            errors += Schema(json: json).ruleErrors(at: "spec.versions[\(i)].schema.openAPIV3Schema")
        }
        return errors
    }

    static func validateName(_ rt: ResourceType, _ name: String) throws(APIError) {
        // RBAC objects are named like path segments (`system:discovery`), as on a real server.
        if rt.group == "rbac.authorization.k8s.io" {
            let problem = name == "." || name == ".." ? "may not be '\(name)'"
                : ["/", "%"].first(where: { name.contains($0) }).map { "may not contain '\($0)'" }
            if let problem { throw APIError.invalid(rt, name, [FieldError(.invalid, "metadata.name", "Invalid value: \"\(name)\": \(problem)")]) }
            return
        }
        let ok = name.count <= 253 && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }
            && name.first.map { $0.isLetter || $0.isNumber } == true && name.last.map { $0.isLetter || $0.isNumber } == true
        guard ok else {
            throw APIError.invalid(rt, name, [FieldError(.invalid, "metadata.name",
                "Invalid value: \"\(name)\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")])
        }
    }

    /// Whether an update changes what `generation` counts: the spec (everything but metadata
    /// and, with a status subresource, status).
    static func specChanged(_ rt: ResourceType, _ old: JSON, _ new: JSON) -> Bool {
        var a = old, b = new
        for key in ["metadata", "status"] where key == "metadata" || rt.hasStatus {
            a[key] = nil
            b[key] = nil
        }
        return a != b
    }

    // MARK: CRDs

    private mutating func registerCRD(_ crd: JSON, historyLimit: Int) throws(APIError) {
        guard case .success(let served) = ResourceType.from(crd: crd), let name = crd[path: "metadata", "name"]?.stringValue else { return }
        for (key, t) in types where t.crdName == name && !served.contains(where: { $0.key == key }) { types[key] = nil }
        for t in served { types[t.key] = t }
        // Established at once: there is nothing to wait for here.
        guard var stored = objects["apiextensions.k8s.io/v1/customresourcedefinitions"]?[ObjectKey(namespace: "", name: name)],
              stored[path: "status", "conditions"] == nil else { return }
        let previous = stored
        let time = now
        let accepted: JSON = ["type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
                              "lastTransitionTime": .string(time)]
        let established: JSON = ["type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                                 "message": "the initial names have been accepted", "lastTransitionTime": .string(time)]
        let versions: [JSON] = served.map { JSON.string($0.version) }
        stored["status"] = ["conditions": [accepted, established], "acceptedNames": crd[path: "spec", "names"] ?? [:], "storedVersions": .array(versions)]
        stored["metadata"]?["resourceVersion"] = .string(nextVersion())
        objects["apiextensions.k8s.io/v1/customresourcedefinitions"]![ObjectKey(namespace: "", name: name)] = stored
        record("MODIFIED", types["apiextensions.k8s.io/v1/customresourcedefinitions"]!, stored, previous: previous, historyLimit: historyLimit)
    }

    private mutating func unregisterCRD(_ crd: JSON, historyLimit: Int) {
        guard let name = crd[path: "metadata", "name"]?.stringValue else { return }
        for (key, t) in types where t.crdName == name {
            for (k, o) in objects[key] ?? [:] {
                var gone = o
                gone["metadata"]?["resourceVersion"] = .string(nextVersion())
                objects[key]?[k] = nil
                record("DELETED", t, gone, previous: o, historyLimit: historyLimit)
            }
            objects[key] = nil
            types[key] = nil
            for watcher in watchers.values where watcher.typeKey == key { watcher.continuation.yield(.end) }
        }
    }
}
