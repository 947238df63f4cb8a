import YAML

/// SkyDNS records, the layout CoreDNS's `etcd` plugin reads, for `<service>.<namespace>.<domain>`.
///
/// CoreDNS looks a name up by reversing its labels under its `path`: `api.payments.lucid.local`
/// → every key under `/skydns/local/lucid/payments/api/`. Each key holds one SkyDNS message,
/// `{"host","port","priority","weight","ttl"}`. A `host` that is an IP answers A (or AAAA)
/// queries; with `port`, `priority` and `weight` the same records answer SRV queries (CoreDNS
/// names the target after the key and adds the address).
public enum SkyDNS {
    /// One record per address of the Service: its cluster IPs; for a headless Service the
    /// addresses of its ready endpoints; for an ExternalName Service its external name (a
    /// CNAME). The key's last label is the address with `.` and `:` as `-`, so a record keeps
    /// its key while its address stays.
    public static func records(service: JSON, endpointSlices: [JSON], port: Int, options: DNSOptions) -> [String: [UInt8]] {
        records(service: RegistryService(json: service), endpointSlices: endpointSlices.map(EndpointSliceSummary.init(json:)),
                port: port, options: options)
    }

    /// The records of a Service as the registry reads it (see the JSON form).
    public static func records(service: RegistryService, endpointSlices: [EndpointSliceSummary], port: Int, options: DNSOptions) -> [String: [UInt8]] {
        guard !service.name.isEmpty else { return [:] }
        let base = options.servicePath(namespace: service.namespace, name: service.name)
        var records: [String: [UInt8]] = [:]
        for host in hosts(service, endpointSlices: endpointSlices) {
            let label = host.map { $0 == "." || $0 == ":" ? "-" : $0 }
            let record: JSON = [
                "host": .string(host), "port": .int(Int64(port)), "priority": .int(Int64(options.priority)),
                "weight": .int(Int64(options.weight)), "ttl": .int(Int64(options.ttl)),
            ]
            records["\(base)/\(String(label))"] = record.serialized()
        }
        return records
    }

    /// The key scope of one Service's records (every key below its path).
    public static func scope(namespace: String, name: String, options: DNSOptions) -> KeyScope {
        .prefix(options.servicePath(namespace: namespace, name: name) + "/")
    }

    static func hosts(_ service: RegistryService, endpointSlices: [EndpointSliceSummary]) -> [String] {
        if service.type == "ExternalName" { return service.externalName.map { [$0] } ?? [] }
        if service.isHeadless { return readyAddresses(endpointSlices, name: service.name, namespace: service.namespace) }
        return service.clusterIPs.filter { !$0.isEmpty }
    }

    static func readyAddresses(_ slices: [EndpointSliceSummary], name: String, namespace: String) -> [String] {
        var seen = Set<String>()
        for slice in slices where slice.belongs(to: name, namespace: namespace) {
            for endpoint in slice.endpoints where endpoint.ready {
                for address in endpoint.addresses { seen.insert(address) }
            }
        }
        return seen.sorted()
    }
}
