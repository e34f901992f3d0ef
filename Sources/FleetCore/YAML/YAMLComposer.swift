internal import CLibYAML

/// Builds `YAMLNode`s from libyaml's event stream in one pass, with every bound checked as the
/// events arrive, before any work grows with them: the values a document holds once its aliases
/// are expanded ("billion laughs": a few hundred bytes of nested aliases would otherwise take
/// minutes and gigabytes, and an alias used as a mapping key is hashed in full) and the nesting
/// depth (Debian's libyaml sets no limit). Mapping keys are checked for duplicates as each
/// mapping closes.
struct YAMLComposer {
    /// Which rules a document is read by: the reference's (PyYAML) or this tool's own, stricter ones.
    enum Reading {
        /// As PyYAML reads cloud.yaml and chain specs: the last value wins (with a warning naming
        /// both lines), merge keys (`<<: *base`, `<<: [*a, *b]`) are applied and `=` is a string.
        case pyYAML
        /// As this tool's own fleet.yaml is read: a duplicate key is an error and `<<` is a key.
        case strict
    }

    /// Values a stream may hold once its aliases are expanded.
    static let maximumExpandedNodes = 100_000
    /// Collections a node may be nested in.
    static let maximumDepth = 1000

    let path: String
    let code: FleetError.Code
    let reading: Reading
    /// Duplicate keys accepted as PyYAML accepts them, one line each, in the order they were met.
    private(set) var warnings: [String] = []

    /// A collection whose items are still arriving; a mapping's keys and values alternate.
    private struct Open {
        var isMapping: Bool
        var items: [YAMLNode] = []
        var anchor: String?
        var tag: YAMLTag
        var mark: YAMLMark
        /// The values it holds with aliases expanded, itself included.
        var size = 1
    }

    private var open: [Open] = []
    /// Each anchor's node and its expanded size; a later anchor of the same name replaces it.
    private var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    private var expanded = 0
    private var documents: [YAMLNode] = []

    init(path: String, code: FleetError.Code, reading: Reading) {
        self.path = path
        self.code = code
        self.reading = reading
    }

    /// The documents of `text`, in order (none for an empty stream). With `single`, a second
    /// document is an error, as PyYAML's `safe_load` makes it.
    mutating func compose(_ text: String, single: Bool) throws(FleetError) -> [YAMLNode] {
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else { throw failure("out of memory") }
        defer { yaml_parser_delete(parser) }
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        // libyaml reads the input through this pointer on every call, so it gets its own allocation.
        let bytes = Array(text.utf8)
        let input = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        defer { input.deallocate() }
        _ = input.initialize(from: bytes)
        yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(parser, &event) == 1 else { throw parseFailure(parser.pointee) }
            defer { yaml_event_delete(&event) }
            let mark = YAMLMark(
                line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return documents
            case YAML_DOCUMENT_START_EVENT:
                if single, !documents.isEmpty {
                    throw failure(
                        "\(Self.position(mark))expected a single document in the stream"
                            + " but found another document")
                }
            case YAML_DOCUMENT_END_EVENT:
                anchors = [:]
            case YAML_SCALAR_EVENT:
                try count(1, at: mark)
                let node = YAMLNode.scalar(Self.scalar(event, mark: mark))
                try complete(node, size: 1, anchor: Self.string(event.data.scalar.anchor))
            case YAML_ALIAS_EVENT:
                let name = Self.string(event.data.alias.anchor) ?? ""
                guard let anchored = anchors[name] else {
                    throw failure(
                        "\(Self.position(mark))found undefined alias \(pythonRepr(name))")
                }
                try count(anchored.size, at: mark)
                try complete(anchored.node, size: anchored.size, anchor: nil)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                let (mapping, sequence) = (event.data.mapping_start, event.data.sequence_start)
                let implicit = isMapping ? mapping.implicit : sequence.implicit
                let fallback: YAMLTag = isMapping ? .map : .seq
                try begin(
                    Open(
                        isMapping: isMapping,
                        anchor: Self.string(isMapping ? mapping.anchor : sequence.anchor),
                        tag: implicit == 1
                            ? fallback : Self.tag(isMapping ? mapping.tag : sequence.tag, default: fallback),
                        mark: mark))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let collection = open.popLast() else { continue }
                let node =
                    collection.isMapping
                    ? YAMLNode.mapping(try mapping(collection))
                    : YAMLNode.sequence(
                        YAMLNode.Sequence(collection.items, tag: collection.tag, mark: collection.mark))
                try complete(node, size: collection.size, anchor: collection.anchor)
            default:
                break
            }
        }
    }

    private mutating func count(_ values: Int, at mark: YAMLMark) throws(FleetError) {
        expanded += values
        guard expanded <= Self.maximumExpandedNodes else {
            throw FleetError(
                code,
                "\(path):\(mark.line):\(mark.column): YAML aliases expand to more than"
                    + " \(Self.maximumExpandedNodes) values; write the repeated values out instead")
        }
    }

    private mutating func begin(_ collection: Open) throws(FleetError) {
        try count(1, at: collection.mark)
        guard open.count < Self.maximumDepth else {
            throw failure(
                "\(Self.position(collection.mark))collections nested more than"
                    + " \(Self.maximumDepth) deep")
        }
        open.append(collection)
    }

    /// Hands a finished node to the collection around it (or makes it a document's root), and
    /// remembers it under its anchor.
    private mutating func complete(_ node: YAMLNode, size: Int, anchor: String?) throws(FleetError) {
        let isKey = open.last.map { $0.isMapping && $0.items.count.isMultiple(of: 2) } ?? false
        try checkConstructible(node, isKey: isKey)
        if let anchor { anchors[anchor] = (node, size) }
        guard !open.isEmpty else {
            documents.append(node)
            return
        }
        open[open.count - 1].items.append(node)
        open[open.count - 1].size += size
    }

    /// The tags PyYAML's safe loader constructs, by the kind of node each one takes.
    private static let tagsByKind: [(kind: String, tags: Set<YAMLTag>)] = [
        ("scalar", [.str, .int, .float, .bool, .null, .timestamp, .binary]),
        ("mapping", [.map, .set]),
        ("sequence", [.seq, .omap, .pairs]),
    ]

    /// Refuses, as PyYAML's safe loader does, a node whose tag has no constructor (`!custom`,
    /// `!!python/object`, a merge or default-value key used as a value), names another kind of
    /// node (`!!str [1]`), or is an `!!omap` or `!!pairs` list with an item other than a one-pair
    /// mapping. A scalar's text is checked where it is used (`!!int x` is "must be an integer"
    /// at its field).
    private func checkConstructible(_ node: YAMLNode, isKey: Bool) throws(FleetError) {
        let tag = node.tag
        let (kind, tags) =
            switch node {
            case .scalar: Self.tagsByKind[0]
            case .mapping: Self.tagsByKind[1]
            case .sequence: Self.tagsByKind[2]
            }
        if tags.contains(tag) || (isKey && (tag == .merge || tag == .value)) {
            guard case .sequence(let items) = node, tag != .seq,
                let item = items.first(where: { item in
                    guard case .mapping(let pairs) = item else { return true }
                    return pairs.count != 1
                })
            else { return }
            throw failure(
                "\(Self.position(item.mark))an item of a \(pythonRepr(tag.rawValue)) list must be a mapping of one pair"
            )
        }
        if let expected = Self.tagsByKind.first(where: { $0.tags.contains(tag) })?.kind {
            throw failure(
                "\(Self.position(node.mark))expected a \(expected) node for the tag \(pythonRepr(tag.rawValue)),"
                    + " but found a \(kind)")
        }
        throw failure(
            "\(Self.position(node.mark))could not determine a constructor for the tag \(pythonRepr(tag.rawValue))"
        )
    }

    private static func position(_ mark: YAMLMark?) -> String {
        mark.map { "line \($0.line), column \($0.column): " } ?? ""
    }

    /// A closed mapping, its duplicate keys refused, or, read as PyYAML reads it, reported and
    /// settled with its merge keys applied: PyYAML's `flatten_mapping` and `construct_mapping`.
    /// Each merge key contributes the pairs of its mapping, or of its list of mappings with the
    /// first one winning; the mapping's own pairs come after them; a key seen again keeps its
    /// first position and takes the last value (a Python dict).
    private mutating func mapping(_ collection: Open) throws(FleetError) -> YAMLNode.Mapping {
        var own: [(YAMLNode, YAMLNode)] = []
        var merged: [(YAMLNode, YAMLNode)] = []
        var lastLine: [YAMLNode: Int] = [:]
        var refused: [String] = []
        for index in stride(from: 0, to: collection.items.count - 1, by: 2) {
            var key = collection.items[index]
            let value = collection.items[index + 1]
            if reading == .pyYAML, key.tag == .merge {
                merged += try mergedPairs(value)
                continue
            }
            if reading == .pyYAML, key.tag == .value, case .scalar(var scalar) = key {
                scalar.tag = .str
                key = .scalar(scalar)
            }
            let line = key.mark?.line ?? 0
            if let previous = lastLine[key] {
                switch reading {
                case .strict:
                    refused.append(
                        "\(Self.position(key.mark))duplicated key \(key.pythonValue),"
                            + " first at line \(previous)")
                case .pyYAML:
                    warnings.append(
                        "\(path): duplicate key \(key.pythonValue) at lines \(previous) and \(line);"
                            + " the value at line \(line) is used, as PyYAML does")
                }
            }
            lastLine[key] = line
            own.append((key, value))
        }
        guard refused.isEmpty else { throw failure(refused.joined(separator: "; ")) }
        guard reading == .pyYAML else {
            return YAMLNode.Mapping(own, tag: collection.tag, mark: collection.mark)
        }
        var positions: [YAMLNode: Int] = [:]
        var pairs: [(YAMLNode, YAMLNode)] = []
        for (key, value) in merged + own {
            if let position = positions[key] {
                pairs[position].1 = value
            } else {
                positions[key] = pairs.count
                pairs.append((key, value))
            }
        }
        return YAMLNode.Mapping(pairs, tag: collection.tag, mark: collection.mark)
    }

    /// The pairs a merge key's value brings: a mapping's own (already merged when it closed), or
    /// those of a list of mappings, the first mapping's last so that its values win.
    private func mergedPairs(_ value: YAMLNode) throws(FleetError) -> [(YAMLNode, YAMLNode)] {
        switch value {
        case .mapping(let source):
            return source.map { ($0.key, $0.value) }
        case .sequence(let sources):
            var pairs: [(YAMLNode, YAMLNode)] = []
            for source in sources.reversed() {
                guard case .mapping(let mapping) = source else { throw mergeFailure(at: source) }
                pairs += mapping.map { ($0.key, $0.value) }
            }
            return pairs
        case .scalar:
            throw mergeFailure(at: value)
        }
    }

    private func mergeFailure(at node: YAMLNode) -> FleetError {
        let location = node.mark.map { "\(path):\($0.line):\($0.column)" } ?? path
        return FleetError(code, "\(location): a merge key (<<) takes a mapping or a list of mappings")
    }

    private func failure(_ detail: String) -> FleetError {
        FleetError(code, "\(path): YAML parse error: \(detail)")
    }

    /// libyaml's own message: the byte offset of an encoding error, the line and column of a
    /// syntax error with what was being parsed.
    private func parseFailure(_ parser: yaml_parser_t) -> FleetError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
        switch parser.error {
        case YAML_READER_ERROR:
            return failure("\(problem) at byte \(parser.problem_offset)")
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
            let context = parser.context.map { String(cString: $0) + " " } ?? ""
            return failure(
                "line \(parser.problem_mark.line + 1), column \(parser.problem_mark.column + 1): \(context)\(problem)"
            )
        default:
            return failure(problem)
        }
    }

    /// A scalar event's node. Its type: an explicit tag as written; `str` when it is quoted or a
    /// block; otherwise PyYAML's reading of the plain text.
    private static func scalar(_ event: yaml_event_t, mark: YAMLMark) -> YAMLNode.Scalar {
        let event = event.data.scalar
        let text = String(
            decoding: UnsafeBufferPointer(start: event.value, count: event.length), as: UTF8.self)
        let tag: YAMLTag
        switch string(event.tag) {
        case nil: tag = event.quoted_implicit == 1 ? .str : YAMLResolver.tag(ofPlain: text)
        // PyYAML reads the non-specific tag as "resolve as if plain", even on a quoted scalar.
        case "!": tag = YAMLResolver.tag(ofPlain: text)
        case let written?: tag = YAMLTag(rawValue: written)
        }
        let style: YAMLNode.Scalar.Style =
            switch event.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: .literal
            case YAML_FOLDED_SCALAR_STYLE: .folded
            default: .plain
            }
        return YAMLNode.Scalar(text, tag: tag, style: style, mark: mark)
    }

    private static func tag(_ written: UnsafeMutablePointer<yaml_char_t>?, default fallback: YAMLTag)
        -> YAMLTag
    {
        guard let written = string(written), written != "!" else { return fallback }
        return YAMLTag(rawValue: written)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }
}
