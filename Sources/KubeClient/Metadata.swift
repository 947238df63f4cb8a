import YAML

/// Metadata-only reads (client-go's metadata client): for objects whose existence matters but
/// whose content must not be read, such as Secrets holding signing keys.
extension KubeClient {
    /// What a metadata-only `get` and `watch` ask for: `PartialObjectMetadata`, with plain JSON
    /// as the fallback a server without it answers with.
    public static let partialObjectMetadataAccept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
    /// What a metadata-only `list` asks for.
    public static let partialObjectMetadataListAccept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"

    /// A client that shares this one's connections, credentials, retries and observer, and
    /// reads only metadata: `get`, `list`, `listAll` and `watch` ask the server for
    /// `PartialObjectMetadata`, and whatever the server sends is cut down to `apiVersion`,
    /// `kind` and `metadata` (without `managedFields`) before it is returned, so a server
    /// that ignores the media type (the embedded one does) still hands nothing else to the
    /// caller. Writes through it are refused.
    public func metadataOnly() -> KubeClient {
        KubeClient(copying: self, metadataOnly: true)
    }

    /// `object` reduced to what `PartialObjectMetadata` holds.
    public static func partialObjectMetadata(_ object: JSON) -> JSON {
        var metadata = object["metadata"] ?? [:]
        metadata["managedFields"] = nil
        var partial: JSON = ["metadata": metadata]
        if let apiVersion = object["apiVersion"] { partial["apiVersion"] = apiVersion }
        if let kind = object["kind"] { partial["kind"] = kind }
        return partial
    }

    /// The media types a request of `verb` accepts.
    func accept(_ verb: String) -> String {
        guard readsMetadataOnly else { return "application/json" }
        return verb == "list" ? Self.partialObjectMetadataListAccept : Self.partialObjectMetadataAccept
    }

    /// A read's object as this client returns it.
    func shaped(_ object: JSON) -> JSON {
        readsMetadataOnly ? Self.partialObjectMetadata(object) : object
    }
}
