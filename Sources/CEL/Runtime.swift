import Foundation

/// An evaluation error (`no such key: x`, `division by zero`, ...), worded like cel-go.
public struct CELEvaluationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    static func noOverload(_ name: String, _ args: [CELValue]) -> CELEvaluationError {
        CELEvaluationError("no such overload: \(name)(\(args.map(\.typeName).joined(separator: ", ")))")
    }
    /// The step budget ran out.
    public static let costExceeded = CELEvaluationError("operation cancelled: actual cost limit exceeded")
}

/// The interpreter: a tree walk with CEL's error semantics (`&&`, `||` and `?:` absorb an error
/// when the other side decides), a step budget, and the standard and Kubernetes libraries.
struct CELRuntime {
    var variables: [String: CELValue]
    var budget: Int

    mutating func eval(_ node: CELNode) throws(CELEvaluationError) -> CELValue {
        budget -= 1
        if budget < 0 { throw .costExceeded }
        switch node.kind {
        case .literal(let v): return v
        case .ident(let name):
            if let v = variables[name] { return v }
            if let t = Self.typeIdentifiers[name] { return .type(t) }
            throw CELEvaluationError("no such attribute: \(name)")
        case .select(let operand, let field, let test):
            let value = try eval(operand)
            guard case .map(let m) = value else {
                throw CELEvaluationError(test ? "invalid type for field selection." : "type '\(value.typeName)' does not support field selection")
            }
            if test { return .bool(m[.string(field)] != nil) }
            guard let v = m[.string(field)] else { throw CELEvaluationError("no such key: \(field)") }
            return v
        case .list(let items):
            var out: [CELValue] = []
            for item in items { out.append(try eval(item)) }
            return .list(out)
        case .map(let entries):
            var m = CELMap()
            for (k, v) in entries {
                let key = try eval(k)
                if m[key] != nil { throw CELEvaluationError("Failed with repeated key") }
                m[key] = try eval(v)
            }
            return .map(m)
        case .comprehension(let macro, let range, let variable, let args):
            return try comprehension(macro, try eval(range), variable, args)
        case .call(let name, let target, let args):
            return try call(name, target, args)
        }
    }

    static let typeIdentifiers = ["int": "int", "uint": "uint", "double": "double", "string": "string", "bool": "bool", "bytes": "bytes",
                                  "list": "list", "map": "map", "null_type": "null_type", "type": "type"]

    // MARK: macros

    mutating func comprehension(_ macro: CELNode.Macro, _ range: CELValue, _ variable: String, _ args: [CELNode]) throws(CELEvaluationError) -> CELValue {
        let items: [CELValue]
        switch range {
        case .list(let l): items = l
        case .map(let m): items = m.entries.map(\.key)
        default: throw CELEvaluationError("expression of type '\(range.typeName)' cannot be range of a comprehension (must be list, map, or dynamic)")
        }
        let saved = variables[variable]
        defer { variables[variable] = saved }
        func test(_ item: CELValue, _ node: CELNode) throws(CELEvaluationError) -> Bool {
            variables[variable] = item
            let result = try eval(node)
            guard case .bool(let b) = result else { throw CELEvaluationError("no such overload: predicate of type \(result.typeName)") }
            return b
        }
        switch macro {
        case .all, .exists:
            var firstError: CELEvaluationError?
            for item in items {
                do throws(CELEvaluationError) {
                    let b = try test(item, args[0])
                    if macro == .all && !b { return .bool(false) }
                    if macro == .exists && b { return .bool(true) }
                } catch {
                    if error == .costExceeded { throw error }
                    firstError = firstError ?? error
                }
            }
            if let firstError { throw firstError }
            return .bool(macro == .all)
        case .existsOne:
            var count = 0
            for item in items where try test(item, args[0]) { count += 1 }
            return .bool(count == 1)
        case .filter:
            var out: [CELValue] = []
            for item in items where try test(item, args[0]) { out.append(item) }
            return .list(out)
        case .map:
            var out: [CELValue] = []
            for item in items {
                if args.count == 2, !(try test(item, args[0])) { continue }
                variables[variable] = item
                out.append(try eval(args[args.count - 1]))
            }
            return .list(out)
        }
    }

    // MARK: calls

    mutating func call(_ name: String, _ target: CELNode?, _ args: [CELNode]) throws(CELEvaluationError) -> CELValue {
        switch name {
        case "_&&_", "_||_":
            let decisive = name == "_||_"
            var firstError: CELEvaluationError?
            for arg in args {
                do throws(CELEvaluationError) {
                    let v = try eval(arg)
                    guard case .bool(let b) = v else { throw CELEvaluationError.noOverload(name, [v]) }
                    if b == decisive { return .bool(decisive) }
                } catch {
                    if error == .costExceeded { throw error }
                    firstError = firstError ?? error
                }
            }
            if let firstError { throw firstError }
            return .bool(!decisive)
        case "_?_:_":
            let c = try eval(args[0])
            guard case .bool(let b) = c else { throw CELEvaluationError.noOverload(name, [c]) }
            return try eval(b ? args[1] : args[2])
        default:
            break
        }
        var values: [CELValue] = []
        if let target { values.append(try eval(target)) }
        for arg in args { values.append(try eval(arg)) }
        return try CELFunctions.apply(name, member: target != nil, values, budget: &budget)
    }

    // MARK: equality and order

    /// CEL equality: numbers compare by value across int, uint and double; lists and maps
    /// element by element.
    static func equal(_ a: CELValue, _ b: CELValue) -> Bool {
        switch (a, b) {
        case (.list(let x), .list(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.map(let x), .map(let y)): return x == y
        default:
            if let c = compareNumbers(a, b) { return c == 0 }
            return a == b
        }
    }

    static func compareNumbers(_ a: CELValue, _ b: CELValue) -> Int? {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.uint(let x), .uint(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.int(let x), .uint(let y)): return x < 0 ? -1 : UInt64(x) < y ? -1 : UInt64(x) > y ? 1 : 0
        case (.uint, .int): return compareNumbers(b, a).map { -$0 }
        case (.double(let x), .double(let y)): return x.isNaN || y.isNaN ? nil : x < y ? -1 : x > y ? 1 : 0
        case (.double(let x), .int(let y)): return compareNumbers(.double(x), .double(Double(y)))
        case (.double(let x), .uint(let y)): return compareNumbers(.double(x), .double(Double(y)))
        case (.int, .double), (.uint, .double): return compareNumbers(b, a).map { -$0 }
        default: return nil
        }
    }

    static func compare(_ a: CELValue, _ b: CELValue, _ op: String) throws(CELEvaluationError) -> Int {
        if let c = compareNumbers(a, b) { return c }
        switch (a, b) {
        case (.string(let x), .string(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.bytes(let x), .bytes(let y)): return x.lexicographicallyPrecedes(y) ? -1 : x == y ? 0 : 1
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (!x ? -1 : 1)
        case (.duration(let x), .duration(let y)): return x < y ? -1 : x > y ? 1 : 0
        case (.timestamp(let s1, let n1), .timestamp(let s2, let n2)): return (s1, n1) < (s2, n2) ? -1 : (s1, n1) == (s2, n2) ? 0 : 1
        default: throw CELEvaluationError.noOverload(op, [a, b])
        }
    }
}
