internal import CYAML

extension YAML {
    /// Block-style YAML for one document.
    public static func emit(_ value: JSON) throws(YAMLError) -> String { try emitAll([value]) }

    /// Block-style YAML for several documents, separated by `---`. Strings that would read back
    /// as another type (`"yes"`, `"123"`, `"null"`, `""`) are quoted; multi-line strings use
    /// literal block style where libyaml can.
    public static func emitAll(_ documents: [JSON]) throws(YAMLError) -> String {
        let output = EmitterOutput()
        var emitter = yaml_emitter_t()
        guard yaml_emitter_initialize(&emitter) == 1 else {
            throw YAMLError(kind: .syntax, message: "libyaml could not initialise an emitter", line: 0, column: 0)
        }
        defer { yaml_emitter_delete(&emitter) }
        yaml_emitter_set_output(&emitter, emitterWrite, Unmanaged.passUnretained(output).toOpaque())
        yaml_emitter_set_unicode(&emitter, 1)
        yaml_emitter_set_width(&emitter, -1)
        yaml_emitter_set_indent(&emitter, 2)

        var writer = EventWriter(emitter: emitter)
        defer { emitter = writer.emitter }
        try writer.send { yaml_stream_start_event_initialize(&$0, YAML_UTF8_ENCODING) }
        for document in documents {
            try writer.send { yaml_document_start_event_initialize(&$0, nil, nil, nil, documents.count == 1 ? 1 : 0) }
            try writer.node(document)
            try writer.send { yaml_document_end_event_initialize(&$0, 1) }
        }
        try writer.send { yaml_stream_end_event_initialize(&$0) }
        yaml_emitter_flush(&writer.emitter)
        withExtendedLifetime(output) {}
        return String(decoding: output.bytes, as: UTF8.self)
    }
}

private final class EmitterOutput {
    var bytes: [UInt8] = []
}

private func emitterWrite(_ data: UnsafeMutableRawPointer?, _ buffer: UnsafeMutablePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, let buffer else { return 0 }
    Unmanaged<EmitterOutput>.fromOpaque(data).takeUnretainedValue().bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
    return 1
}

private struct EventWriter {
    var emitter: yaml_emitter_t

    mutating func send(_ make: (inout yaml_event_t) -> Int32) throws(YAMLError) {
        var event = yaml_event_t()
        guard make(&event) == 1 else {
            throw YAMLError(kind: .syntax, message: "libyaml could not build an event", line: 0, column: 0)
        }
        guard yaml_emitter_emit(&emitter, &event) == 1 else {  // takes ownership of the event
            let problem = emitter.problem.map { String(cString: $0) } ?? "emitter error"
            throw YAMLError(kind: .syntax, message: problem, line: 0, column: 0)
        }
    }

    mutating func scalar(_ text: String, style: yaml_scalar_style_t) throws(YAMLError) {
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBufferPointer { buffer throws(YAMLError) in
            try send { yaml_scalar_event_initialize(&$0, nil, nil, buffer.baseAddress, Int32(buffer.count), 1, 1, style) }
        }
    }

    mutating func string(_ s: String) throws(YAMLError) {
        if s.contains("\n") {
            try scalar(s, style: YAML_LITERAL_SCALAR_STYLE)
        } else if ScalarResolver.needsQuoting(s) {
            try scalar(s, style: YAML_DOUBLE_QUOTED_SCALAR_STYLE)
        } else {
            try scalar(s, style: YAML_ANY_SCALAR_STYLE)
        }
    }

    mutating func node(_ value: JSON) throws(YAMLError) {
        switch value {
        case .null: try scalar("null", style: YAML_PLAIN_SCALAR_STYLE)
        case .bool(let b): try scalar(b ? "true" : "false", style: YAML_PLAIN_SCALAR_STYLE)
        case .int(let i): try scalar(String(i), style: YAML_PLAIN_SCALAR_STYLE)
        case .double(let d):
            let text = d.isNaN ? ".nan" : d.isInfinite ? (d < 0 ? "-.inf" : ".inf") : d.jsonDescription
            try scalar(text, style: YAML_PLAIN_SCALAR_STYLE)
        case .string(let s): try string(s)
        case .array(let items):
            let style = items.isEmpty ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE
            try send { yaml_sequence_start_event_initialize(&$0, nil, nil, 1, style) }
            for item in items { try node(item) }
            try send { yaml_sequence_end_event_initialize(&$0) }
        case .object(let object):
            let style = object.isEmpty ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE
            try send { yaml_mapping_start_event_initialize(&$0, nil, nil, 1, style) }
            for (key, item) in object {
                try string(key)
                try node(item)
            }
            try send { yaml_mapping_end_event_initialize(&$0) }
        }
    }
}
