import Foundation
import YAML

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func readYAML(_ relativePath: String) throws -> [JSON] {
    try YAML.parseAll(try String(contentsOf: repositoryRoot.appendingPathComponent(relativePath), encoding: .utf8)).filter { $0 != .null }
}

/// One invalid resource from Tests/Fixtures/invalid-resources.yaml, built from its base.
struct InvalidCase: CustomStringConvertible {
    var object: JSON
    var field: String
    var semantic: Bool
    var summary: String
    var description: String { summary }

    static func all() throws -> [InvalidCase] {
        let file = try readYAML("Tests/Fixtures/invalid-resources.yaml")[0]
        let bases = file["bases"]?.objectValue ?? [:]
        return try (file["cases"]?.arrayValue ?? []).map { c in
            let path = c["path"]?.stringValue ?? ""
            var object = bases[c["base"]?.stringValue ?? ""] ?? .null
            if c["remove"]?.boolValue == true {
                object = try edit(object, segments(path), value: nil)
            } else {
                object = try edit(object, segments(path), value: c["set"] ?? .null)
            }
            return InvalidCase(object: object, field: c["field"]?.stringValue ?? path, semantic: c["semantic"]?.boolValue ?? false,
                               summary: c.jsonText)
        }
    }

    struct BadPath: Error {}

    enum Segment { case key(String), index(Int) }

    /// "spec.rules[0].match" → [spec, rules, 0, match].
    static func segments(_ path: String) -> [Segment] {
        path.split(separator: ".").flatMap { part -> [Segment] in
            var out: [Segment] = []
            let pieces = part.split(separator: "[")
            out.append(.key(String(pieces[0])))
            for index in pieces.dropFirst() { out.append(.index(Int(index.dropLast())!)) }
            return out
        }
    }

    /// Sets (or, with nil, removes) the value at `path`; an index one past the end appends.
    static func edit(_ value: JSON, _ path: [Segment], value newValue: JSON?) throws -> JSON {
        guard let first = path.first else { return newValue ?? .null }
        let rest = Array(path.dropFirst())
        switch (first, value) {
        case (.key(let k), .object(var o)):
            if rest.isEmpty { o[k] = newValue } else { o[k] = try edit(o[k] ?? [:], rest, value: newValue) }
            return .object(o)
        case (.index(let i), .array(var a)):
            if rest.isEmpty {
                if let newValue { if i == a.count { a.append(newValue) } else { a[i] = newValue } } else { a.remove(at: i) }
            } else {
                a[i] = try edit(a[i], rest, value: newValue)
            }
            return .array(a)
        default:
            throw BadPath()
        }
    }
}
