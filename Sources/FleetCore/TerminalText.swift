#if canImport(Glibc)
    import Glibc
#endif

/// Remote text is untrusted: a runner could print escape sequences that move the cursor,
/// recolour or retitle the user's terminal, or hide lines. Before such text reaches a terminal,
/// every control character (C0, DEL, C1) except line breaks and tabs is shown in caret notation,
/// like `cat -v`. Invisible format characters, bidirectional controls among them, which reorder
/// or hide what a person reads, are shown as `<U+202E>` (see `isInvisibleFormat`).
public enum TerminalText {
    public static func sanitize(_ text: String, keepLineBreaks: Bool = true) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A,
                0x09 where keepLineBreaks:
                out.append(scalar)
            case 0x00..<0x20:
                out.append(contentsOf: "^\(Character(Unicode.Scalar(scalar.value + 0x40)!))".unicodeScalars)
            case 0x7F: out.append(contentsOf: "^?".unicodeScalars)
            case 0x80...0x9F:
                out.append(contentsOf: "M-^\(Character(Unicode.Scalar(scalar.value - 0x40)!))".unicodeScalars)
            case _ where Self.isInvisibleFormat(scalar):
                let digits = String(scalar.value, radix: 16, uppercase: true)
                let padding = String(repeating: "0", count: max(0, 4 - digits.count))
                out.append(contentsOf: "<U+\(padding)\(digits)>".unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    /// Format characters (bidirectional controls such as U+202E and U+2066, zero-width spaces,
    /// tag characters, the byte-order mark) and the line and paragraph separators change what a
    /// person reads without showing themselves. The two joiners stay: scripts and emoji need them.
    public static func isInvisibleFormat(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x200C, 0x200D: false
        case 0x2028, 0x2029: true
        default: scalar.properties.generalCategory == .format
        }
    }

    public static func isTerminal(_ descriptor: Int32) -> Bool { isatty(descriptor) == 1 }
}
