/// How plain (unquoted) scalars become values: YAML 1.1 as kubectl reads it
/// (sigs.k8s.io/yaml over go-yaml v2). `yes/no/on/off/y/n` are booleans; `0x1F`, `0b101`,
/// `017` (octal) and `1_000` are integers; `1e3` and `.5` are floats; `~` and the empty scalar
/// are null. Timestamps stay strings.
enum ScalarResolver {
    static let trueWords: Set<String> = ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]
    static let falseWords: Set<String> = ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]
    static let nullWords: Set<String> = ["", "~", "null", "Null", "NULL"]

    static func resolve(_ text: String) -> JSON {
        if nullWords.contains(text) { return .null }
        if trueWords.contains(text) { return .bool(true) }
        if falseWords.contains(text) { return .bool(false) }
        guard let first = text.utf8.first,
              (first >= 0x30 && first <= 0x39) || first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
        else { return .string(text) }
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        if let i = integer(text) { return i }
        if isFloat(text), let d = Double(text) { return .double(d) }
        return .string(text)
    }

    /// Decimal, 0x hex, 0o/leading-0 octal and 0b binary, with `_` separators, as Go's
    /// `strconv.ParseInt(s, 0, 64)` reads them; too large for Int64 becomes a double.
    private static func integer(_ text: String) -> JSON? {
        var s = Substring(text.replacingOccurrences(of: "_", with: ""))
        var negative = false
        if s.first == "-" || s.first == "+" {
            negative = s.first == "-"
            s = s.dropFirst()
        }
        guard !s.isEmpty else { return nil }
        var radix = 10
        if s.count > 2, s.hasPrefix("0x") || s.hasPrefix("0X") { radix = 16; s = s.dropFirst(2) }
        else if s.count > 2, s.hasPrefix("0b") || s.hasPrefix("0B") { radix = 2; s = s.dropFirst(2) }
        else if s.count > 2, s.hasPrefix("0o") || s.hasPrefix("0O") { radix = 8; s = s.dropFirst(2) }
        else if s.count > 1, s.hasPrefix("0") { radix = 8; s = s.dropFirst() }
        guard s.allSatisfy({ $0.isHexDigit }), let magnitude = UInt64(s, radix: radix) else { return nil }
        if negative {
            if magnitude <= UInt64(Int64.max) { return .int(-Int64(magnitude)) }
            if magnitude == UInt64(Int64.max) + 1 { return .int(.min) }
            return .double(-Double(magnitude))
        }
        return magnitude <= UInt64(Int64.max) ? .int(Int64(magnitude)) : .double(Double(magnitude))
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    private static func isFloat(_ text: String) -> Bool {
        var b = Array(text.utf8)[...]
        if b.first == UInt8(ascii: "-") || b.first == UInt8(ascii: "+") { b = b.dropFirst() }
        func digits(_ b: inout ArraySlice<UInt8>) -> Int {
            var n = 0
            while let c = b.first, c >= 0x30 && c <= 0x39 { b = b.dropFirst(); n += 1 }
            return n
        }
        if b.first == UInt8(ascii: ".") {
            b = b.dropFirst()
            guard digits(&b) > 0 else { return false }
        } else {
            guard digits(&b) > 0 else { return false }
            if b.first == UInt8(ascii: ".") {
                b = b.dropFirst()
                _ = digits(&b)
            }
        }
        if b.first == UInt8(ascii: "e") || b.first == UInt8(ascii: "E") {
            b = b.dropFirst()
            if b.first == UInt8(ascii: "-") || b.first == UInt8(ascii: "+") { b = b.dropFirst() }
            guard digits(&b) > 0 else { return false }
        }
        return b.isEmpty
    }

    /// Whether `text`, written as a plain scalar, would read back as something other than
    /// this string (so the emitter must quote it).
    static func needsQuoting(_ text: String) -> Bool {
        resolve(text) != .string(text) || text == "<<"
    }
}

extension String {
    func replacingOccurrences(of target: Character, with replacement: String) -> String {
        guard contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
