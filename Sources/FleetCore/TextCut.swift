/// Cutting text that is redacted later. A secret cut in two is no longer recognisable (neither
/// its literal value nor its token shape matches a prefix), so wherever text is cut the word the
/// cut splits is dropped whole: the status read's rule, applied to every cut that keeps text
/// (captured output is never cut: past its cap a command fails, see `OutputLimits`).
public enum TextCut {
    /// The first `limit` characters of `text` for a message, with ` …` when cut; a word the cut
    /// splits is dropped whole.
    public static func excerpt(_ text: String, limit: Int = 500) -> String {
        guard let end = text.index(text.startIndex, offsetBy: limit, limitedBy: text.endIndex),
            end < text.endIndex
        else { return text }
        if text[end].isWhitespace { return String(text[..<end]) + " …" }
        guard let space = text[..<end].lastIndex(where: \.isWhitespace) else { return "…" }
        return String(text[..<space]) + " …"
    }
}
