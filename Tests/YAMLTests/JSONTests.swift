import Foundation
import Testing
import YAML

@Suite struct JSONTests {
    @Test func parsesAndSerializesWithOrderKept() throws {
        let text = #"{"b":1,"a":[true,false,null,1.5,-3,"x\"y\\z\n"],"c":{"d":"é😀"},"e":1e3}"#
        let value = try JSON.parse(text)
        #expect(value.objectValue?.keys == ["b", "a", "c", "e"])
        #expect(value["a"]?[5] == .string("x\"y\\z\n"))
        #expect(value[path: "c", "d"] == .string("é😀"))
        #expect(value["e"] == .double(1000))
        #expect(try JSON.parse(value.serialized()) == value)
        #expect(value.jsonText.hasPrefix(#"{"b":1,"a":"#))
    }

    @Test func unicodeEscapesIncludingSurrogatePairs() throws {
        #expect(try JSON.parse(#""\u00e9\ud83d\ude00""#) == .string("é😀"))
        #expect(throws: JSONError.self) { try JSON.parse(#""\ud83d""#) }
    }

    @Test func integersStayIntegersAndBigOnesBecomeDoubles() throws {
        #expect(try JSON.parse("9223372036854775807") == .int(.max))
        #expect(try JSON.parse("9223372036854775808") == .double(9223372036854775808))
        #expect(try JSON.parse("1.0") == .double(1))
        #expect(JSON.double(1).jsonText == "1.0")
        #expect(JSON.double(0.1).jsonText == "0.1")
    }

    @Test func invalidDocumentsSayWhere() {
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "tru", "\"abc", "{\"a\":1}x", "-", "[\"\u{01}\"]"] {
            #expect(throws: JSONError.self, "\(bad) should be refused") { try JSON.parse(bad) }
        }
        #expect(throws: JSONError.self) { try JSON.parse(String(repeating: "[", count: 10_000)) }
    }

    @Test func codableBridgeKeepsValues() throws {
        struct Wrapper: Codable, Equatable { var name: String; var extra: JSON }
        let w = Wrapper(name: "x", extra: ["n": 1, "list": [true, "s"], "nested": ["z": nil]])
        let data = try JSONEncoder().encode(w)
        #expect(try JSONDecoder().decode(Wrapper.self, from: data) == w)
    }
}
