/// The nine Lucid clusters a mesh Service can belong to (the seed's `ServiceRegistration.cluster`).
public enum LucidCluster: String, Sendable, CaseIterable {
    case apiGateway = "api-gateway"
    case blockchainCore = "blockchain-core"
    case sessionManagement = "session-management"
    case rdpServices = "rdp-services"
    case nodeManagement = "node-management"
    case adminInterface = "admin-interface"
    case tronPayment = "tron-payment"
    case storageDatabase = "storage-database"
    case authentication = "authentication"
}

/// The three isolated planes.
public enum Plane: String, Sendable, CaseIterable {
    case ops, chain, wallet
}

/// The labels and annotations a Service's entry is read from.
public enum RegistryLabels {
    public static let cluster = "mesh.lucid.io/cluster"
    public static let plane = "mesh.lucid.io/plane"
    public static let version = "app.kubernetes.io/version"
    /// On EndpointSlices: the Service they belong to.
    public static let serviceName = "kubernetes.io/service-name"
    /// Annotation: the port to register, by name or number (default: the first port).
    public static let port = "mesh.lucid.io/port"
    /// Annotation: `endpoint.path` (default `/`).
    public static let path = "mesh.lucid.io/path"
    /// Annotation prefix: `mesh.lucid.io/metadata.<key>: <value>` becomes `metadata.<key>`.
    public static let metadataPrefix = "mesh.lucid.io/metadata."
    public static let healthCheckPath = "mesh.lucid.io/health-check-path"
    public static let healthCheckInterval = "mesh.lucid.io/health-check-interval"
    public static let healthCheckTimeout = "mesh.lucid.io/health-check-timeout"
    public static let healthCheckRetries = "mesh.lucid.io/health-check-retries"
}

/// Where entries go and how they are named.
public struct RegistryOptions: Sendable, Equatable {
    /// Keys are `<prefix><namespace>/<service>`; always ends with `/`. The operator owns every
    /// key under it.
    public let prefix: String
    /// The Kubernetes cluster's DNS domain: endpoint hosts are `<service>.<namespace>.svc.<domain>`.
    public let clusterDomain: String
    /// SkyDNS records for CoreDNS's etcd plugin; nil for none.
    public let dns: DNSOptions?

    /// Defaults: prefix `/lucid/registry/`, cluster domain `cluster.local`, no DNS records.
    public init(prefix: String = "/lucid/registry/", clusterDomain: String = "cluster.local", dns: DNSOptions? = nil) throws(RegistryError) {
        guard !prefix.isEmpty, !prefix.contains("//") else {
            throw RegistryError(.invalidOptions, "the registry prefix \"\(prefix)\" must be a non-empty key prefix such as /lucid/registry/")
        }
        self.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
        self.clusterDomain = try DNSOptions.normalizedDomain(clusterDomain, what: "cluster domain")
        self.dns = dns
        if let dns, KeyScope.prefix(dns.zonePath + "/").overlaps(.prefix(self.prefix)) {
            throw RegistryError(.invalidOptions, "the registry prefix \(self.prefix) and the DNS records under \(dns.zonePath)/ must not overlap")
        }
    }

    /// The key of a Service's entry.
    public func key(namespace: String, name: String) -> String { "\(prefix)\(namespace)/\(name)" }
}

/// SkyDNS records (CoreDNS's `etcd` plugin) for `<service>.<namespace>.<domain>`.
public struct DNSOptions: Sendable, Equatable {
    /// E.g. `lucid.local`: lower-case labels, no trailing dot.
    public let domain: String
    /// CoreDNS's `path` (default `/skydns`).
    public let root: String
    public let ttl: Int
    /// SRV priority and weight of every record (CoreDNS splits the weight among records of equal priority).
    public let priority: Int
    public let weight: Int

    public init(domain: String, root: String = "/skydns", ttl: Int = 30, priority: Int = 10, weight: Int = 100) throws(RegistryError) {
        self.domain = try Self.normalizedDomain(domain, what: "DNS domain")
        guard root.hasPrefix("/"), !root.hasSuffix("/") else {
            throw RegistryError(.invalidOptions, "the SkyDNS root \"\(root)\" must start with / and not end with one (CoreDNS's default is /skydns)")
        }
        guard (0...86_400).contains(ttl), (0...65_535).contains(priority), (0...65_535).contains(weight) else {
            throw RegistryError(.invalidOptions, "DNS ttl must be 0...86400 seconds, priority and weight 0...65535")
        }
        self.root = root
        self.ttl = ttl
        self.priority = priority
        self.weight = weight
    }

    /// `/skydns/local/lucid` for `lucid.local`: the labels reversed.
    public var zonePath: String { root + "/" + domain.split(separator: ".").reversed().joined(separator: "/") }

    /// Where the records of `<service>.<namespace>.<domain>` live (one key per record below it).
    public func servicePath(namespace: String, name: String) -> String { "\(zonePath)/\(namespace)/\(name)" }

    static func normalizedDomain(_ raw: String, what: String) throws(RegistryError) -> String {
        var domain = raw.lowercased()
        if domain.hasSuffix(".") { domain.removeLast() }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        let valid = !domain.isEmpty && domain.utf8.count <= 253 && labels.allSatisfy { label in
            let bytes = Array(label.utf8)
            guard let first = bytes.first, let last = bytes.last, bytes.count <= 63 else { return false }
            let allowed = { (b: UInt8) in (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b == 0x2d }
            return bytes.allSatisfy(allowed) && first != 0x2d && last != 0x2d
        }
        guard valid else {
            throw RegistryError(.invalidOptions, "the \(what) \"\(raw)\" is not a DNS name (labels of a-z, 0-9 and -, e.g. lucid.local)")
        }
        return domain
    }
}
