import YAML

/// A parsed label selector: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
struct LabelSelector: Sendable {
    enum Requirement: Sendable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case notExists(String)
    }

    var requirements: [Requirement] = []

    struct ParseError: Error { let message: String }

    init(_ text: String) throws(ParseError) {
        for part in Self.splitTopLevel(text) {
            let p = part.trimmed
            if p.isEmpty { continue }
            if let range = p.range(of: " notin ") ?? p.range(of: " notin(") {
                requirements.append(.notIn(String(p[..<range.lowerBound]).trimmed, try Self.set(p[range.upperBound...], p)))
            } else if let range = p.range(of: " in ") ?? p.range(of: " in(") {
                requirements.append(.isIn(String(p[..<range.lowerBound]).trimmed, try Self.set(p[range.upperBound...], p)))
            } else if let range = p.range(of: "!=") {
                requirements.append(.notEquals(String(p[..<range.lowerBound]).trimmed, String(p[range.upperBound...]).trimmed))
            } else if let range = p.range(of: "==") ?? p.range(of: "=") {
                requirements.append(.equals(String(p[..<range.lowerBound]).trimmed, String(p[range.upperBound...]).trimmed))
            } else if p.hasPrefix("!") {
                requirements.append(.notExists(String(p.dropFirst()).trimmed))
            } else if p.contains(" ") || p.contains("(") {
                throw ParseError(message: "unable to parse requirement: \"\(p)\"")
            } else {
                requirements.append(.exists(p))
            }
        }
    }

    private static func set(_ text: Substring, _ whole: String) throws(ParseError) -> Set<String> {
        let t = String(text).trimmed
        guard t.hasPrefix("("), t.hasSuffix(")") else { throw ParseError(message: "unable to parse requirement: \"\(whole)\": expected a (list)") }
        return Set(t.dropFirst().dropLast().split(separator: ",").map { String($0).trimmed })
    }

    static func splitTopLevel(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        for c in text {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if c == ",", depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current)
        return parts
    }

    func matches(_ labels: JSONObject?) -> Bool {
        let value = { (k: String) in labels?[k]?.stringValue }
        return requirements.allSatisfy { r in
            switch r {
            case .equals(let k, let v): value(k) == v
            case .notEquals(let k, let v): value(k) != v
            case .isIn(let k, let vs): value(k).map(vs.contains) ?? false
            case .notIn(let k, let vs): !(value(k).map(vs.contains) ?? false)
            case .exists(let k): value(k) != nil
            case .notExists(let k): value(k) == nil
            }
        }
    }
}

/// A parsed field selector: `metadata.name=x,involvedObject.uid=y,status.phase!=Running`. Any
/// dotted path into the object can be selected on (the real server allows fewer per kind).
struct FieldSelector: Sendable {
    var requirements: [(path: [String], value: String, equal: Bool)] = []

    init(_ text: String) throws(LabelSelector.ParseError) {
        for part in text.split(separator: ",") {
            let p = String(part).trimmed
            if p.isEmpty { continue }
            if let range = p.range(of: "!=") {
                requirements.append((String(p[..<range.lowerBound]).split(separator: ".").map(String.init), String(p[range.upperBound...]), false))
            } else if let range = p.range(of: "==") ?? p.range(of: "=") {
                requirements.append((String(p[..<range.lowerBound]).split(separator: ".").map(String.init), String(p[range.upperBound...]), true))
            } else {
                throw LabelSelector.ParseError(message: "invalid field selector: \"\(p)\": expected field=value")
            }
        }
    }

    func matches(_ object: JSON) -> Bool {
        requirements.allSatisfy { r in
            let found = r.path.reduce(Optional(object)) { $0?[$1] }
            let text: String = switch found {
            case .string(let s)?: s
            case .int(let i)?: String(i)
            case .bool(let b)?: b ? "true" : "false"
            default: ""
            }
            return (text == r.value) == r.equal
        }
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " { s = s.dropFirst() }
        while let l = s.last, l == " " { s = s.dropLast() }
        return String(s)
    }
}
