/// The value rules of cloud reference §2.2, shared by cloud.yaml and fleet.yaml validation.
/// Each failure names the field by its dotted label and points at the offending node.
struct SpecRules {
    let reader: YAMLReader

    func fail(_ message: String, at node: YAMLNode?, code: FleetError.Code = .invalidSpec) -> FleetError {
        reader.error(code, message, at: node)
    }

    /// `mapping(label)`: absent or null → empty.
    func mapping(_ parent: YAMLNode.Mapping, _ key: String, label: String) throws(FleetError)
        -> YAMLNode.Mapping
    {
        guard let node = parent.value(for: key), !node.isNull else { return YAMLNode.Mapping([]) }
        guard let mapping = node.mapping else { throw fail("`\(label)` must be a mapping", at: node) }
        return mapping
    }

    /// `string(label, default?)`: absent or null → default (or required); kept as written.
    func string(
        _ parent: YAMLNode.Mapping, _ key: String, label: String, default fallback: String? = nil,
        anchor: YAMLNode? = nil
    ) throws(FleetError) -> String {
        guard let node = parent.value(for: key), !node.isNull else {
            if let fallback { return fallback }
            throw fail("`\(label)` is required", at: anchor)
        }
        return try nonEmptyString(node, label: label)
    }

    func optionalString(_ parent: YAMLNode.Mapping, _ key: String, label: String) throws(FleetError)
        -> String?
    {
        guard let node = parent.value(for: key), !node.isNull else { return nil }
        return try nonEmptyString(node, label: label)
    }

    func nonEmptyString(_ node: YAMLNode, label: String) throws(FleetError) -> String {
        guard let text = node.stringScalar, !text.isBlank else {
            throw fail("`\(label)` must be a non-empty string", at: node)
        }
        return text
    }

    /// `absolute(label, default?)`: a key present with a null value is required, not defaulted.
    /// The value is a remote path, normalized (§0.6).
    func absolute(
        _ parent: YAMLNode.Mapping, _ key: String, label: String, default fallback: String? = nil,
        anchor: YAMLNode? = nil
    ) throws(FleetError) -> String {
        let node = parent.value(for: key)
        if let node, node.isNull { throw fail("`\(label)` is required", at: node) }
        let value = try string(parent, key, label: label, default: fallback, anchor: anchor)
        guard value.hasPrefix("/") else {
            throw fail("`\(label)` must be an absolute POSIX path; got \(pythonRepr(value))", at: node)
        }
        return PosixPath.normalize(value)
    }

    /// String rule, then membership in `choices`, with the reference's message.
    func choice(
        _ parent: YAMLNode.Mapping, _ key: String, label: String, default fallback: String, choices: [String]
    ) throws(FleetError) -> String {
        let value = try string(parent, key, label: label, default: fallback)
        guard choices.contains(value) else {
            throw fail(
                "\(label) must be one of \(choices.joined(separator: ", ")); got \(pythonRepr(value))",
                at: parent.value(for: key))
        }
        return value
    }
}

extension String {
    /// True when empty or whitespace only, as Python's `not s.strip()`.
    public var isBlank: Bool { unicodeScalars.allSatisfy { $0.properties.isWhitespace } }

    /// Trimmed of leading and trailing whitespace, as Python's `str.strip()`.
    public var trimmed: String {
        let scalars = Array(unicodeScalars)
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[first...last])
        return String(view)
    }
}

/// Python's `repr` of a string as it appears inside messages (§0.2). Works on Unicode scalars
/// (so `\r\n` is two escapes, not one grapheme passed through) and escapes every character Python
/// deems non-printable, so no control byte from a user's file reaches a terminal through a message.
public func pythonRepr(_ value: String) -> String {
    let useDouble = value.contains("'") && !value.contains("\"")
    let quote: Unicode.Scalar = useDouble ? "\"" : "'"
    var out = String.UnicodeScalarView()
    func append(_ text: String) { out.append(contentsOf: text.unicodeScalars) }
    func hex(_ prefix: String, _ value: UInt32, width: Int) {
        let digits = String(value, radix: 16)
        append(prefix + String(repeating: "0", count: max(0, width - digits.count)) + digits)
    }
    out.append(quote)
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\\": append("\\\\")
        case "\n": append("\\n")
        case "\r": append("\\r")
        case "\t": append("\\t")
        case quote: append("\\\(quote)")
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                hex("\\x", scalar.value, width: 2)
            } else if scalar.value < 0x7F || isPythonPrintable(scalar) {
                out.append(scalar)
            } else if scalar.value <= 0xFF {
                hex("\\x", scalar.value, width: 2)
            } else if scalar.value <= 0xFFFF {
                hex("\\u", scalar.value, width: 4)
            } else {
                hex("\\U", scalar.value, width: 8)
            }
        }
    }
    out.append(quote)
    return String(out)
}

/// `text` as it is when it prints plainly (printable characters only), otherwise `pythonRepr(text)`:
/// for values quoted in messages without quotes (paths, numbers as written), so a line break or a
/// terminal escape read from a file never reaches a one-line message raw.
public func plainOrRepr(_ text: String) -> String {
    let plain = text.unicodeScalars.allSatisfy {
        ($0.value >= 0x20 && $0.value < 0x7F) || ($0.value >= 0x80 && isPythonPrintable($0))
    }
    return plain ? text : pythonRepr(text)
}

/// Python's `str.isprintable` for one non-ASCII character: not a control, format, surrogate,
/// private-use, unassigned or separator character.
private func isPythonPrintable(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
        .spaceSeparator:
        false
    default: true
    }
}

/// Python's rendering of a tuple of strings: `('a', 'b')`, `('a',)`.
public func pythonTuple(_ values: [String]) -> String {
    "(" + values.map(pythonRepr).joined(separator: ", ") + (values.count == 1 ? ",)" : ")")
}
