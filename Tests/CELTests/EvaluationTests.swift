import CEL
import Testing
import YAML

/// Evaluates `source` with `self` bound to `json` (typed dyn), or nil on a compile error.
func eval(_ source: String, _ json: JSON = .null, old: JSON? = nil) throws -> CELValue {
    var types: [String: CELType] = ["self": .dyn]
    var values: [String: CELValue] = ["self": CELValue(json: json)]
    if let old {
        types["oldSelf"] = .dyn
        values["oldSelf"] = CELValue(json: old)
    }
    return try CELProgram.compile(source, variables: types).evaluate(values)
}

@Suite struct EvaluationTests {
    @Test(arguments: [
        ("1 + 2 * 3 == 7", true), ("(1 + 2) * 3 == 9", true), ("7 / 2 == 3", true), ("7 % 3 == 1", true), ("-7 / 2 == -3", true),
        ("1.5 + 1.5 == 3.0", true), ("2u + 3u == 5u", true), ("'a' + 'b' == 'ab'", true), ("[1] + [2] == [1, 2]", true),
        ("1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3", true), ("1 < 1.5", true), ("'abc' < 'abd'", true), ("!(1 == 2)", true),
        ("true ? 1 == 1 : false", true), ("false || true", true), ("1 != 1", false), ("null == null", true),
        ("2 in [1, 2, 3]", true), ("'k' in {'k': 1}", true), ("4 in [1, 2]", false), ("size('héllo') == 5", true),
        ("size([1, 2]) == 2", true), ("{'a': 1}.size() == 1", true), ("[1, 2, 3][1] == 2", true), ("{'a': {'b': 5}}.a.b == 5", true),
        ("0x10 == 16", true), ("-9223372036854775808 < 0", true), ("r'\\d' == '\\\\d'", true), ("'''x''' == 'x'", true),
        ("b'ab' + b'c' == b'abc'", true), ("1 == 1.0", true), ("int('42') == 42", true), ("double(1) == 1.0", true),
        ("string(12) == '12'", true), ("uint(3) == 3u", true), ("type(1) == int", true), ("dyn(1) == 1", true),
        ("duration('1h30m') > duration('90s')", true), ("timestamp('2024-01-01T00:00:00Z') < timestamp('2024-06-01T00:00:00Z')", true),
    ])
    func basics(_ source: String, _ expected: Bool) throws {
        #expect(try eval(source) == .bool(expected), "\(source)")
    }

    @Test(arguments: [
        ("[1, 2, 3].all(x, x > 0)", true), ("[1, 2, 3].all(x, x > 1)", false), ("[1, 2, 3].exists(x, x == 2)", true),
        ("[1, 2, 3].exists_one(x, x > 1)", false), ("[1, 2, 3].exists_one(x, x > 2)", true),
        ("[1, 2, 3].map(x, x * 2) == [2, 4, 6]", true), ("[1, 2, 3].map(x, x > 1, x * 10) == [20, 30]", true),
        ("[1, 2, 3].filter(x, x % 2 == 1) == [1, 3]", true), ("{'a': 1, 'b': 2}.all(k, k.size() == 1)", true),
        ("[].all(x, false)", true), ("[].exists(x, true)", false),
    ])
    func macros(_ source: String, _ expected: Bool) throws {
        #expect(try eval(source) == .bool(expected), "\(source)")
    }

    @Test(arguments: [
        ("'hello'.contains('ell')", true), ("'hello'.startsWith('he')", true), ("'hello'.endsWith('lo')", true),
        ("'hello'.matches('^h.*o$')", true), ("matches('abc', 'b')", true), ("'hello'.charAt(1) == 'e'", true),
        ("'hello'.indexOf('l') == 2", true), ("'hello'.lastIndexOf('l') == 3", true), ("'hello'.indexOf('l', 3) == 3", true),
        ("'HeLLo'.lowerAscii() == 'hello'", true), ("'hello'.upperAscii() == 'HELLO'", true),
        ("'a-b-c'.replace('-', '+') == 'a+b+c'", true), ("'a-b-c'.replace('-', '+', 1) == 'a+b-c'", true),
        ("'a,b,c'.split(',') == ['a', 'b', 'c']", true), ("'a,b,c'.split(',', 2) == ['a', 'b,c']", true),
        ("'hello'.substring(1, 3) == 'el'", true), ("'hello'.substring(2) == 'llo'", true), ("'  x  '.trim() == 'x'", true),
        ("['a', 'b'].join('-') == 'a-b'", true), ("['a', 'b'].join() == 'ab'", true), ("'abc'.reverse() == 'cba'", true),
        ("'abc123'.find('[0-9]+') == '123'", true), ("'a1b2'.findAll('[0-9]') == ['1', '2']", true),
    ])
    func strings(_ source: String, _ expected: Bool) throws {
        #expect(try eval(source) == .bool(expected), "\(source)")
    }

    @Test(arguments: [
        ("[1, 2, 3].sum() == 6", true), ("[].sum() == 0", true), ("[1.5, 2.5].sum() == 4.0", true), ("[3, 1, 2].min() == 1", true),
        ("[3, 1, 2].max() == 3", true), ("[1, 2, 2].isSorted()", true), ("[2, 1].isSorted()", false), ("['a', 'b'].isSorted()", true),
        ("[1, 2, 3].indexOf(2) == 1", true), ("[1, 2, 1].lastIndexOf(1) == 2", true), ("[1].indexOf(9) == -1", true),
    ])
    func kubernetesLists(_ source: String, _ expected: Bool) throws {
        #expect(try eval(source) == .bool(expected), "\(source)")
    }

    @Test func selfAndHas() throws {
        let object: JSON = ["name": "x", "weights": [10, 20], "nested": ["on": true]]
        #expect(try eval("self.name == 'x'", object) == .bool(true))
        #expect(try eval("has(self.name) && !has(self.missing)", object) == .bool(true))
        #expect(try eval("has(self.nested.on)", object) == .bool(true))
        #expect(try eval("self.weights.sum() <= 100", object) == .bool(true))
        #expect(try eval("self == oldSelf", object, old: object) == .bool(true))
        #expect(try eval("self == oldSelf", object, old: ["name": "y"]) == .bool(false))
    }

    @Test func errorsAndTheirAbsorption() throws {
        #expect(throws: CELEvaluationError("no such key: missing")) { try eval("self.missing == 1", [:]) }
        #expect(throws: CELEvaluationError("division by zero")) { try eval("1 / 0 == 1") }
        #expect(throws: CELEvaluationError("modulus by zero")) { try eval("1 % 0 == 1") }
        #expect(throws: CELEvaluationError("integer overflow")) { try eval("9223372036854775807 + 1 > 0") }
        #expect(throws: CELEvaluationError("index out of bounds: 5")) { try eval("[1][5] == 1") }
        // Commutative && and ||: the side that decides wins over an error on the other.
        #expect(try eval("self.missing == 1 || true", [:]) == .bool(true))
        #expect(try eval("false && self.missing == 1", [:]) == .bool(false))
        #expect(try eval("self.missing == 1 && false", [:]) == .bool(false))
        #expect(throws: CELEvaluationError.self) { try eval("self.missing == 1 && true", [:]) }
        #expect(try eval("[0, 1].exists(x, 1 / x == 1)") == .bool(true))
    }

    @Test func budget() throws {
        let program = try CELProgram.compile("[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, a * b > 0))", variables: [:])
        #expect(try program.evaluate([:]) == .bool(true))
        #expect(throws: CELEvaluationError("operation cancelled: actual cost limit exceeded")) { try program.evaluate([:], budget: 50) }
    }
}
