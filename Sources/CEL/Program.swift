/// A compiled CEL expression: parsed, type-checked against the variables it may use, ready to
/// evaluate any number of times. Pure: no I/O, no clock.
///
/// The subset is what Kubernetes validation rules use: literals, field selection, indexing,
/// `has()`, `size()`, `in`, arithmetic, comparison, `&&` `||` `!`, `?:`; the macros `all`,
/// `exists`, `exists_one`, `map`, `filter`; the string functions (`contains`, `startsWith`,
/// `endsWith`, `matches`, `charAt`, `indexOf`, `lastIndexOf`, `lowerAscii`, `upperAscii`,
/// `replace`, `split`, `substring`, `trim`, `join`, `reverse`, `find`, `findAll`); the
/// Kubernetes list functions (`isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf`);
/// conversions, `duration()` and `timestamp()`.
public struct CELProgram: Sendable {
    public let source: String
    /// What the expression evaluates to, as far as the checker knows (`dyn` when it cannot tell).
    public let resultType: CELType
    let root: CELNode

    /// Parses and checks `source`; the error is worded like cel-go's
    /// (`ERROR: <input>:1:6: undeclared reference to 'x' (in container '')`, line, caret).
    public static func compile(_ source: String, variables: [String: CELType]) throws(CELError) -> CELProgram {
        do {
            let root = try Parser.parse(source)
            var checker = Checker(variables: variables)
            let type = try checker.check(root)
            return CELProgram(source: source, resultType: type, root: root)
        } catch {
            throw CELError(error.report(source), at: error.offset)
        }
    }

    /// Evaluates with these variable values. `budget` bounds the steps taken (Kubernetes'
    /// runtime cost limit in spirit); exceeding it is an error.
    public func evaluate(_ variables: [String: CELValue], budget: Int = 1_000_000) throws(CELEvaluationError) -> CELValue {
        var runtime = CELRuntime(variables: variables, budget: budget)
        return try runtime.eval(root)
    }

    /// Whether the expression refers to variable `name` (e.g. `oldSelf`: a transition rule).
    public func references(_ name: String) -> Bool { Self.references(root, name) }

    private static func references(_ node: CELNode, _ name: String) -> Bool {
        switch node.kind {
        case .literal: return false
        case .ident(let n): return n == name
        case .select(let operand, _, _): return references(operand, name)
        case .call(_, let target, let args): return (target.map { references($0, name) } ?? false) || args.contains { references($0, name) }
        case .list(let items): return items.contains { references($0, name) }
        case .map(let entries): return entries.contains { references($0.0, name) || references($0.1, name) }
        case .comprehension(_, let range, let variable, let args):
            return references(range, name) || (variable != name && args.contains { references($0, name) })
        }
    }
}
