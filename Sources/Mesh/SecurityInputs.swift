import LucidAPI
import YAML

/// Whether calls from one plane to another are denied unless a SecurityPolicy allows them
/// (`--plane-isolation=strict|off`).
public enum PlaneIsolation: String, Sendable, CaseIterable {
    case strict, off
}

/// The operator-wide settings the security side of a sidecar depends on.
public struct SecuritySettings: Sendable, Equatable {
    public var planeIsolation: PlaneIsolation
    /// The SPIFFE trust domain of mesh identities (`spiffe://<trustDomain>/...`).
    public var trustDomain: String
    /// The port of the inbound listener; the pod sends its Service's traffic there (for example
    /// with an iptables redirect from the targetPort, as Istio's init container does).
    public var inboundPort: Int
    /// The CA bundle that verifies a remote JWKS endpoint over https.
    public var jwksCAFile: String

    public init(planeIsolation: PlaneIsolation = .strict, trustDomain: String = "cluster.local", inboundPort: Int = 15006,
                jwksCAFile: String = "/etc/ssl/certs/ca-certificates.crt") {
        self.planeIsolation = planeIsolation
        self.trustDomain = trustDomain
        self.inboundPort = inboundPort
        self.jwksCAFile = jwksCAFile
    }
}

/// A SecurityPolicy as the renderer reads it.
public struct SecurityPolicyInput: Sendable, Equatable {
    public var name: String
    /// RFC 3339; orders policies of equal priority.
    public var creationTimestamp: String
    public var spec: SecurityPolicySpec

    public init(name: String, creationTimestamp: String, spec: SecurityPolicySpec) {
        self.name = name
        self.creationTimestamp = creationTimestamp
        self.spec = spec
    }

    public init(_ policy: SecurityPolicy) {
        self.init(name: policy.metadata.name ?? "", creationTimestamp: policy.metadata.creationTimestamp ?? "", spec: policy.spec)
    }
}

/// The entries of a Secret, decoded. Held only in memory: what the renderer writes from them
/// goes only into Secret files.
public struct SecretData: Sendable, Equatable {
    public var entries: [String: [UInt8]]

    public init(entries: [String: [UInt8]]) { self.entries = entries }

    /// A Secret whose contents a render does not need, only which entries hold something (a
    /// `<service>-mesh-tls` Secret as the operator's cache keeps it: the certificate is read
    /// by the sidecar from its mount, never by the operator). Each such entry stands as one byte.
    public init(presentEntries: Set<String>) {
        entries = Dictionary(uniqueKeysWithValues: presentEntries.map { ($0, [0x2A]) })
    }

    /// From a Secret object: `data` (base64) and `stringData` (as a manifest may carry it).
    /// Entries whose base64 does not decode are left out.
    public init(secret: JSON) {
        var entries: [String: [UInt8]] = [:]
        for (key, value) in secret["data"]?.objectValue ?? [:] {
            if let text = value.stringValue, let bytes = Base64.decode(text) { entries[key] = bytes }
        }
        for (key, value) in secret["stringData"]?.objectValue ?? [:] {
            if let text = value.stringValue { entries[key] = Array(text.utf8) }
        }
        self.entries = entries
    }
}

/// Everything one destination's inbound side depends on. The reconciler reads it from its cache;
/// `who-can-call -f` from manifests.
public struct InboundInputs: Sendable {
    /// The protected Service.
    public var destination: MeshService
    /// The mesh Services of the destination's namespace (callers, plane peers).
    public var services: [MeshService]
    /// The SecurityPolicies of the namespace; those for other destinations are ignored.
    public var policies: [SecurityPolicyInput]
    /// Secrets of the namespace by name: the API-key Secrets policies refer to and the
    /// `<service>-mesh-tls` Secrets cert-manager writes. A missing name is a missing Secret.
    public var secrets: [String: SecretData]
    public var settings: SecuritySettings

    public init(destination: MeshService, services: [MeshService], policies: [SecurityPolicyInput],
                secrets: [String: SecretData], settings: SecuritySettings = SecuritySettings()) {
        self.destination = destination
        self.services = services
        self.policies = policies
        self.secrets = secrets
        self.settings = settings
    }
}

/// Standard base64 (RFC 4648), as Kubernetes encodes Secret data.
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        var padding = 0
        for c in text.utf8 {
            let value: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = c - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = c - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="): padding += 1; continue
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): continue
            default: return nil
            }
            if padding > 0 { return nil }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return padding <= 2 ? out : nil
    }
}
