/// Cuts a byte stream into lines as they complete, for relaying a followed log: each line keeps
/// its `\n` (a `\r\n` ending becomes `\n`, as Python's text mode reads it), and the unfinished
/// tail is held until more bytes arrive or the stream ends, when it is handed over as it is, with
/// no newline added. Redaction works on whole lines, so a secret split across chunks is redacted.
public struct LineSplitter: Sendable {
    private var pending: [UInt8] = []

    public init() {}

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
        return lines
    }

    /// The held tail at the end of the stream (nil when the stream ended with a newline).
    public mutating func finish() -> String? {
        defer { pending = [] }
        return pending.isEmpty ? nil : String(decoding: pending, as: UTF8.self)
    }
}
