/// A double-quoted string of JSON, TOML or YAML: the three share `\"`, `\\`, `\n`, `\r`, `\t`
/// and differ in the other short escapes and in how any other character they must not carry raw
/// is written.
public struct QuotedString: Sendable {
    /// `\b` and `\f` (JSON and TOML have them; YAML writes them numerically).
    private let hasFormEscapes: Bool
    private let isRaw: @Sendable (UInt32) -> Bool
    private let numeric: @Sendable (UInt32) -> String

    /// Python's `json.dumps` with `ensure_ascii`: every control and non-ASCII character is
    /// `\uXXXX` (a surrogate pair above U+FFFF), so no raw control byte or terminal escape is written.
    public static let json = QuotedString(
        hasFormEscapes: true, isRaw: { (0x20..<0x7F).contains($0) },
        numeric: { value in
            guard value > 0xFFFF else { return "\\u" + hex(value, width: 4, uppercase: false) }
            let offset = value - 0x10000
            return "\\u" + hex(0xD800 + (offset >> 10), width: 4, uppercase: false) + "\\u"
                + hex(0xDC00 + (offset & 0x3FF), width: 4, uppercase: false)
        })

    /// A TOML basic string: controls and DEL as `\uXXXX`, everything else raw.
    public static let toml = QuotedString(
        hasFormEscapes: true, isRaw: { $0 >= 0x20 && $0 != 0x7F },
        numeric: { "\\u" + hex($0, width: 4, uppercase: true) })

    /// A YAML double-quoted scalar: C0 and C1 controls and DEL as `\xHH`, everything else raw.
    public static let yaml = QuotedString(
        hasFormEscapes: false, isRaw: { $0 >= 0x20 && !(0x7F...0x9F).contains($0) },
        numeric: { "\\x" + hex($0, width: 2, uppercase: true) })

    public func quote(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}" where hasFormEscapes: out += "\\b"
            case "\u{0C}" where hasFormEscapes: out += "\\f"
            default:
                if isRaw(scalar.value) {
                    out.unicodeScalars.append(scalar)
                } else {
                    out += numeric(scalar.value)
                }
            }
        }
        out += "\""
    }

    public func quoted(_ text: String) -> String {
        var out = ""
        quote(text, into: &out)
        return out
    }

    private static func hex(_ value: UInt32, width: Int, uppercase: Bool) -> String {
        let digits = String(value, radix: 16, uppercase: uppercase)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
