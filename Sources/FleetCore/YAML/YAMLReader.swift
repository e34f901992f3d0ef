/// Reads one YAML file for validation: the parsed root plus helpers that turn every rule failure
/// into a `FleetError` whose message names the file, the line and column (when the parser knows
/// them) and the field, as `path:line:col: message`.
public struct YAMLReader {
    public let path: String
    public let root: YAMLNode?
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
        var composer = YAMLComposer(path: path, code: code, reading: pyYAML ? .pyYAML : .strict)
        root = try composer.compose(text, single: true).first
        warnings = composer.warnings
        for warning in warnings { Diagnostics.warn(warning) }
    }

    /// The root as a mapping, `{}` for an empty document.
    public func rootMapping(kind: String, code: FleetError.Code = .invalidSpec) throws(FleetError)
        -> YAMLNode.Mapping
    {
        guard let root else { return YAMLNode.Mapping([]) }
        if root.isNull { return YAMLNode.Mapping([]) }
        guard let mapping = root.mapping else {
            throw error(code, "\(kind) must be a YAML mapping", at: root)
        }
        return mapping
    }

    public func error(_ code: FleetError.Code = .invalidSpec, _ message: String, at node: YAMLNode?)
        -> FleetError
    {
        FleetError(code, "\(location(of: node)): \(message)")
    }

    /// A mapping key outside the fixed set a section allows, named as the file wrote it.
    public func unknownKey(_ key: YAMLNode, in label: String, allowed: [String], code: FleetError.Code)
        -> FleetError
    {
        let shown = key.scalarText.map(pythonRepr) ?? "a non-string key"
        return error(
            code, "unknown key \(shown) in \(label); expected one of: \(allowed.joined(separator: ", "))",
            at: key)
    }

    public func location(of node: YAMLNode?) -> String {
        guard let mark = node?.mark else { return path }
        return "\(path):\(mark.line):\(mark.column)"
    }
}

extension YAMLNode {
    /// True for a YAML null (`~`, `null`, empty value).
    public var isNull: Bool {
        if case .scalar = self { return tag == .null }
        return false
    }

    /// The text of a scalar that YAML 1.1 typing resolves to a string (so `no`, `3` and `on` are not
    /// strings, as with the reference's parser).
    public var stringScalar: String? {
        if case .scalar(let scalar) = self, tag == .str { return scalar.string }
        return nil
    }

    /// An integer scalar (YAML 1.1 forms included); booleans are not integers here.
    public var integerScalar: Int? {
        if case .scalar(let scalar) = self, tag == .int { return YAMLResolver.integer(scalar.string) }
        return nil
    }

    public var boolScalar: Bool? {
        if case .scalar(let scalar) = self, tag == .bool { return YAMLResolver.boolean(scalar.string) }
        return nil
    }

    /// The scalar's text whatever its resolved type (for messages quoting the value given).
    public var scalarText: String? { scalar?.string }
}

extension YAMLNode.Mapping {
    /// The value for a string key, or nil when the key is absent.
    public func value(for key: String) -> YAMLNode? {
        for (name, value) in self where name.stringScalar == key || name.scalarText == key { return value }
        return nil
    }

    public func hasKey(_ key: String) -> Bool { value(for: key) != nil }
}
