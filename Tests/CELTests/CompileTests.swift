import CEL
import Testing

@Suite struct CompileTests {
    let object = CELType.object(name: "object", fields: ["name": .string, "count": .int, "tags": .list(.string)], open: false)

    func compileError(_ source: String) -> String? {
        do {
            _ = try CELProgram.compile(source, variables: ["self": object, "oldSelf": object])
            return nil
        } catch {
            return error.message
        }
    }

    @Test(arguments: [
        ("self.nmae == 'x'", "undefined field 'nmae'"),
        ("foo == 1", "undeclared reference to 'foo'"),
        ("self.name.bogus()", "undeclared reference to 'bogus'"),
        ("self.count + 'a' == 1", "found no matching overload for '_+_' applied to '(int, string)'"),
        ("self.name == 1", "found no matching overload for '_==_'"),
        ("self.tags.sum() > 0", "found no matching overload for 'sum'"),
        ("self.name.size() > 0 &&", "Syntax error"),
        ("self.name == 'x", "Syntax error: unterminated string"),
        ("self.count.startsWith('a')", "found no matching overload for 'startsWith'"),
        ("[1, 2].all(x, x)", "found no matching overload for 'all'"),
    ])
    func refused(_ source: String, _ expected: String) {
        let message = compileError(source)
        #expect(message?.contains(expected) == true, "\(source): \(message ?? "compiled")")
    }

    @Test func positionsLikeCelGo() {
        let message = compileError("self.nmae == 'x'") ?? ""
        #expect(message.hasPrefix("ERROR: <input>:1:5: undefined field 'nmae'"))
        #expect(message.contains("\n | self.nmae == 'x'\n | ....^"))
    }

    @Test(arguments: [
        "self.name.size() > 0", "self.tags.all(t, t.startsWith('a'))", "self.count <= 100", "has(self.name)",
        "self.tags.map(t, t.size()).sum() < 10", "self == oldSelf", "self.count < 1.5",
    ])
    func accepted(_ source: String) {
        #expect(compileError(source) == nil, "\(source)")
    }

    @Test func transitionRulesAreRecognised() throws {
        #expect(try CELProgram.compile("self == oldSelf", variables: ["self": object, "oldSelf": object]).references("oldSelf"))
        #expect(try !CELProgram.compile("[1].all(oldSelf, oldSelf > 0)", variables: ["self": object, "oldSelf": object]).references("oldSelf"))
    }
}
