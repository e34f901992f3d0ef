internal import CYaml
import Yams

/// Reads one YAML file for validation: the parsed root plus helpers that turn every rule failure
/// into a `FleetError` whose message names the file, the line and column (when the parser knows
/// them) and the field, as `path:line:col: message`.
public struct YAMLReader {
    public let path: String
    public let root: Node?
    public let text: String

    /// Loads `path`. A missing file gives `spec file not found: <path>`; a syntax error gives
    /// `YAML parse error: <detail>` with the parser's line and column.
    public init(path: String, code: FleetError.Code = .invalidSpec) throws(FleetError) {
        guard let text = FileSystem.readText(path) else {
            if FileSystem.exists(path) {
                throw FleetError(code, "cannot read \(path): permission denied or not a regular file")
            }
            throw FleetError(code, "spec file not found: \(path)")
        }
        try self.init(path: path, text: text, code: code)
    }

    public init(path: String, text: String, code: FleetError.Code = .invalidSpec) throws(FleetError) {
        self.path = path
        self.text = text
        try Self.checkSize(text, path: path, code: code)
        do {
            root = try Yams.compose(yaml: text, Self.resolver)
        } catch let error as YamlError {
            throw FleetError(code, "\(path): YAML parse error: \(Self.describe(error))")
        } catch {
            throw FleetError(code, "\(path): YAML parse error: \(error)")
        }
    }

    /// The root as a mapping, `{}` for an empty document.
    public func rootMapping(kind: String, code: FleetError.Code = .invalidSpec) throws(FleetError)
        -> Node.Mapping
    {
        guard let root else { return Node.Mapping([]) }
        if root.isNull { return Node.Mapping([]) }
        guard let mapping = root.mapping else {
            throw error(code, "\(kind) must be a YAML mapping", at: root)
        }
        return mapping
    }

    public func error(_ code: FleetError.Code = .invalidSpec, _ message: String, at node: Node?) -> FleetError
    {
        FleetError(code, "\(location(of: node)): \(message)")
    }

    public func location(of node: Node?) -> String {
        guard let mark = node?.mark else { return path }
        return "\(path):\(mark.line):\(mark.column)"
    }

    /// YAML 1.1 typing exactly as PyYAML (the reference's parser) resolves plain scalars. Yams's
    /// default rules are wider: they read `1e3` or `5e12345` (a short git sha) as floats and `0o17`
    /// as an integer, where PyYAML keeps all three as strings.
    static let resolver: Resolver = {
        let int =
            #"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"#
            + #"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$"#
        let float =
            #"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"#
            + #"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"#
        do {
            return try Resolver.default.replacing(.int, with: int).replacing(.float, with: float)
        } catch {
            preconditionFailure("invalid YAML resolver pattern: \(error)")
        }
    }()

    /// Values a document may hold once its aliases are expanded. Composing and reading a document
    /// expands every alias (`*a` copies the node anchored `&a`), so a few hundred bytes of nested
    /// aliases ("billion laughs") would otherwise take minutes and gigabytes.
    public static let maximumExpandedNodes = 100_000

    /// Walks libyaml's event stream, without building nodes, to bound the size of the document with
    /// aliases expanded (libyaml already bounds nesting, at 1000 levels). Syntax errors are left to
    /// the composer, which reports them with their position.
    static func checkSize(_ text: String, path: String, code: FleetError.Code) throws(FleetError) {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        defer { yaml_parser_delete(&parser) }
        // libyaml keeps the input pointer across calls, so the bytes get their own allocation.
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
        _ = buffer.initialize(from: bytes)
        defer { buffer.deallocate() }
        yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
        // Expanded sizes of anchored nodes; for each open collection, its anchor and size so far.
        var anchors: [String: Int] = [:]
        var open: [(anchor: String?, size: Int)] = []
        var total = 0
        func anchorName(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
        }
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else { return }
            defer { yaml_event_delete(&event) }
            let mark = "\(path):\(event.start_mark.line + 1):\(event.start_mark.column + 1)"
            // The expanded size this event adds to its parent, and the node it completes.
            var added = 0
            var completed: (anchor: String?, size: Int)?
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return
            case YAML_SCALAR_EVENT:
                added = 1
                total += 1
                completed = (anchorName(event.data.scalar.anchor), 1)
            case YAML_ALIAS_EVENT:
                added = anchorName(event.data.alias.anchor).flatMap { anchors[$0] } ?? 1
                total += added
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let anchor =
                    event.type == YAML_SEQUENCE_START_EVENT
                    ? event.data.sequence_start.anchor : event.data.mapping_start.anchor
                open.append((anchorName(anchor), 1))
                total += 1
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                completed = open.popLast()
                added = completed?.size ?? 0
            default:
                break
            }
            if let completed, let anchor = completed.anchor { anchors[anchor] = completed.size }
            if !open.isEmpty { open[open.count - 1].size += added }
            guard total <= maximumExpandedNodes else {
                throw FleetError(
                    code,
                    "\(mark): YAML aliases expand to more than \(maximumExpandedNodes) values;"
                        + " write the repeated values out instead")
            }
        }
    }

    /// A one-line description of a Yams error (its own description spans several lines).
    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text) " } ?? ""
            return "line \(mark.line), column \(mark.column): \(prefix)\(problem)"
        case .reader(let problem, let offset, _, _):
            return "\(problem) at byte \(offset.map(String.init) ?? "?")"
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map(pythonRepr).joined(separator: ", ")
            return "line \(context.mark.line), column \(context.mark.column): duplicated key(s) \(keys)"
        default:
            return String(describing: error).split(separator: "\n").first.map(String.init) ?? "unknown error"
        }
    }
}

extension Node {
    /// True for a YAML null (`~`, `null`, empty value).
    public var isNull: Bool {
        if case .scalar = self { return tag == Tag(.null) }
        return false
    }

    /// The text of a scalar that YAML 1.1 typing resolves to a string (so `no`, `3` and `on` are not
    /// strings, as with the reference's parser).
    public var stringScalar: String? {
        if case .scalar(let scalar) = self, tag == Tag(.str) { return scalar.string }
        return nil
    }

    /// An integer scalar (YAML 1.1 forms included); booleans are not integers here.
    public var integerScalar: Int? {
        if case .scalar(let scalar) = self, tag == Tag(.int) { return Int.construct(from: scalar) }
        return nil
    }

    public var boolScalar: Bool? {
        if case .scalar(let scalar) = self, tag == Tag(.bool) { return Bool.construct(from: scalar) }
        return nil
    }

    /// The scalar's text whatever its resolved type (for messages quoting the value given).
    public var scalarText: String? { scalar?.string }
}

extension Node.Mapping {
    /// The value for a string key, or nil when the key is absent.
    public func value(for key: String) -> Node? {
        for (name, value) in self where name.stringScalar == key || name.scalarText == key { return value }
        return nil
    }

    public func hasKey(_ key: String) -> Bool { value(for: key) != nil }
}
