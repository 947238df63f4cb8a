/// The type checker: undeclared names, fields an object does not have, functions that do not
/// exist, and operators applied to types they have no overload for, all before anything runs
/// (what makes a CRD with a broken rule fail to be created). `dyn` passes everywhere.
struct Checker {
    var variables: [String: CELType]

    mutating func check(_ node: CELNode) throws(CELError) -> CELType {
        switch node.kind {
        case .literal(let v):
            switch v {
            case .null: return .null
            case .bool: return .bool
            case .int: return .int
            case .uint: return .uint
            case .double: return .double
            case .string: return .string
            case .bytes: return .bytes
            default: return .dyn
            }
        case .ident(let name):
            if let t = variables[name] { return t }
            if CELRuntime.typeIdentifiers[name] != nil { return .type }
            throw CELError("undeclared reference to '\(name)' (in container '')", at: node.offset)
        case .select(let operand, let field, let test):
            let t = try check(operand)
            switch t {
            case .dyn: return test ? .bool : .dyn
            case .map(_, let v): return test ? .bool : v
            case .object(_, let fields, let open):
                guard let f = fields[field] ?? (open ? .dyn : nil) else { throw CELError("undefined field '\(field)'", at: node.offset) }
                return test ? .bool : f
            default:
                throw CELError("type '\(t)' does not support field selection", at: node.offset)
            }
        case .list(let items):
            var element: CELType?
            for item in items {
                let t = try check(item)
                element = element.map { $0 == t ? $0 : .dyn } ?? t
            }
            return .list(element ?? .dyn)
        case .map(let entries):
            var key: CELType?, value: CELType?
            for (k, v) in entries {
                let kt = try check(k), vt = try check(v)
                key = key.map { $0 == kt ? $0 : .dyn } ?? kt
                value = value.map { $0 == vt ? $0 : .dyn } ?? vt
            }
            return .map(key ?? .dyn, value ?? .dyn)
        case .comprehension(let macro, let range, let variable, let args):
            let rangeType = try check(range)
            let element: CELType
            switch rangeType {
            case .list(let e): element = e
            case .map(let k, _): element = k
            case .dyn: element = .dyn
            case .object: element = .string
            default:
                throw CELError("expression of type '\(rangeType)' cannot be range of a comprehension (must be list, map, or dynamic)", at: range.offset)
            }
            let saved = variables[variable]
            variables[variable] = element
            defer { variables[variable] = saved }
            var last: CELType = .dyn
            for (i, arg) in args.enumerated() {
                last = try check(arg)
                let isPredicate = macro != .map || (args.count == 2 && i == 0)
                if isPredicate, !CELType.bool.accepts(last) {
                    throw CELError("found no matching overload for '\(macro.rawValue)' applied to a predicate of type '\(last)'", at: arg.offset)
                }
            }
            switch macro {
            case .all, .exists, .existsOne: return .bool
            case .filter: return .list(element)
            case .map: return .list(last)
            }
        case .call(let name, let target, let args):
            let targetType = try target.map { n throws(CELError) in try check(n) }
            var argTypes: [CELType] = []
            for arg in args { argTypes.append(try check(arg)) }
            guard let result = Self.result(name, targetType, argTypes) else {
                let known = target == nil ? (CELFunctions.globals.contains(name) || name.hasPrefix("_") || name == "!_" || name == "-_" || name == "@in")
                                          : CELFunctions.members.contains(name)
                if !known { throw CELError("undeclared reference to '\(name)' (in container '')", at: node.offset) }
                let shown = (targetType.map { ["\($0)"] } ?? []) + argTypes.map(\.description)
                let display = name == "@in" ? "@in" : name
                throw CELError("found no matching overload for '\(display)' applied to '\(targetType == nil ? "" : "\(shown[0]).")(\(shown.dropFirst(targetType == nil ? 0 : 1).joined(separator: ", ")))'", at: node.offset)
            }
            return result
        }
    }

    /// The result type of a call, or nil when no overload takes these argument types.
    static func result(_ name: String, _ target: CELType?, _ a: [CELType]) -> CELType? {
        func all(_ ts: [CELType], _ expected: CELType) -> Bool { ts.allSatisfy { expected.accepts($0) } }
        func numeric(_ t: CELType) -> Bool { t == .dyn || t.isNumeric }
        func orderable(_ t: CELType) -> Bool { [.dyn, .int, .uint, .double, .string, .bytes, .bool, .duration, .timestamp].contains(t) }
        if target == nil {
            switch (name, a.count) {
            case ("!_", 1): return all(a, .bool) ? .bool : nil
            case ("-_", 1): return numeric(a[0]) || a[0] == .duration ? a[0] : nil
            case ("_&&_", 2), ("_||_", 2): return all(a, .bool) ? .bool : nil
            case ("_?_:_", 3):
                guard CELType.bool.accepts(a[0]) else { return nil }
                return a[1] == a[2] ? a[1] : (a[1] == .null ? a[2] : a[2] == .null ? a[1] : .dyn)
            case ("_==_", 2), ("_!=_", 2):
                if a[0].accepts(a[1]) || (a[0].isNumeric && a[1].isNumeric) { return .bool }
                return nil
            case ("_<_", 2), ("_<=_", 2), ("_>_", 2), ("_>=_", 2):
                guard orderable(a[0]), orderable(a[1]) else { return nil }
                if a[0] == .dyn || a[1] == .dyn || a[0] == a[1] || (a[0].isNumeric && a[1].isNumeric) { return .bool }
                return nil
            case ("_+_", 2), ("_-_", 2), ("_*_", 2), ("_/_", 2), ("_%_", 2):
                if a[0] == .dyn { return a[1] == .dyn ? .dyn : a[1] }
                if a[1] == .dyn { return a[0] }
                switch (a[0], a[1]) {
                case (.int, .int), (.uint, .uint): return a[0]
                case (.double, .double): return name == "_%_" ? nil : .double
                case (.string, .string), (.bytes, .bytes): return name == "_+_" ? a[0] : nil
                case (.list(let x), .list(let y)): return name == "_+_" ? .list(x == y ? x : .dyn) : nil
                case (.duration, .duration): return name == "_+_" || name == "_-_" ? .duration : nil
                case (.timestamp, .duration): return name == "_+_" || name == "_-_" ? .timestamp : nil
                case (.timestamp, .timestamp): return name == "_-_" ? .duration : nil
                default: return nil
                }
            case ("_[_]", 2):
                switch a[0] {
                case .list(let e): return a[1] == .dyn || a[1] == .int || a[1] == .uint ? e : nil
                case .map(_, let v): return v
                case .object(_, let fields, _): return .dyn == a[1] || a[1] == .string ? (fields.count == 1 ? fields.first!.value : .dyn) : nil
                case .dyn: return .dyn
                default: return nil
                }
            case ("@in", 2):
                switch a[1] {
                case .list, .map, .dyn, .object: return .bool
                default: return nil
                }
            case ("size", 1): return [.dyn, .string, .bytes].contains(a[0]) || isCollection(a[0]) ? .int : nil
            case ("matches", 2): return all(a, .string) ? .bool : nil
            case ("int", 1): return .int
            case ("uint", 1): return .uint
            case ("double", 1): return .double
            case ("string", 1): return .string
            case ("bool", 1): return [.dyn, .bool, .string].contains(a[0]) ? .bool : nil
            case ("bytes", 1): return [.dyn, .bytes, .string].contains(a[0]) ? .bytes : nil
            case ("dyn", 1): return .dyn
            case ("type", 1): return .type
            case ("duration", 1): return [.dyn, .string, .duration].contains(a[0]) ? .duration : nil
            case ("timestamp", 1): return [.dyn, .string, .int, .timestamp].contains(a[0]) ? .timestamp : nil
            default: return nil
            }
        }
        guard let t = target else { return nil }
        let isString = t == .dyn || t == .string
        let listElement: CELType? = if case .list(let e) = t { e } else { t == .dyn ? .dyn : nil }
        switch (name, a.count) {
        case ("size", 0): return isString || t == .bytes || isCollection(t) ? .int : nil
        case ("contains", 1), ("startsWith", 1), ("endsWith", 1), ("matches", 1): return isString && all(a, .string) ? .bool : nil
        case ("find", 1): return isString && all(a, .string) ? .string : nil
        case ("findAll", 1): return isString && all(a, .string) ? .list(.string) : nil
        case ("findAll", 2): return isString && CELType.string.accepts(a[0]) && CELType.int.accepts(a[1]) ? .list(.string) : nil
        case ("charAt", 1): return isString && all(a, .int) ? .string : nil
        case ("indexOf", 1), ("lastIndexOf", 1):
            if t == .string { return all(a, .string) ? .int : nil }
            return listElement.map { _ in .int } ?? (isString ? .int : nil)
        case ("indexOf", 2), ("lastIndexOf", 2): return isString && CELType.string.accepts(a[0]) && CELType.int.accepts(a[1]) ? .int : nil
        case ("lowerAscii", 0), ("upperAscii", 0), ("trim", 0), ("reverse", 0): return isString ? .string : nil
        case ("replace", 2): return isString && all(a, .string) ? .string : nil
        case ("replace", 3): return isString && all(Array(a.prefix(2)), .string) && CELType.int.accepts(a[2]) ? .string : nil
        case ("split", 1): return isString && all(a, .string) ? .list(.string) : nil
        case ("split", 2): return isString && CELType.string.accepts(a[0]) && CELType.int.accepts(a[1]) ? .list(.string) : nil
        case ("substring", 1): return isString && all(a, .int) ? .string : nil
        case ("substring", 2): return isString && all(a, .int) ? .string : nil
        case ("join", 0): return listElement.map { CELType.string.accepts($0) } == true ? .string : nil
        case ("join", 1): return listElement.map { CELType.string.accepts($0) } == true && all(a, .string) ? .string : nil
        case ("isSorted", 0): return listElement.map(orderable) == true ? .bool : nil
        case ("sum", 0):
            guard let e = listElement, e == .dyn || e.isNumeric || e == .duration else { return nil }
            return e
        case ("min", 0), ("max", 0):
            guard let e = listElement, orderable(e) else { return nil }
            return e
        default: return nil
        }
    }

    static func isCollection(_ t: CELType) -> Bool {
        switch t {
        case .list, .map, .object: true
        default: false
        }
    }
}
