internal import CLibYAML

/// Writes a node as a YAML document through libyaml's emitter: collections in block style, keys
/// in their order, scalars in the style they were read in where it still reads back the same
/// (a string that would read as another type, `'yes'` or `'3'`, is quoted), no line folding.
public enum YAMLEmitter {
    public static func document(_ root: YAMLNode) throws(FleetError) -> String {
        let emitter = UnsafeMutablePointer<yaml_emitter_t>.allocate(capacity: 1)
        defer { emitter.deallocate() }
        guard yaml_emitter_initialize(emitter) == 1 else {
            throw FleetError(.ioError, "YAML emitter: out of memory")
        }
        defer { yaml_emitter_delete(emitter) }
        let output = Output()
        yaml_emitter_set_output(
            emitter,
            { context, bytes, count in
                guard let context, let bytes else { return 0 }
                Unmanaged<Output>.fromOpaque(context).takeUnretainedValue().bytes
                    .append(contentsOf: UnsafeBufferPointer(start: bytes, count: count))
                return 1
            }, Unmanaged.passUnretained(output).toOpaque())
        yaml_emitter_set_unicode(emitter, 1)
        yaml_emitter_set_indent(emitter, 2)
        yaml_emitter_set_width(emitter, -1)
        try withExtendedLifetime(output) { () throws(FleetError) in
            var event = yaml_event_t()
            yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING)
            try emit(&event, emitter)
            yaml_document_start_event_initialize(&event, nil, nil, nil, 1)
            try emit(&event, emitter)
            try emit(root, emitter)
            yaml_document_end_event_initialize(&event, 1)
            try emit(&event, emitter)
            yaml_stream_end_event_initialize(&event)
            try emit(&event, emitter)
        }
        return String(decoding: output.bytes, as: UTF8.self)
    }

    /// What the emitter has written so far; reached from its C output callback.
    private final class Output {
        var bytes: [UInt8] = []
    }

    private static func emit(_ node: YAMLNode, _ emitter: UnsafeMutablePointer<yaml_emitter_t>)
        throws(FleetError)
    {
        var event = yaml_event_t()
        switch node {
        case .scalar(let scalar):
            var value = Array(scalar.string.utf8)
            var tag = Array(scalar.tag.rawValue.utf8CString).map { yaml_char_t(bitPattern: $0) }
            let plainImplicit =
                scalar.style == .plain && YAMLResolver.tag(ofPlain: scalar.string) == scalar.tag
            let style: yaml_scalar_style_t =
                switch scalar.style {
                case .plain: YAML_ANY_SCALAR_STYLE
                case .singleQuoted: YAML_SINGLE_QUOTED_SCALAR_STYLE
                case .doubleQuoted: YAML_DOUBLE_QUOTED_SCALAR_STYLE
                case .literal: YAML_LITERAL_SCALAR_STYLE
                case .folded: YAML_FOLDED_SCALAR_STYLE
                }
            yaml_scalar_event_initialize(
                &event, nil, &tag, &value, Int32(value.count), plainImplicit ? 1 : 0,
                scalar.tag == .str ? 1 : 0, style)
            try emit(&event, emitter)
        case .mapping(let mapping):
            try emitCollection(tag: mapping.tag, isMapping: true, emitter) { () throws(FleetError) in
                for (key, value) in mapping {
                    try emit(key, emitter)
                    try emit(value, emitter)
                }
            }
        case .sequence(let sequence):
            try emitCollection(tag: sequence.tag, isMapping: false, emitter) { () throws(FleetError) in
                for item in sequence { try emit(item, emitter) }
            }
        }
    }

    /// A block mapping or sequence around the events `items` emits; its tag is written only when
    /// it is not the default one.
    private static func emitCollection(
        tag: YAMLTag, isMapping: Bool, _ emitter: UnsafeMutablePointer<yaml_emitter_t>,
        items: () throws(FleetError) -> Void
    ) throws(FleetError) {
        var event = yaml_event_t()
        var name = Array(tag.rawValue.utf8CString).map { yaml_char_t(bitPattern: $0) }
        let implicit: Int32 = tag == (isMapping ? .map : .seq) ? 1 : 0
        if isMapping {
            yaml_mapping_start_event_initialize(&event, nil, &name, implicit, YAML_BLOCK_MAPPING_STYLE)
        } else {
            yaml_sequence_start_event_initialize(&event, nil, &name, implicit, YAML_BLOCK_SEQUENCE_STYLE)
        }
        try emit(&event, emitter)
        try items()
        if isMapping {
            yaml_mapping_end_event_initialize(&event)
        } else {
            yaml_sequence_end_event_initialize(&event)
        }
        try emit(&event, emitter)
    }

    /// Hands one event to the emitter, which takes it over (and frees it) whether or not it succeeds.
    private static func emit(_ event: inout yaml_event_t, _ emitter: UnsafeMutablePointer<yaml_emitter_t>)
        throws(FleetError)
    {
        guard yaml_emitter_emit(emitter, &event) == 1 else {
            let problem = emitter.pointee.problem.map { String(cString: $0) } ?? "unknown problem"
            throw FleetError(.ioError, "YAML emitter: \(problem)")
        }
    }
}
