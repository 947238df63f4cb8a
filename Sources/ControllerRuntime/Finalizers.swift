import YAML

/// Finalizer helpers: pure functions from an object to the object to write (nil: nothing to do).
public enum Finalizers {
    public static func has(_ object: JSON, _ finalizer: String) -> Bool {
        (object[path: "metadata", "finalizers"]?.arrayValue ?? []).contains(.string(finalizer))
    }

    /// Whether deletion has started (a deletionTimestamp is set).
    public static func isDeleting(_ object: JSON) -> Bool { object[path: "metadata", "deletionTimestamp"] != nil }

    /// The object with `finalizer` added, or nil if it is already there or deletion started
    /// (the API refuses new finalizers then).
    public static func adding(_ finalizer: String, to object: JSON) -> JSON? {
        guard !has(object, finalizer), !isDeleting(object) else { return nil }
        var o = object
        o["metadata"]?["finalizers"] = .array((object[path: "metadata", "finalizers"]?.arrayValue ?? []) + [.string(finalizer)])
        return o
    }

    /// The object with `finalizer` removed, or nil if it is not there.
    public static func removing(_ finalizer: String, from object: JSON) -> JSON? {
        guard has(object, finalizer) else { return nil }
        var o = object
        let rest = (object[path: "metadata", "finalizers"]?.arrayValue ?? []).filter { $0 != .string(finalizer) }
        o["metadata"]?["finalizers"] = rest.isEmpty ? nil : .array(rest)
        return o
    }
}

/// Event → key mapping for owned objects: the controlling owner of `kind`, as controller-runtime's
/// EnqueueRequestForOwner does.
public func owners(of object: JSON, kind: String) -> [ObjectRef] {
    let namespace = object[path: "metadata", "namespace"]?.stringValue ?? ""
    return (object[path: "metadata", "ownerReferences"]?.arrayValue ?? []).compactMap { ref in
        guard ref["kind"]?.stringValue == kind, ref["controller"]?.boolValue == true, let name = ref["name"]?.stringValue else { return nil }
        return ObjectRef(namespace: namespace, name: name)
    }
}
