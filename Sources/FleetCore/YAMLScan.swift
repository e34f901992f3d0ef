internal import CYaml
import Yams

/// One pass over libyaml's event stream, before anything is composed: it bounds the document's
/// size with aliases expanded and, for files the reference reads with PyYAML, finds the mapping
/// keys that a later equal key overrides (PyYAML keeps the last value; Yams's composer refuses
/// the document).
struct YAMLScan {
    /// A key token that a later key of the same mapping overrides, in Unicode scalar offsets.
    struct OverriddenKey: Hashable {
        var start: Int
        var end: Int
        var line: Int
        var column: Int
        /// The token is quoted: only the text between the quotes may be rewritten.
        var quoted: Bool
    }

    var overridden: [OverriddenKey] = []
    var warnings: [String] = []

    /// An open collection: its anchor and expanded size so far; for a mapping, whether the next
    /// node is a key, and the keys seen with where each last occurred.
    private struct Open {
        var anchor: String?
        var size = 1
        var isMapping: Bool
        var expectingKey = true
        var keys: [Node: OverriddenKey?] = [:]
    }

    /// Walks `text`. Syntax errors are left to the composer, which reports them with their
    /// position; the walk just stops there.
    static func scan(_ text: String, path: String, code: FleetError.Code, findDuplicates: Bool)
        throws(FleetError) -> YAMLScan
    {
        var result = YAMLScan()
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return result }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return result }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        defer { yaml_parser_delete(&parser) }
        // libyaml keeps the input pointer across calls, so the bytes get their own allocation.
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
        _ = buffer.initialize(from: bytes)
        defer { buffer.deallocate() }
        yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
        // Expanded sizes of anchored nodes, and the collections open around the current event.
        var anchors: [String: Int] = [:]
        var open: [Open] = []
        var total = 0
        func name(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
        }
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else { return result }
            defer { yaml_event_delete(&event) }
            let mark = "\(path):\(event.start_mark.line + 1):\(event.start_mark.column + 1)"
            // The expanded size this event adds to its parent, the node it completes, and
            // whether it ends a node (so the parent mapping moves from key to value or back).
            var added = 0
            var completed: (anchor: String?, size: Int)?
            var endsNode = false
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return result
            case YAML_SCALAR_EVENT:
                added = 1
                total += 1
                completed = (name(event.data.scalar.anchor), 1)
                endsNode = true
                if findDuplicates, let parent = open.last, parent.isMapping, parent.expectingKey {
                    result.record(key: event, in: &open[open.count - 1], path: path)
                }
            case YAML_ALIAS_EVENT:
                added = name(event.data.alias.anchor).flatMap { anchors[$0] } ?? 1
                total += added
                endsNode = true
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let isMapping = event.type == YAML_MAPPING_START_EVENT
                let anchor = isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor
                open.append(Open(anchor: name(anchor), isMapping: isMapping))
                total += 1
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                completed = open.popLast().map { ($0.anchor, $0.size) }
                added = completed?.size ?? 0
                endsNode = true
            default:
                break
            }
            if let completed, let anchor = completed.anchor { anchors[anchor] = completed.size }
            if !open.isEmpty {
                open[open.count - 1].size += added
                if endsNode, open[open.count - 1].isMapping { open[open.count - 1].expectingKey.toggle() }
            }
            guard total <= YAMLReader.maximumExpandedNodes else {
                throw FleetError(
                    code,
                    "\(mark): YAML aliases expand to more than \(YAMLReader.maximumExpandedNodes) values;"
                        + " write the repeated values out instead")
            }
        }
    }

    /// Notes a scalar key; when an equal key (as Yams compares them: text and resolved tag) came
    /// before in the same mapping, that earlier one is overridden and a warning names both lines.
    private mutating func record(key event: yaml_event_t, in mapping: inout Open, path: String) {
        let scalar = event.data.scalar
        let text = String(
            decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
        let tagName =
            scalar.quoted_implicit == 1
            ? Tag.Name.str
            : scalar.tag.map {
                Tag.Name(
                    rawValue: String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)))
            } ?? .implicit
        let style = Node.Scalar.Style(rawValue: numericCast(scalar.style.rawValue)) ?? .any
        let identity = Node.scalar(Node.Scalar(text, Tag(tagName, YAMLReader.resolver), style))
        let line = Int(event.start_mark.line) + 1
        // Only a key written on one line, without anchor or tag, can be renamed in place.
        let renamable =
            scalar.anchor == nil && scalar.tag == nil && event.start_mark.line == event.end_mark.line
            && (style == .plain || event.end_mark.index - event.start_mark.index > 2)
        let occurrence =
            renamable
            ? OverriddenKey(
                start: Int(event.start_mark.index), end: Int(event.end_mark.index), line: line,
                column: Int(event.start_mark.column) + 1, quoted: style != .plain) : nil
        if let previous = mapping.keys[identity] {
            guard let previous else {
                // The earlier key cannot be renamed: the composer reports the duplicate as before.
                return
            }
            overridden.append(previous)
            warnings.append(
                "\(path): duplicate key \(pythonRepr(text)) at lines \(previous.line) and \(line);"
                    + " the value at line \(line) is used, as PyYAML does")
        }
        mapping.keys[identity] = occurrence
    }

    /// `text` with every overridden key renamed in place to a distinct private-use name of the
    /// same length (so every later line and column is unchanged), for Yams's composer.
    func renamingOverriddenKeys(in text: String) -> String {
        guard !overridden.isEmpty else { return text }
        var scalars = Array(text.unicodeScalars)
        for (number, key) in overridden.enumerated() {
            let range = key.quoted ? (key.start + 1)..<(key.end - 1) : key.start..<key.end
            guard range.upperBound <= scalars.count else { continue }
            var remaining = number
            for offset in range.reversed() {
                // Base-6400 digits in U+E000…U+F8FF; the first one also marks the key as renamed.
                scalars[offset] = Unicode.Scalar(0xE000 + UInt32(remaining % 6400))!
                remaining /= 6400
            }
        }
        var renamed = String.UnicodeScalarView()
        renamed.append(contentsOf: scalars)
        return String(renamed)
    }

    /// The positions (line, column) of the renamed keys, to drop them after composing.
    var overriddenPositions: Set<String> { Set(overridden.map { "\($0.line):\($0.column)" }) }
}
