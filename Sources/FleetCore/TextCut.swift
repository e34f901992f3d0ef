/// Cutting text that is redacted later. A secret cut in two is no longer recognisable (neither
/// its literal value nor its token shape matches a prefix), so wherever text is cut the word the
/// cut splits is dropped whole: the status read's rule, applied to every cut.
public enum TextCut {
    /// Text that was cut short at its end (a capped stream) without its last, unfinished word:
    /// everything after the last ASCII whitespace goes (the status read's set). It scans bytes,
    /// not characters: a capped stream is 16 MiB, possibly of a single word.
    public static func droppingSplitWord(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes in
            var end = bytes.count
            // Space, or \t \n \v \f \r.
            while end > 0, bytes[end - 1] != 0x20, !(0x09...0x0D).contains(bytes[end - 1]) { end -= 1 }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[..<end]), as: UTF8.self)
        }
    }

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
