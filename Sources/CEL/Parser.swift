/// A node of a parsed expression, with the offset it starts at (for error positions).
public struct CELNode: Sendable {
    public indirect enum Kind: Sendable {
        case literal(CELValue)
        case ident(String)
        /// `operand.field`; `test` is `has(operand.field)`.
        case select(CELNode, String, test: Bool)
        /// A function or operator: `_+_`, `_&&_`, `!_`, `-_`, `_?_:_`, `_[_]`, `@in`, or a name;
        /// `target` for the receiver style `x.f(y)`.
        case call(String, target: CELNode?, args: [CELNode])
        case list([CELNode])
        case map([(CELNode, CELNode)])
        /// `all`, `exists`, `exists_one`, `map` (with an optional filter), `filter`.
        case comprehension(Macro, range: CELNode, variable: String, args: [CELNode])
    }

    public enum Macro: String, Sendable { case all, exists, existsOne = "exists_one", map, filter }

    public var kind: Kind
    public var offset: Int
}

/// A compile error: where (line and column in the rule) and what, worded like cel-go.
public struct CELError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int?
    public init(_ message: String, at offset: Int? = nil) {
        self.message = message
        self.offset = offset
    }
    public var description: String { message }

    /// `ERROR: <input>:1:6: message` plus the line and a caret, as cel-go reports it.
    public func report(_ source: String) -> String {
        guard let offset else { return "ERROR: <input>: \(message)" }
        let chars = Array(source)
        var line = 1, column = 1, lineStart = 0
        for (i, c) in chars.enumerated() where i < offset {
            if c == "\n" { line += 1; column = 1; lineStart = i + 1 } else { column += 1 }
        }
        let lineText = String(chars[lineStart...].prefix { $0 != "\n" })
        return "ERROR: <input>:\(line):\(column): \(message)\n | \(lineText)\n | \(String(repeating: ".", count: column - 1))^"
    }
}

// MARK: lexer

struct Token: Equatable {
    enum Kind: Equatable {
        case int(Int64), uint(UInt64), double(Double), string(String), bytes([UInt8])
        case ident(String)
        case op(String)
        case end
    }
    var kind: Kind
    var offset: Int
}

struct Lexer {
    let chars: [Character]
    var i = 0

    init(_ source: String) { chars = Array(source) }

    mutating func tokens() throws(CELError) -> [Token] {
        var out: [Token] = []
        while true {
            let t = try next()
            out.append(t)
            if t.kind == .end { return out }
        }
    }

    private func peek(_ k: Int = 0) -> Character? { i + k < chars.count ? chars[i + k] : nil }

    private mutating func next() throws(CELError) -> Token {
        while let c = peek() {
            if c.isWhitespace { i += 1; continue }
            if c == "/", peek(1) == "/" { while let d = peek(), d != "\n" { i += 1 }; continue }
            break
        }
        let start = i
        guard let c = peek() else { return Token(kind: .end, offset: i) }
        if c.isNumber || (c == "." && peek(1)?.isNumber == true) { return try number(start) }
        if c == "\"" || c == "'" { return Token(kind: .string(try string(raw: false)), offset: start) }
        if (c == "r" || c == "R"), let q = peek(1), q == "\"" || q == "'" {
            i += 1
            return Token(kind: .string(try string(raw: true)), offset: start)
        }
        if (c == "b" || c == "B"), let q = peek(1), q == "\"" || q == "'" {
            i += 1
            return Token(kind: .bytes(Array(try string(raw: false).utf8)), offset: start)
        }
        if c.isLetter || c == "_" {
            var name = ""
            while let d = peek(), d.isLetter || d.isNumber || d == "_" { name.append(d); i += 1 }
            return Token(kind: .ident(name), offset: start)
        }
        for op in ["&&", "||", "==", "!=", "<=", ">="] where peek() == op.first && peek(1) == op.last {
            i += 2
            return Token(kind: .op(op), offset: start)
        }
        if "+-*/%!<>?:.,()[]{}".contains(c) {
            i += 1
            return Token(kind: .op(String(c)), offset: start)
        }
        throw CELError("Syntax error: token recognition error at: '\(c)'", at: start)
    }

    private mutating func number(_ start: Int) throws(CELError) -> Token {
        var text = ""
        if peek() == "0", peek(1) == "x" || peek(1) == "X" {
            i += 2
            while let d = peek(), d.isHexDigit { text.append(d); i += 1 }
            if peek() == "u" || peek() == "U" {
                i += 1
                guard let v = UInt64(text, radix: 16) else { throw CELError("Syntax error: invalid uint literal", at: start) }
                return Token(kind: .uint(v), offset: start)
            }
            guard let v = Int64(text, radix: 16) else { throw CELError("Syntax error: invalid int literal", at: start) }
            return Token(kind: .int(v), offset: start)
        }
        var isDouble = false
        while let d = peek(), d.isNumber { text.append(d); i += 1 }
        if peek() == ".", peek(1)?.isNumber == true {
            isDouble = true
            text.append("."); i += 1
            while let d = peek(), d.isNumber { text.append(d); i += 1 }
        }
        if peek() == "e" || peek() == "E" {
            isDouble = true
            text.append("e"); i += 1
            if let s = peek(), s == "+" || s == "-" { text.append(s); i += 1 }
            while let d = peek(), d.isNumber { text.append(d); i += 1 }
        }
        if isDouble {
            guard let v = Double(text) else { throw CELError("Syntax error: invalid double literal", at: start) }
            return Token(kind: .double(v), offset: start)
        }
        if peek() == "u" || peek() == "U" {
            i += 1
            guard let v = UInt64(text) else { throw CELError("Syntax error: invalid uint literal", at: start) }
            return Token(kind: .uint(v), offset: start)
        }
        // The magnitude of Int64.min only parses negated, which the parser does for `-` literals.
        if text == "9223372036854775808" { return Token(kind: .uint(9_223_372_036_854_775_808), offset: start) }
        guard let v = Int64(text) else { throw CELError("Syntax error: invalid int literal", at: start) }
        return Token(kind: .int(v), offset: start)
    }

    private mutating func string(raw: Bool) throws(CELError) -> String {
        let start = i
        guard let quote = peek() else { throw CELError("Syntax error: unterminated string", at: start) }
        let triple = peek(1) == quote && peek(2) == quote
        i += triple ? 3 : 1
        var out = ""
        while true {
            guard let c = peek() else { throw CELError("Syntax error: unterminated string", at: start) }
            if c == quote {
                if !triple { i += 1; return out }
                if peek(1) == quote && peek(2) == quote { i += 3; return out }
            }
            if c == "\n" && !triple { throw CELError("Syntax error: newline in a string", at: i) }
            if c == "\\" && !raw {
                i += 1
                guard let e = peek() else { throw CELError("Syntax error: unterminated string", at: start) }
                i += 1
                switch e {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "a": out.append("\u{07}")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "v": out.append("\u{0B}")
                case "\\", "\"", "'", "`", "?": out.append(e)
                case "u", "U", "x":
                    let count = e == "u" ? 4 : e == "U" ? 8 : 2
                    var hex = ""
                    for _ in 0..<count { if let h = peek(), h.isHexDigit { hex.append(h); i += 1 } }
                    guard hex.count == count, let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) else {
                        throw CELError("Syntax error: invalid escape sequence", at: i)
                    }
                    out.append(Character(scalar))
                default:
                    throw CELError("Syntax error: invalid escape sequence '\\\(e)'", at: i - 2)
                }
                continue
            }
            out.append(c)
            i += 1
        }
    }
}

// MARK: parser

/// Recursive descent over CEL's grammar (cel-spec, "Syntax").
struct Parser {
    var tokens: [Token]
    var p = 0
    var depth = 0
    static let maxDepth = 250

    init(_ source: String) throws(CELError) {
        var lexer = Lexer(source)
        tokens = try lexer.tokens()
    }

    static func parse(_ source: String) throws(CELError) -> CELNode {
        var parser = try Parser(source)
        let node = try parser.expr()
        guard case .end = parser.current.kind else {
            throw CELError("Syntax error: mismatched input '\(parser.text(parser.current))' expecting <EOF>", at: parser.current.offset)
        }
        return node
    }

    var current: Token { tokens[p] }

    func text(_ t: Token) -> String {
        switch t.kind {
        case .int(let i): String(i)
        case .uint(let u): "\(u)u"
        case .double(let d): String(d)
        case .string(let s): "'\(s)'"
        case .bytes: "b'...'"
        case .ident(let s): s
        case .op(let o): o
        case .end: "<EOF>"
        }
    }

    func isOp(_ op: String) -> Bool { current.kind == .op(op) }

    mutating func expect(_ op: String) throws(CELError) {
        guard isOp(op) else { throw CELError("Syntax error: mismatched input '\(text(current))' expecting '\(op)'", at: current.offset) }
        p += 1
    }

    mutating func expr() throws(CELError) -> CELNode {
        depth += 1
        defer { depth -= 1 }
        guard depth < Self.maxDepth else { throw CELError("expression recursion limit exceeded", at: current.offset) }
        let condition = try or()
        guard isOp("?") else { return condition }
        let at = current.offset
        p += 1
        let yes = try or()
        try expect(":")
        let no = try expr()
        return CELNode(kind: .call("_?_:_", target: nil, args: [condition, yes, no]), offset: at)
    }

    mutating func or() throws(CELError) -> CELNode {
        var left = try and()
        while isOp("||") {
            let at = current.offset
            p += 1
            left = CELNode(kind: .call("_||_", target: nil, args: [left, try and()]), offset: at)
        }
        return left
    }

    mutating func and() throws(CELError) -> CELNode {
        var left = try relation()
        while isOp("&&") {
            let at = current.offset
            p += 1
            left = CELNode(kind: .call("_&&_", target: nil, args: [left, try relation()]), offset: at)
        }
        return left
    }

    mutating func relation() throws(CELError) -> CELNode {
        var left = try addition()
        while true {
            let at = current.offset
            let name: String
            switch current.kind {
            case .op("<"), .op("<="), .op(">"), .op(">="), .op("=="), .op("!="):
                guard case .op(let o) = current.kind else { return left }
                name = "_\(o)_"
            case .ident("in"): name = "@in"
            default: return left
            }
            p += 1
            left = CELNode(kind: .call(name, target: nil, args: [left, try addition()]), offset: at)
        }
    }

    mutating func addition() throws(CELError) -> CELNode {
        var left = try multiplication()
        while isOp("+") || isOp("-") {
            guard case .op(let o) = current.kind else { break }
            let at = current.offset
            p += 1
            left = CELNode(kind: .call("_\(o)_", target: nil, args: [left, try multiplication()]), offset: at)
        }
        return left
    }

    mutating func multiplication() throws(CELError) -> CELNode {
        var left = try unary()
        while isOp("*") || isOp("/") || isOp("%") {
            guard case .op(let o) = current.kind else { break }
            let at = current.offset
            p += 1
            left = CELNode(kind: .call("_\(o)_", target: nil, args: [left, try unary()]), offset: at)
        }
        return left
    }

    mutating func unary() throws(CELError) -> CELNode {
        let at = current.offset
        if isOp("!") {
            p += 1
            return CELNode(kind: .call("!_", target: nil, args: [try unary()]), offset: at)
        }
        if isOp("-") {
            p += 1
            // Negative literals fold, so that -9223372036854775808 is an int.
            switch current.kind {
            case .int(let v) where !isMemberAfterLiteral:
                p += 1
                return try member(CELNode(kind: .literal(.int(-v)), offset: at))
            case .uint(9_223_372_036_854_775_808) where !isMemberAfterLiteral:
                p += 1
                return try member(CELNode(kind: .literal(.int(Int64.min)), offset: at))
            case .double(let v) where !isMemberAfterLiteral:
                p += 1
                return try member(CELNode(kind: .literal(.double(-v)), offset: at))
            default:
                return CELNode(kind: .call("-_", target: nil, args: [try unary()]), offset: at)
            }
        }
        return try member(try primary())
    }

    private var isMemberAfterLiteral: Bool { p + 1 < tokens.count && (tokens[p + 1].kind == .op(".") || tokens[p + 1].kind == .op("[")) }

    mutating func member(_ start: CELNode) throws(CELError) -> CELNode {
        var node = start
        while true {
            if isOp(".") {
                let at = current.offset
                p += 1
                guard case .ident(let name) = current.kind else {
                    throw CELError("Syntax error: no viable alternative at input '.\(text(current))'", at: current.offset)
                }
                p += 1
                if isOp("(") {
                    p += 1
                    let args = try arguments(")")
                    node = try call(name, target: node, args: args, at: at)
                } else {
                    node = CELNode(kind: .select(node, name, test: false), offset: at)
                }
            } else if isOp("[") {
                let at = current.offset
                p += 1
                let index = try expr()
                try expect("]")
                node = CELNode(kind: .call("_[_]", target: nil, args: [node, index]), offset: at)
            } else {
                return node
            }
        }
    }

    mutating func arguments(_ close: String) throws(CELError) -> [CELNode] {
        var args: [CELNode] = []
        if isOp(close) { p += 1; return args }
        while true {
            args.append(try expr())
            if isOp(",") {
                p += 1
                if isOp(close) { p += 1; return args }
                continue
            }
            try expect(close)
            return args
        }
    }

    /// Macros become comprehensions; `has(a.b)` a presence test.
    mutating func call(_ name: String, target: CELNode?, args: [CELNode], at: Int) throws(CELError) -> CELNode {
        if target == nil, name == "has" {
            guard args.count == 1, case .select(let operand, let field, _) = args[0].kind else {
                throw CELError("invalid argument to has() macro", at: at)
            }
            return CELNode(kind: .select(operand, field, test: true), offset: at)
        }
        if let target, let macro = CELNode.Macro(rawValue: name) {
            let arity = macro == .map ? [2, 3] : [2]
            if arity.contains(args.count) {
                guard case .ident(let variable) = args[0].kind else {
                    throw CELError("argument must be a simple name", at: args[0].offset)
                }
                return CELNode(kind: .comprehension(macro, range: target, variable: variable, args: Array(args.dropFirst())), offset: at)
            }
        }
        return CELNode(kind: .call(name, target: target, args: args), offset: at)
    }

    mutating func primary() throws(CELError) -> CELNode {
        let t = current
        p += 1
        switch t.kind {
        case .int(let v): return CELNode(kind: .literal(.int(v)), offset: t.offset)
        case .uint(let v): return CELNode(kind: .literal(.uint(v)), offset: t.offset)
        case .double(let v): return CELNode(kind: .literal(.double(v)), offset: t.offset)
        case .string(let s): return CELNode(kind: .literal(.string(s)), offset: t.offset)
        case .bytes(let b): return CELNode(kind: .literal(.bytes(b)), offset: t.offset)
        case .ident("true"): return CELNode(kind: .literal(.bool(true)), offset: t.offset)
        case .ident("false"): return CELNode(kind: .literal(.bool(false)), offset: t.offset)
        case .ident("null"): return CELNode(kind: .literal(.null), offset: t.offset)
        case .ident(let name):
            if ["in", "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop",
                "package", "namespace", "return", "var", "void", "while"].contains(name) {
                throw CELError("Syntax error: reserved identifier '\(name)'", at: t.offset)
            }
            if isOp("(") {
                p += 1
                return try call(name, target: nil, args: try arguments(")"), at: t.offset)
            }
            return CELNode(kind: .ident(name), offset: t.offset)
        case .op("("):
            let inner = try expr()
            try expect(")")
            return inner
        case .op("["):
            return CELNode(kind: .list(try arguments("]")), offset: t.offset)
        case .op("{"):
            var entries: [(CELNode, CELNode)] = []
            if isOp("}") { p += 1; return CELNode(kind: .map([]), offset: t.offset) }
            while true {
                let key = try expr()
                try expect(":")
                entries.append((key, try expr()))
                if isOp(",") { p += 1; if isOp("}") { p += 1; break }; continue }
                try expect("}")
                break
            }
            return CELNode(kind: .map(entries), offset: t.offset)
        case .op("."):
            guard case .ident(let name) = current.kind else { throw CELError("Syntax error: unexpected '.'", at: t.offset) }
            p += 1
            return CELNode(kind: .ident(name), offset: t.offset)
        case .end:
            throw CELError("Syntax error: mismatched input '<EOF>' expecting an expression", at: t.offset)
        default:
            throw CELError("Syntax error: mismatched input '\(text(t))'", at: t.offset)
        }
    }
}
