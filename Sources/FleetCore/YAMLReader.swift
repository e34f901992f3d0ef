import Yams

/// Reads one YAML file for validation: the parsed root plus helpers that turn every rule failure
/// into a `FleetError` whose message names the file, the line and column (when the parser knows
/// them) and the field, as `path:line:col: message`.
public struct YAMLReader {
    public let path: String
    public let root: Node?
    public let text: String
    /// Duplicate keys accepted as PyYAML accepts them, one line each (also written to stderr).
    public let warnings: [String]

    /// Loads `path`. A missing file gives `spec file not found: <path>`; a syntax error gives
    /// `YAML parse error: <detail>` with the parser's line and column. With `pyYAML` (cloud.yaml
    /// and chain specs, which the reference reads with PyYAML) the document is read as PyYAML
    /// reads it: a byte-order mark is skipped, a duplicate key keeps its last value (with a
    /// warning naming both lines) and merge keys (`<<: *base`, `<<: [*a, *b]`) are applied.
    /// Without it (fleet.yaml, this tool's own format) duplicates are errors and `<<` is a key.
    public init(path: String, code: FleetError.Code = .invalidSpec, pyYAML: Bool = true) throws(FleetError) {
        guard let text = FileSystem.readText(path) else {
            if FileSystem.exists(path) {
                throw FleetError(code, "cannot read \(path): permission denied or not a regular file")
            }
            throw FleetError(code, "spec file not found: \(path)")
        }
        try self.init(path: path, text: text, code: code, pyYAML: pyYAML)
    }

    public init(path: String, text: String, code: FleetError.Code = .invalidSpec, pyYAML: Bool = true)
        throws(FleetError)
    {
        self.path = path
        let text = text.unicodeScalars.first == "\u{FEFF}" ? String(text.unicodeScalars.dropFirst()) : text
        self.text = text
        let scan = try YAMLScan.scan(text, path: path, code: code, findDuplicates: pyYAML)
        let composed: Node?
        do {
            composed = try Yams.compose(yaml: scan.renamingOverriddenKeys(in: text), Self.resolver)
        } catch let error as YamlError {
            throw FleetError(code, "\(path): YAML parse error: \(Self.describe(error))")
        } catch {
            throw FleetError(code, "\(path): YAML parse error: \(error)")
        }
        warnings = scan.warnings
        guard pyYAML, let composed else {
            root = composed
            return
        }
        root = try PyYAMLConstruction(path: path, code: code, overridden: scan.overriddenPositions)
            .resolve(composed)
        for warning in warnings { Diagnostics.warn(warning) }
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
    /// aliases ("billion laughs") would otherwise take minutes and gigabytes. `YAMLScan` counts
    /// them on libyaml's event stream (libyaml already bounds nesting, at 1000 levels).
    public static let maximumExpandedNodes = 100_000

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
