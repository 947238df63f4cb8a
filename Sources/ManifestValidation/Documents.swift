import YAML

/// A manifest file's bytes, as read from disk or stdin, under the name problems will show.
public struct ManifestFile: Sendable, Equatable {
    public enum Format: Sendable, Equatable {
        /// One or more YAML documents separated by `---` lines.
        case yaml
        /// One JSON value.
        case json
    }

    /// The name problems show: the path as given, or `<stdin>`.
    public var path: String
    public var contents: [UInt8]
    public var format: Format

    /// A file whose format is known.
    public init(path: String, contents: [UInt8], format: Format) {
        self.path = path
        self.contents = contents
        self.format = format
    }

    /// JSON when the name ends in `.json`, YAML otherwise (stdin included: YAML reads JSON too).
    public init(path: String, contents: [UInt8]) {
        self.init(path: path, contents: contents, format: path.lowercased().hasSuffix(".json") ? .json : .yaml)
    }
}

/// One object read from a manifest: where it is, and its value.
struct ManifestObject {
    var file: String
    /// 1-based position of its document in the file.
    var document: Int
    /// `items[3]` for the fourth item of a `List`, else empty: prefixed to every field path.
    var prefix: String
    var value: JSON

    func field(_ path: String) -> String {
        prefix.isEmpty ? path : path.isEmpty ? prefix : "\(prefix).\(path)"
    }
}

/// Splits files into documents the way kubectl reads them (a line that starts with `---` begins
/// a new document; documents holding only blanks and comments are skipped and not counted), and
/// parses each one on its own, so one broken document does not hide the others.
enum Documents {
    struct Read {
        var objects: [ManifestObject] = []
        var problems: [Problem] = []
    }

    static func read(_ file: ManifestFile) -> Read {
        var read = Read()
        guard var text = String(validating: file.contents, as: UTF8.self) else {
            read.problems.append(Problem(file: file.path, document: nil, field: nil, severity: .error, check: .parse,
                                         message: "not UTF-8 text: manifests are YAML or JSON in UTF-8"))
            return read
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        switch file.format {
        case .json:
            guard text.contains(where: { !$0.isWhitespace }) else { return read }
            do throws(JSONError) {
                read.add(try JSON.parse(text), file: file.path, document: 1)
            } catch {
                let (line, column) = position(of: error.offset, in: text)
                read.problems.append(Problem(file: file.path, document: 1, field: nil, severity: .error, check: .parse,
                                             message: "JSON line \(line), column \(column): \(error.message)"))
            }
        case .yaml:
            var document = 0
            for chunk in chunks(text) where !chunk.isBlank {
                document += 1
                do throws(YAMLError) {
                    for value in try YAML.parseAll(chunk.text) where value != .null {
                        read.add(value, file: file.path, document: document)
                    }
                } catch {
                    let message = error.line > 0
                        ? "YAML line \(chunk.firstLine + error.line - 1), column \(error.column): \(error.message)"
                        : "YAML: \(error.message)"
                    read.problems.append(Problem(file: file.path, document: document, field: nil, severity: .error, check: .parse, message: message))
                }
            }
        }
        return read
    }

    struct Chunk {
        /// The file line (1-based) of the chunk's first line.
        var firstLine: Int
        var text: String
        var isBlank: Bool
    }

    /// The file cut at each line that starts with `---` (followed by nothing, a blank or a
    /// comment, or by content that then belongs to the new document, as in `--- {a: 1}`).
    static func chunks(_ text: String) -> [Chunk] {
        var chunks: [Chunk] = []
        var lines: [Substring] = []
        var firstLine = 1
        var blank = true
        func close() {
            chunks.append(Chunk(firstLine: firstLine, text: lines.joined(separator: "\n"), isBlank: blank))
        }
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if isSeparator(line) {
                close()
                lines = [line]
                firstLine = i + 1
                blank = isBlankLine(line.dropFirst(3))
                continue
            }
            lines.append(line)
            if blank && !isBlankLine(line) { blank = false }
        }
        close()
        return chunks
    }

    static func isSeparator(_ line: Substring) -> Bool {
        guard line.hasPrefix("---") else { return false }
        guard let next = line.dropFirst(3).first else { return true }
        return next == " " || next == "\t" || next == "\r"
    }

    /// Nothing but blanks, or a comment.
    static func isBlankLine(_ line: Substring) -> Bool {
        let rest = line.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
        return rest.isEmpty || rest.first == "#"
    }

    /// 1-based line and column of a byte offset.
    static func position(of offset: Int, in text: String) -> (Int, Int) {
        var line = 1, column = 1
        for (i, byte) in text.utf8.enumerated() {
            if i >= offset { break }
            if byte == 0x0A { line += 1; column = 1 } else { column += 1 }
        }
        return (line, column)
    }
}

extension Documents.Read {
    /// A document's object, or the items of a `List` (`kind: List`, or `<Kind>List` as `kubectl
    /// get -o yaml` writes them), each item an object of its own.
    mutating func add(_ value: JSON, file: String, document: Int) {
        if let kind = value["kind"]?.stringValue, kind.hasSuffix("List"), value["apiVersion"]?.stringValue != nil,
           let items = value["items"]?.arrayValue {
            for (i, item) in items.enumerated() {
                objects.append(ManifestObject(file: file, document: document, prefix: "items[\(i)]", value: item))
            }
        } else {
            objects.append(ManifestObject(file: file, document: document, prefix: "", value: value))
        }
    }
}
