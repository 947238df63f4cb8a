/// The name and label syntaxes of Kubernetes (k8s.io/apimachinery's validation), with the API
/// server's messages. Each returns nil when the value is valid.
enum Names {
    /// Namespaces (and most names within a DNS label).
    static func dns1123Label(_ s: String) -> String? {
        if s.utf8.count > 63 { return "must be no more than 63 characters" }
        guard isLabel(s, firstAlpha: false) else {
            return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        }
        return nil
    }

    /// Services.
    static func dns1035Label(_ s: String) -> String? {
        if s.utf8.count > 63 { return "must be no more than 63 characters" }
        guard isLabel(s, firstAlpha: true) else {
            return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        }
        return nil
    }

    /// Most objects, custom resources included.
    static func dns1123Subdomain(_ s: String) -> String? {
        if s.utf8.count > 253 { return "must be no more than 253 characters" }
        guard isSubdomain(s) else {
            return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        }
        return nil
    }

    /// A label value: empty, or up to 63 alphanumerics, '-', '_', '.', alphanumeric at both ends.
    static func labelValue(_ s: String) -> String? {
        if s.utf8.count > 63 { return "must be no more than 63 characters" }
        guard s.isEmpty || isQualifiedPart(s) else {
            return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        }
        return nil
    }

    /// A label or annotation key: an optional DNS subdomain prefix and `/`, then a name part.
    static func qualifiedName(_ s: String) -> String? {
        let parts = s.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts.last ?? ""
        if parts.count == 2 {
            if parts[0].isEmpty { return "prefix part must be non-empty" }
            if let problem = dns1123Subdomain(parts[0]) { return "prefix part \(problem)" }
        }
        if name.isEmpty { return "name part must be non-empty" }
        if name.utf8.count > 63 { return "name part must be no more than 63 characters" }
        guard isQualifiedPart(name) else {
            return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        }
        return nil
    }

    /// A ConfigMap or Secret key.
    static func configKey(_ s: String) -> String? {
        if s.utf8.count > 253 { return "must be no more than 253 characters" }
        guard !s.isEmpty, s.utf8.allSatisfy({ isAlnum($0) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F }), s != ".", s != "..", !s.hasPrefix("..") else {
            return "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        }
        return nil
    }

    private static func isLower(_ b: UInt8) -> Bool { b >= 0x61 && b <= 0x7A }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    private static func isAlnum(_ b: UInt8) -> Bool { isLower(b) || isDigit(b) || (b >= 0x41 && b <= 0x5A) }

    private static func isLabel(_ s: String, firstAlpha: Bool) -> Bool {
        let bytes = Array(s.utf8)
        guard let first = bytes.first, let last = bytes.last else { return false }
        guard firstAlpha ? isLower(first) : (isLower(first) || isDigit(first)), isLower(last) || isDigit(last) else { return false }
        return bytes.allSatisfy { isLower($0) || isDigit($0) || $0 == 0x2D }
    }

    private static func isSubdomain(_ s: String) -> Bool {
        s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isLabel(String($0), firstAlpha: false) }
    }

    private static func isQualifiedPart(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else { return false }
        return bytes.allSatisfy { isAlnum($0) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E }
    }
}
