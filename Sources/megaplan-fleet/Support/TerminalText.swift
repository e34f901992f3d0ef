#if canImport(Glibc)
    import Glibc
#endif

/// Remote text is untrusted: a runner could print escape sequences that move the cursor,
/// recolour or retitle the user's terminal, or hide lines. Before such text reaches a terminal,
/// every control character (C0, DEL, C1) except line breaks and tabs is shown in caret notation,
/// like `cat -v`. Bidirectional formatting characters, which reorder what a person reads without
/// showing themselves, and the Unicode line and paragraph separators are shown as `<U+202E>`.
enum TerminalText {
    static func sanitize(_ text: String, keepLineBreaks: Bool = true) -> String {
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
            case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x2028, 0x2029:
                let digits = String(scalar.value, radix: 16, uppercase: true)
                let padding = String(repeating: "0", count: max(0, 4 - digits.count))
                out.append(contentsOf: "<U+\(padding)\(digits)>".unicodeScalars)
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    static func isTerminal(_ descriptor: Int32) -> Bool { isatty(descriptor) == 1 }
}
