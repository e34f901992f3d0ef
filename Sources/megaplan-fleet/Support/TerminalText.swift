#if canImport(Glibc)
    import Glibc
#endif

/// Remote text is untrusted: a runner could print escape sequences that move the cursor,
/// recolour or retitle the user's terminal, or hide lines. Before such text reaches a terminal,
/// every control character (C0, DEL, C1) except line breaks and tabs is shown in caret notation,
/// like `cat -v`.
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
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    static func isTerminal(_ descriptor: Int32) -> Bool { isatty(descriptor) == 1 }
}
