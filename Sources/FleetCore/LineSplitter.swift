/// Cuts a byte stream into lines as they complete, for relaying a followed log: each line keeps
/// its `\n` (a `\r\n` ending becomes `\n`, as Python's text mode reads it), and the unfinished
/// tail is held until more bytes arrive or the stream ends, when it is handed over as it is, with
/// no newline added. Redaction works on whole lines, so a secret split across chunks is redacted.
public struct LineSplitter: Sendable {
    private var pending: [UInt8] = []
    /// The most an unfinished line may hold: past it, the text up to its last space or tab goes
    /// out (a secret or token has no blank in it, so none is cut), keeping memory bounded
    /// whatever the stream sends.
    let maximumPending: Int

    public init(maximumPending: Int = 1 << 20) { self.maximumPending = maximumPending }

    /// Adds `bytes` and returns the lines they complete, in order.
    public mutating func append(_ bytes: some Sequence<UInt8>) -> [String] {
        pending.append(contentsOf: bytes)
        var lines: [String] = []
        var start = 0
        while let newline = pending[start...].firstIndex(of: 0x0A) {
            var end = newline
            if end > start, pending[end - 1] == 0x0D { end -= 1 }
            lines.append(String(decoding: pending[start..<end], as: UTF8.self) + "\n")
            start = newline + 1
        }
        if start > 0 { pending.removeFirst(start) }
        if pending.count > maximumPending {
            let cut = (pending.lastIndex { $0 == 0x20 || $0 == 0x09 }).map { $0 + 1 } ?? pending.count
            lines.append(String(decoding: pending[..<cut], as: UTF8.self))
            pending.removeFirst(cut)
        }
        return lines
    }

    /// The held tail at the end of the stream (nil when the stream ended with a newline).
    public mutating func finish() -> String? {
        defer { pending = [] }
        return pending.isEmpty ? nil : String(decoding: pending, as: UTF8.self)
    }
}
