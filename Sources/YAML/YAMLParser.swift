internal import CYAML

/// A YAML stream that could not be read: what went wrong and where.
public struct YAMLError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// libyaml rejected the text.
        case syntax
        /// Nesting deeper than `YAMLLimits.maxDepth`.
        case tooDeep
        /// Aliases would expand to more than `YAMLLimits.maxAliasExpansion` nodes (billion laughs).
        case aliasExpansion
        /// An alias names an anchor not defined before it.
        case unknownAnchor
        /// A mapping key that is itself a mapping or sequence, or a bad merge (`<<`) value.
        case unsupported
    }

    public var kind: Kind
    public var message: String
    /// 1-based position, when known.
    public var line: Int
    public var column: Int

    public var description: String {
        line > 0 ? "YAML line \(line), column \(column): \(message)" : "YAML: \(message)"
    }
}

/// Bounds on what a document may cost to read.
public struct YAMLLimits: Sendable {
    /// Deepest nesting of mappings and sequences.
    public var maxDepth: Int
    /// Nodes that aliases may add to one document by copying anchored values.
    public var maxAliasExpansion: Int

    public init(maxDepth: Int = 512, maxAliasExpansion: Int = 100_000) {
        self.maxDepth = maxDepth
        self.maxAliasExpansion = maxAliasExpansion
    }
}

public enum YAML {
    /// Reads every document of a stream. An empty document reads as `.null` (callers loading
    /// manifests skip those, as kubectl does).
    public static func parseAll(_ text: String, limits: YAMLLimits = YAMLLimits()) throws(YAMLError) -> [JSON] {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { bytes = [0x0A] }
        var builder = TreeBuilder(limits: limits)
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLError(kind: .syntax, message: "libyaml could not initialise a parser", line: 0, column: 0)
        }
        defer { yaml_parser_delete(&parser) }
        let result: Result<[JSON], YAMLError> = bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "syntax error"
                    let context = parser.context.map { String(cString: $0) + ": " } ?? ""
                    return .failure(YAMLError(
                        kind: .syntax, message: context + problem,
                        line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1))
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return .success(builder.documents) }
                do throws(YAMLError) {
                    try builder.handle(&event)
                } catch {
                    return .failure(error)
                }
            }
        }
        return try result.get()
    }

    /// Reads a stream that must hold exactly one document.
    public static func parse(_ text: String, limits: YAMLLimits = YAMLLimits()) throws(YAMLError) -> JSON {
        let documents = try parseAll(text, limits: limits)
        guard documents.count <= 1 else {
            throw YAMLError(kind: .unsupported, message: "expected one document, found \(documents.count)", line: 0, column: 0)
        }
        return documents.first ?? .null
    }
}

/// Folds libyaml's events into values with an explicit stack (no recursion, so depth is only
/// bounded by `YAMLLimits.maxDepth`).
private struct TreeBuilder {
    enum Container {
        case sequence([JSON])
        case mapping(JSONObject, pendingKey: String?, merges: [JSON])
    }

    struct Frame {
        var container: Container
        var anchor: String?
        var nodes: Int
        var line: Int
        var column: Int
    }

    let limits: YAMLLimits
    var documents: [JSON] = []
    var stack: [Frame] = []
    var root: JSON?
    var anchors: [String: (value: JSON, nodes: Int)] = [:]
    var aliasNodes = 0

    init(limits: YAMLLimits) { self.limits = limits }

    mutating func handle(_ event: inout yaml_event_t) throws(YAMLError) {
        let line = Int(event.start_mark.line) + 1
        let column = Int(event.start_mark.column) + 1
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            root = nil
            anchors = [:]
            aliasNodes = 0
        case YAML_DOCUMENT_END_EVENT:
            documents.append(root ?? .null)
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = scalar.value.map { String(decoding: UnsafeBufferPointer(start: $0, count: scalar.length), as: UTF8.self) } ?? ""
            let tag = scalar.tag.map { String(cString: $0) }
            let value = try Self.scalarValue(text, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE, tag: tag, line: line, column: column)
            try add(value, nodes: 1, anchor: scalar.anchor.map { String(cString: $0) }, line: line, column: column)
        case YAML_SEQUENCE_START_EVENT:
            try push(.sequence([]), anchor: event.data.sequence_start.anchor.map { String(cString: $0) }, line: line, column: column)
        case YAML_MAPPING_START_EVENT:
            try push(.mapping(JSONObject(), pendingKey: nil, merges: []), anchor: event.data.mapping_start.anchor.map { String(cString: $0) }, line: line, column: column)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return }
            let value: JSON
            switch frame.container {
            case .sequence(let items):
                value = .array(items)
            case .mapping(var object, _, let merges):
                for source in merges {
                    for case .object(let merged) in (source.arrayValue ?? [source]) {
                        for (k, v) in merged where object[k] == nil { object[k] = v }
                    }
                }
                value = .object(object)
            }
            try add(value, nodes: frame.nodes, anchor: frame.anchor, line: frame.line, column: frame.column)
        case YAML_ALIAS_EVENT:
            let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
            guard let anchored = anchors[name] else {
                throw YAMLError(kind: .unknownAnchor, message: "alias *\(name) refers to no anchor defined before it", line: line, column: column)
            }
            aliasNodes += anchored.nodes
            guard aliasNodes <= limits.maxAliasExpansion else {
                throw YAMLError(kind: .aliasExpansion,
                                message: "aliases expand to more than \(limits.maxAliasExpansion) nodes; refusing (billion-laughs protection)",
                                line: line, column: column)
            }
            try add(anchored.value, nodes: anchored.nodes, anchor: nil, line: line, column: column)
        default:
            break
        }
    }

    private mutating func push(_ container: Container, anchor: String?, line: Int, column: Int) throws(YAMLError) {
        guard stack.count < limits.maxDepth else {
            throw YAMLError(kind: .tooDeep, message: "nesting deeper than \(limits.maxDepth) levels", line: line, column: column)
        }
        stack.append(Frame(container: container, anchor: anchor, nodes: 1, line: line, column: column))
    }

    private mutating func add(_ value: JSON, nodes: Int, anchor: String?, line: Int, column: Int) throws(YAMLError) {
        if let anchor { anchors[anchor] = (value, nodes) }
        guard var top = stack.popLast() else {
            root = value
            return
        }
        top.nodes += nodes
        switch top.container {
        case .sequence(var items):
            top.container = .sequence([])  // keep the array uniquely referenced while appending
            items.append(value)
            top.container = .sequence(items)
        case .mapping(var object, let pendingKey, var merges):
            top.container = .sequence([])
            if let key = pendingKey {
                if key == "<<" {
                    guard value.objectValue != nil || value.arrayValue?.allSatisfy({ $0.objectValue != nil }) == true else {
                        throw YAMLError(kind: .unsupported, message: "a merge key (<<) needs a mapping or a list of mappings", line: line, column: column)
                    }
                    merges.append(value)
                } else {
                    object[key] = value
                }
                top.container = .mapping(object, pendingKey: nil, merges: merges)
            } else {
                top.container = .mapping(object, pendingKey: try Self.keyText(value, line: line, column: column), merges: merges)
            }
        }
        stack.append(top)
    }

    /// Mapping keys become strings the way sigs.k8s.io/yaml turns them into JSON keys.
    private static func keyText(_ key: JSON, line: Int, column: Int) throws(YAMLError) -> String {
        switch key {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return d.jsonDescription
        case .null: return "null"
        case .array, .object:
            throw YAMLError(kind: .unsupported, message: "a mapping or sequence cannot be a mapping key", line: line, column: column)
        }
    }

    private static func scalarValue(_ text: String, plain: Bool, tag: String?, line: Int, column: Int) throws(YAMLError) -> JSON {
        switch tag {
        case "tag:yaml.org,2002:str": return .string(text)
        case "tag:yaml.org,2002:null": return .null
        case "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float":
            let value = ScalarResolver.resolve(text)
            let fits = switch (tag, value) {
            case ("tag:yaml.org,2002:bool", .bool), ("tag:yaml.org,2002:int", .int), ("tag:yaml.org,2002:float", .double): true
            case ("tag:yaml.org,2002:float", .int): true
            default: false
            }
            guard fits else {
                throw YAMLError(kind: .syntax, message: "'\(text)' is not a valid \(tag!.split(separator: ":").last!)", line: line, column: column)
            }
            if case .int(let i) = value, tag == "tag:yaml.org,2002:float" { return .double(Double(i)) }
            return value
        default:
            return plain ? ScalarResolver.resolve(text) : .string(text)
        }
    }
}
