import YAML

/// What one mesh Service puts in etcd: its entry and (with DNS options) its SkyDNS records,
/// as canonical bytes by key, and the scope of keys that belong to it.
public struct ServiceRecords: Sendable, Equatable {
    public var entryKey: String
    public var entry: RegistryEntry
    /// The entry and the DNS records, by key.
    public var records: [String: [UInt8]]
    /// Where this Service's keys live (its entry key and its DNS path).
    public var scope: [KeyScope]
}

/// Desired registry state, Service by Service, for the planner.
public enum ServiceRegistry {
    /// The records of one Service. `observedEntry` is what its entry key holds now (if anything):
    /// its `lastHealthCheck` is kept while the health is unchanged, so an unchanged Service
    /// plans no write. Throws when the Service cannot be registered (see `RegistryEntry.init`).
    public static func records(service: JSON, endpointSlices: [JSON], options: RegistryOptions, now: String,
                               observedEntry: [UInt8]?) throws(RegistryError) -> ServiceRecords {
        try records(service: RegistryService(json: service), endpointSlices: endpointSlices.map(EndpointSliceSummary.init(json:)),
                    options: options, now: now, observedEntry: observedEntry)
    }

    /// The records of a Service as the registry reads it (see the JSON form).
    public static func records(service: RegistryService, endpointSlices: [EndpointSliceSummary], options: RegistryOptions, now: String,
                               observedEntry: [UInt8]?) throws(RegistryError) -> ServiceRecords {
        let previous = observedEntry.flatMap { try? RegistryEntry(decoding: $0) }
        let entry = try RegistryEntry(service: service, endpointSlices: endpointSlices, options: options, now: now)
            .keepingHealthTime(of: previous)
        let key = options.key(namespace: service.namespace, name: entry.serviceName)
        var records = [key: entry.encoded()]
        if let dns = options.dns {
            records.merge(SkyDNS.records(service: service, endpointSlices: endpointSlices, port: entry.endpoint.port, options: dns)) { a, _ in a }
        }
        return ServiceRecords(entryKey: key, entry: entry, records: records,
                              scope: scope(namespace: service.namespace, name: entry.serviceName, options: options))
    }

    /// The keys that belong to the Service `namespace/name`: planning with nothing desired in
    /// this scope deregisters it (deleted, unlabelled, or no longer registrable).
    public static func scope(namespace: String, name: String, options: RegistryOptions) -> [KeyScope] {
        var scope: [KeyScope] = [.key(options.key(namespace: namespace, name: name))]
        if let dns = options.dns { scope.append(SkyDNS.scope(namespace: namespace, name: name, options: dns)) }
        return scope
    }

    /// Every key the operator owns: its registry prefix and, with DNS, its zone. A full resync
    /// plans over this scope, so keys that match no Service are removed.
    public static func ownedScope(_ options: RegistryOptions) -> [KeyScope] {
        var scope: [KeyScope] = [.prefix(options.prefix)]
        if let dns = options.dns { scope.append(.prefix(dns.zonePath + "/")) }
        return scope
    }

    /// The Service a key under the operator's scopes belongs to (`namespace`, `name`), so a
    /// watch event on the prefix can be mapped back to the Service to reconcile.
    public static func service(forKey key: String, options: RegistryOptions) -> (namespace: String, name: String)? {
        func split(_ rest: Substring) -> (String, String)? {
            let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count >= 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
            return (String(parts[0]), String(parts[1]))
        }
        if key.hasPrefix(options.prefix) {
            let rest = key.dropFirst(options.prefix.count)
            guard let (namespace, name) = split(rest), !rest.dropFirst(namespace.count + 1).contains("/") else { return nil }
            return (namespace, name)
        }
        if let dns = options.dns, key.hasPrefix(dns.zonePath + "/") {
            return split(key.dropFirst(dns.zonePath.count + 1)).map { ($0.0, $0.1) }
        }
        return nil
    }

    /// The Service whose scope holds `key`: nil for keys under the operator's prefixes that no
    /// Service could have written (`<prefix>stray`, `<zone>/<namespace>`, ...), which a resync
    /// removes.
    public static func owner(ofKey key: String, options: RegistryOptions) -> (namespace: String, name: String)? {
        guard let (namespace, name) = service(forKey: key, options: options),
              scope(namespace: namespace, name: name, options: options).contains(where: { $0.contains(key) }) else { return nil }
        return (namespace, name)
    }

    /// Whether `key` is a Service's entry (not a DNS record, not a stray key).
    public static func isEntryKey(_ key: String, options: RegistryOptions) -> Bool {
        key.hasPrefix(options.prefix) && service(forKey: key, options: options) != nil
    }
}
