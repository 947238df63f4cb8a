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
        let meta = ServiceMeta(service)
        guard let name = meta.name else { return [:] }
        let base = options.servicePath(namespace: meta.namespace, name: name)
        var records: [String: [UInt8]] = [:]
        for host in hosts(service, endpointSlices: endpointSlices, name: name, namespace: meta.namespace) {
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

    static func hosts(_ service: JSON, endpointSlices: [JSON], name: String, namespace: String) -> [String] {
        if service[path: "spec", "type"]?.stringValue == "ExternalName" {
            return service[path: "spec", "externalName"]?.stringValue.map { [$0] } ?? []
        }
        var ips = (service[path: "spec", "clusterIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        if ips.isEmpty, let ip = service[path: "spec", "clusterIP"]?.stringValue { ips = [ip] }
        if ips.contains("None") { return readyAddresses(endpointSlices, name: name, namespace: namespace) }
        return ips.filter { !$0.isEmpty }
    }

    static func readyAddresses(_ slices: [JSON], name: String, namespace: String) -> [String] {
        var seen = Set<String>()
        var addresses: [String] = []
        for slice in slices where RegistryEntry.Health.belongs(slice, service: name, namespace: namespace) {
            for endpoint in slice["endpoints"]?.arrayValue ?? [] {
                let conditions = endpoint["conditions"]
                guard conditions?["ready"]?.boolValue ?? true, conditions?["terminating"]?.boolValue != true else { continue }
                for address in (endpoint["addresses"]?.arrayValue ?? []).compactMap(\.stringValue) where seen.insert(address).inserted {
                    addresses.append(address)
                }
            }
        }
        return addresses.sorted()
    }
}
