import Foundation

/// CEL's operators and functions: the standard library, the string extensions and the
/// Kubernetes list and regex libraries.
enum CELFunctions {
    /// Names the checker accepts, with how they may be called: as a global, a method, or both.
    static let globals: Set<String> = ["size", "matches", "int", "uint", "double", "string", "bool", "bytes", "dyn", "type",
                                       "duration", "timestamp"]
    static let members: Set<String> = ["size", "contains", "startsWith", "endsWith", "matches", "charAt", "indexOf", "lastIndexOf",
                                       "lowerAscii", "upperAscii", "replace", "split", "substring", "trim", "join", "reverse",
                                       "isSorted", "sum", "min", "max", "find", "findAll"]

    static func apply(_ name: String, member: Bool, _ a: [CELValue], budget: inout Int) throws(CELEvaluationError) -> CELValue {
        switch (name, a.count) {
        case ("!_", 1):
            guard case .bool(let b) = a[0] else { break }
            return .bool(!b)
        case ("-_", 1):
            switch a[0] {
            case .int(let i):
                guard i != Int64.min else { throw CELEvaluationError("integer overflow") }
                return .int(-i)
            case .double(let d): return .double(-d)
            case .duration(let n): return .duration(-n)
            default: break
            }
        case ("_==_", 2): return .bool(CELRuntime.equal(a[0], a[1]))
        case ("_!=_", 2): return .bool(!CELRuntime.equal(a[0], a[1]))
        case ("_<_", 2): return .bool(try CELRuntime.compare(a[0], a[1], name) < 0)
        case ("_<=_", 2): return .bool(try CELRuntime.compare(a[0], a[1], name) <= 0)
        case ("_>_", 2): return .bool(try CELRuntime.compare(a[0], a[1], name) > 0)
        case ("_>=_", 2): return .bool(try CELRuntime.compare(a[0], a[1], name) >= 0)
        case ("_+_", 2), ("_-_", 2), ("_*_", 2), ("_/_", 2), ("_%_", 2):
            return try arithmetic(name, a[0], a[1])
        case ("_[_]", 2): return try index(a[0], a[1])
        case ("@in", 2):
            switch a[1] {
            case .list(let items): return .bool(items.contains { CELRuntime.equal($0, a[0]) })
            case .map(let m): return .bool(m[a[0]] != nil)
            default: break
            }
        default:
            break
        }
        if let v = try library(name, member: member, a, budget: &budget) { return v }
        throw CELEvaluationError.noOverload(name, a)
    }

    // MARK: arithmetic

    static func arithmetic(_ op: String, _ x: CELValue, _ y: CELValue) throws(CELEvaluationError) -> CELValue {
        switch (x, y) {
        case (.int(let a), .int(let b)):
            let (v, overflow): (Int64, Bool)
            switch op {
            case "_+_": (v, overflow) = a.addingReportingOverflow(b)
            case "_-_": (v, overflow) = a.subtractingReportingOverflow(b)
            case "_*_": (v, overflow) = a.multipliedReportingOverflow(by: b)
            case "_/_":
                guard b != 0 else { throw CELEvaluationError("division by zero") }
                (v, overflow) = a.dividedReportingOverflow(by: b)
            default:
                guard b != 0 else { throw CELEvaluationError("modulus by zero") }
                (v, overflow) = a.remainderReportingOverflow(dividingBy: b)
            }
            if overflow { throw CELEvaluationError("integer overflow") }
            return .int(v)
        case (.uint(let a), .uint(let b)):
            let (v, overflow): (UInt64, Bool)
            switch op {
            case "_+_": (v, overflow) = a.addingReportingOverflow(b)
            case "_-_": (v, overflow) = a.subtractingReportingOverflow(b)
            case "_*_": (v, overflow) = a.multipliedReportingOverflow(by: b)
            case "_/_":
                guard b != 0 else { throw CELEvaluationError("division by zero") }
                (v, overflow) = a.dividedReportingOverflow(by: b)
            default:
                guard b != 0 else { throw CELEvaluationError("modulus by zero") }
                (v, overflow) = a.remainderReportingOverflow(dividingBy: b)
            }
            if overflow { throw CELEvaluationError("unsigned integer overflow") }
            return .uint(v)
        case (.double(let a), .double(let b)):
            switch op {
            case "_+_": return .double(a + b)
            case "_-_": return .double(a - b)
            case "_*_": return .double(a * b)
            case "_/_": return .double(a / b)
            default: break
            }
        case (.string(let a), .string(let b)) where op == "_+_": return .string(a + b)
        case (.bytes(let a), .bytes(let b)) where op == "_+_": return .bytes(a + b)
        case (.list(let a), .list(let b)) where op == "_+_": return .list(a + b)
        case (.duration(let a), .duration(let b)) where op == "_+_" || op == "_-_":
            let (v, overflow) = op == "_+_" ? a.addingReportingOverflow(b) : a.subtractingReportingOverflow(b)
            if overflow { throw CELEvaluationError("integer overflow") }
            return .duration(v)
        case (.timestamp(let s, let n), .duration(let d)) where op == "_+_" || op == "_-_":
            let total = (Int64(n) + (op == "_+_" ? d : -d) % 1_000_000_000)
            let seconds = s + (op == "_+_" ? d : -d) / 1_000_000_000 + (total >= 1_000_000_000 ? 1 : total < 0 ? -1 : 0)
            let nanos = ((total % 1_000_000_000) + 1_000_000_000) % 1_000_000_000
            return .timestamp(seconds, Int32(nanos))
        case (.timestamp(let s1, let n1), .timestamp(let s2, let n2)) where op == "_-_":
            return .duration((s1 - s2) * 1_000_000_000 + Int64(n1 - n2))
        default: break
        }
        throw CELEvaluationError.noOverload(op, [x, y])
    }

    static func index(_ container: CELValue, _ key: CELValue) throws(CELEvaluationError) -> CELValue {
        switch container {
        case .list(let items):
            let i: Int64
            switch key {
            case .int(let v): i = v
            case .uint(let v): i = Int64(clamping: v)
            case .double(let d) where d.rounded() == d: i = Int64(d)
            default: throw CELEvaluationError.noOverload("_[_]", [container, key])
            }
            guard i >= 0, i < items.count else { throw CELEvaluationError("index out of bounds: \(i)") }
            return items[Int(i)]
        case .map(let m):
            guard let v = m[key] else { throw CELEvaluationError("no such key: \(key.displayKey)") }
            return v
        default:
            throw CELEvaluationError.noOverload("_[_]", [container, key])
        }
    }

    // MARK: library

    static func library(_ name: String, member: Bool, _ a: [CELValue], budget: inout Int) throws(CELEvaluationError) -> CELValue? {
        switch (name, a.first, a.count) {
        case ("size", .string(let s)?, 1): return .int(Int64(s.unicodeScalars.count))
        case ("size", .bytes(let b)?, 1): return .int(Int64(b.count))
        case ("size", .list(let l)?, 1): return .int(Int64(l.count))
        case ("size", .map(let m)?, 1): return .int(Int64(m.count))
        case ("contains", .string(let s)?, 2):
            guard case .string(let t) = a[1] else { return nil }
            return .bool(t.isEmpty || s.contains(t))
        case ("startsWith", .string(let s)?, 2):
            guard case .string(let t) = a[1] else { return nil }
            return .bool(s.unicodeScalars.starts(with: t.unicodeScalars))
        case ("endsWith", .string(let s)?, 2):
            guard case .string(let t) = a[1] else { return nil }
            return .bool(Array(s.unicodeScalars).reversed().starts(with: Array(t.unicodeScalars).reversed()))
        case ("matches", .string(let s)?, 2):
            guard case .string(let pattern) = a[1] else { return nil }
            return .bool(try firstMatch(pattern, s) != nil)
        case ("find", .string(let s)?, 2):
            guard case .string(let pattern) = a[1] else { return nil }
            guard let m = try firstMatch(pattern, s) else { return .string("") }
            return .string(String(s[m]))
        case ("findAll", .string(let s)?, 2), ("findAll", .string(let s)?, 3):
            guard case .string(let pattern) = a[1] else { return nil }
            var limit = Int.max
            if a.count == 3 { guard case .int(let n) = a[2] else { return nil }; if n >= 0 { limit = Int(n) } }
            return .list(s.matches(of: try regex(pattern)).prefix(limit).map { .string(String(s[$0.range])) })
        case ("charAt", .string(let s)?, 2):
            guard case .int(let i) = a[1] else { return nil }
            let scalars = Array(s.unicodeScalars)
            guard i >= 0, i <= scalars.count else { throw CELEvaluationError("index out of range: \(i)") }
            return .string(i == scalars.count ? "" : String(scalars[Int(i)]))
        case ("indexOf", .string(let s)?, 2), ("indexOf", .string(let s)?, 3),
             ("lastIndexOf", .string(let s)?, 2), ("lastIndexOf", .string(let s)?, 3):
            guard case .string(let t) = a[1] else { return nil }
            let hay = Array(s.unicodeScalars), needle = Array(t.unicodeScalars)
            let last = name == "lastIndexOf"
            var from = last ? hay.count - needle.count : 0
            if a.count == 3 {
                guard case .int(let f) = a[2] else { return nil }
                guard f >= 0, f <= hay.count else { throw CELEvaluationError("index out of range: \(f)") }
                from = last ? min(Int(f), hay.count - needle.count) : Int(f)
            }
            if needle.isEmpty { return .int(Int64(last ? min(from, hay.count) : from)) }
            let candidates = last ? Array(stride(from: from, through: 0, by: -1)) : Array(stride(from: from, through: hay.count - needle.count, by: 1))
            for i in candidates where i >= 0 && i + needle.count <= hay.count && Array(hay[i..<i + needle.count]) == needle { return .int(Int64(i)) }
            return .int(-1)
        case ("lowerAscii", .string(let s)?, 1):
            return .string(String(String.UnicodeScalarView(s.unicodeScalars.map { ($0.value >= 65 && $0.value <= 90) ? Unicode.Scalar($0.value + 32)! : $0 })))
        case ("upperAscii", .string(let s)?, 1):
            return .string(String(String.UnicodeScalarView(s.unicodeScalars.map { ($0.value >= 97 && $0.value <= 122) ? Unicode.Scalar($0.value - 32)! : $0 })))
        case ("replace", .string(let s)?, 3), ("replace", .string(let s)?, 4):
            guard case .string(let old) = a[1], case .string(let new) = a[2] else { return nil }
            var limit = -1
            if a.count == 4 { guard case .int(let n) = a[3] else { return nil }; limit = Int(n) }
            if limit == 0 { return .string(s) }
            if old.isEmpty {
                var out = "", count = 0
                for c in s.unicodeScalars {
                    if limit < 0 || count < limit { out += new; count += 1 }
                    out.unicodeScalars.append(c)
                }
                if limit < 0 || count < limit { out += new }
                return .string(out)
            }
            var parts = s.components(separatedBy: old)
            if limit > 0 && parts.count - 1 > limit {
                let head = parts.prefix(limit + 1).dropLast().joined(separator: new)
                let tail = parts.dropFirst(limit).joined(separator: old)
                parts = [head, tail]
                return .string(parts.joined(separator: new))
            }
            return .string(parts.joined(separator: new))
        case ("split", .string(let s)?, 2), ("split", .string(let s)?, 3):
            guard case .string(let sep) = a[1] else { return nil }
            var limit = -1
            if a.count == 3 { guard case .int(let n) = a[2] else { return nil }; limit = Int(n) }
            if limit == 0 { return .list([]) }
            var parts: [String] = sep.isEmpty ? s.unicodeScalars.map { String($0) } : s.components(separatedBy: sep)
            if limit > 0 && parts.count > limit {
                parts = Array(parts.prefix(limit - 1)) + [parts.dropFirst(limit - 1).joined(separator: sep)]
            }
            return .list(parts.map { .string($0) })
        case ("substring", .string(let s)?, 2), ("substring", .string(let s)?, 3):
            let scalars = Array(s.unicodeScalars)
            guard case .int(let start) = a[1] else { return nil }
            var end = Int64(scalars.count)
            if a.count == 3 { guard case .int(let e) = a[2] else { return nil }; end = e }
            guard start >= 0, start <= scalars.count else { throw CELEvaluationError("index out of range: \(start)") }
            guard end >= 0, end <= scalars.count else { throw CELEvaluationError("index out of range: \(end)") }
            guard start <= end else { throw CELEvaluationError("invalid substring range. start: \(start), end: \(end)") }
            return .string(String(String.UnicodeScalarView(scalars[Int(start)..<Int(end)])))
        case ("trim", .string(let s)?, 1): return .string(s.trimmingCharacters(in: .whitespacesAndNewlines))
        case ("reverse", .string(let s)?, 1): return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed())))
        case ("join", .list(let l)?, 1), ("join", .list(let l)?, 2):
            var sep = ""
            if a.count == 2 { guard case .string(let s) = a[1] else { return nil }; sep = s }
            var parts: [String] = []
            for item in l {
                guard case .string(let s) = item else { throw CELEvaluationError.noOverload("join", [item]) }
                parts.append(s)
            }
            return .string(parts.joined(separator: sep))
        case ("isSorted", .list(let l)?, 1):
            for (x, y) in zip(l, l.dropFirst()) where try CELRuntime.compare(x, y, "isSorted") > 0 { return .bool(false) }
            return .bool(true)
        case ("sum", .list(let l)?, 1):
            guard var total = l.first else { return .int(0) }
            for item in l.dropFirst() { total = try arithmetic("_+_", total, item) }
            return total
        case ("min", .list(let l)?, 1), ("max", .list(let l)?, 1):
            guard var best = l.first else { throw CELEvaluationError("\(name)(list) called on an empty list") }
            for item in l.dropFirst() {
                let c = try CELRuntime.compare(item, best, name)
                if name == "min" ? c < 0 : c > 0 { best = item }
            }
            return best
        case ("indexOf", .list(let l)?, 2): return .int(Int64(l.firstIndex { CELRuntime.equal($0, a[1]) } ?? -1))
        case ("lastIndexOf", .list(let l)?, 2): return .int(Int64(l.lastIndex { CELRuntime.equal($0, a[1]) } ?? -1))
        default:
            return try conversion(name, a)
        }
    }

    static func conversion(_ name: String, _ a: [CELValue]) throws(CELEvaluationError) -> CELValue? {
        guard a.count == 1 else { return nil }
        let v = a[0]
        switch (name, v) {
        case ("dyn", _): return v
        case ("type", _): return .type(v.typeName)
        case ("int", .int): return v
        case ("int", .uint(let u)):
            guard u <= UInt64(Int64.max) else { throw CELEvaluationError("integer overflow") }
            return .int(Int64(u))
        case ("int", .double(let d)):
            guard d.isFinite, d > -9.2233720368547758e18, d < 9.2233720368547758e18 else { throw CELEvaluationError("integer overflow") }
            return .int(Int64(d))
        case ("int", .string(let s)):
            guard let i = Int64(s) else { throw CELEvaluationError("type conversion error") }
            return .int(i)
        case ("int", .timestamp(let s, _)): return .int(s)
        case ("int", .duration(let n)): return .int(n)
        case ("uint", .uint): return v
        case ("uint", .int(let i)):
            guard i >= 0 else { throw CELEvaluationError("unsigned integer overflow") }
            return .uint(UInt64(i))
        case ("uint", .double(let d)):
            guard d.isFinite, d >= 0, d < 1.8446744073709552e19 else { throw CELEvaluationError("unsigned integer overflow") }
            return .uint(UInt64(d))
        case ("uint", .string(let s)):
            guard let u = UInt64(s) else { throw CELEvaluationError("type conversion error") }
            return .uint(u)
        case ("double", .double): return v
        case ("double", .int(let i)): return .double(Double(i))
        case ("double", .uint(let u)): return .double(Double(u))
        case ("double", .string(let s)):
            guard let d = Double(s) else { throw CELEvaluationError("type conversion error") }
            return .double(d)
        case ("string", .string): return v
        case ("string", .int(let i)): return .string(String(i))
        case ("string", .uint(let u)): return .string(String(u))
        case ("string", .double(let d)): return .string(d.rounded() == d && abs(d) < 1e21 ? String(format: "%g", d) : String(d))
        case ("string", .bool(let b)): return .string(b ? "true" : "false")
        case ("string", .bytes(let b)):
            guard let s = String(validating: b, as: UTF8.self) else { throw CELEvaluationError("invalid UTF-8 in bytes, cannot convert to string") }
            return .string(s)
        case ("string", .duration(let n)): return .string(durationText(n))
        case ("string", .timestamp(let s, let n)): return .string(timestampText(s, n))
        case ("bytes", .bytes): return v
        case ("bytes", .string(let s)): return .bytes(Array(s.utf8))
        case ("bool", .bool): return v
        case ("bool", .string(let s)):
            switch s {
            case "1", "t", "T", "true", "TRUE", "True": return .bool(true)
            case "0", "f", "F", "false", "FALSE", "False": return .bool(false)
            default: throw CELEvaluationError("type conversion error")
            }
        case ("duration", .string(let s)):
            guard let n = parseDuration(s) else { throw CELEvaluationError("type conversion error from 'string' to 'google.protobuf.Duration'") }
            return .duration(n)
        case ("duration", .duration): return v
        case ("timestamp", .string(let s)):
            guard let t = parseTimestamp(s) else { throw CELEvaluationError("type conversion error from 'string' to 'google.protobuf.Timestamp'") }
            return t
        case ("timestamp", .timestamp): return v
        case ("timestamp", .int(let s)): return .timestamp(s, 0)
        default: return nil
        }
    }

    // MARK: helpers

    static func firstMatch(_ pattern: String, _ s: String) throws(CELEvaluationError) -> Range<String.Index>? {
        let r = try regex(pattern)
        do { return try r.firstMatch(in: s)?.range } catch { throw CELEvaluationError("regular expression \(pattern): \(error)") }
    }

    static func regex(_ pattern: String) throws(CELEvaluationError) -> Regex<AnyRegexOutput> {
        do { return try Regex(pattern) } catch { throw CELEvaluationError("invalid regular expression: \(pattern)") }
    }

    /// Go/protobuf durations: `1h30m`, `1.5s`, `300ms`, `-2us`.
    static func parseDuration(_ text: String) -> Int64? {
        var s = Substring(text)
        var negative = false
        if s.hasPrefix("-") { negative = true; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
        if s == "0" { return 0 }
        guard !s.isEmpty else { return nil }
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 6e10), ("h", 3.6e12)]
        var total = 0.0
        while !s.isEmpty {
            let number = s.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            s = s.dropFirst(number.count)
            guard let unit = units.sorted(by: { $0.0.count > $1.0.count }).first(where: { s.hasPrefix($0.0) }) else { return nil }
            s = s.dropFirst(unit.0.count)
            total += value * unit.1
        }
        guard total < 9.2e18 else { return nil }
        return Int64(negative ? -total : total)
    }

    static func durationText(_ n: Int64) -> String {
        let seconds = Double(n) / 1e9
        return seconds.rounded() == seconds ? "\(Int64(seconds))s" : "\(seconds)s"
    }

    static func parseTimestamp(_ text: String) -> CELValue? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text) {
            let t = d.timeIntervalSince1970
            let seconds = t.rounded(.down)
            return .timestamp(Int64(seconds), Int32(((t - seconds) * 1e9).rounded()))
        }
        return nil
    }

    static func timestampText(_ s: Int64, _ n: Int32) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(s)))
    }
}
