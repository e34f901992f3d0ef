/// Cuts a byte stream into lines as they complete, for relaying a followed log (`logs -f`): each
/// line keeps its `\n` (a `\r\n` ending becomes `\n`, as Python's text mode reads it), and the
/// unfinished tail is held until more bytes arrive or the stream ends, when it is handed over as
/// it is, with no newline added. Redaction works on whole lines, so a secret split across chunks
/// is still redacted.
///
/// Linear and bounded: every byte is scanned for a newline once (rescanning the pending line for
/// each chunk made a 30 MB line cost 11 s), and an unfinished line never holds more than
/// `maximumPending` bytes: past it, the text up to its last space or tab goes out (a secret or a
/// token has no blank in it, so none is split), or, when it has no blank at all, it is dropped
/// with a marker saying how much (a cut inside it could leave a piece of a secret unrecognised).
public struct LineSplitter: Sendable {
    public static let defaultMaximumPending = 1 << 20

    let maximumPending: Int
    private var pending: [UInt8] = []
    /// How much of `pending` has been searched for a newline already.
    private var scanned = 0

    public init(maximumPending: Int = LineSplitter.defaultMaximumPending) {
        self.maximumPending = max(1, maximumPending)
    }

    /// Bytes held for the unfinished line.
    public var bufferedBytes: Int { pending.count }

    /// Adds `bytes` and returns the lines they complete, in order.
    public mutating func append(_ bytes: some Sequence<UInt8>) -> [String] {
        pending.append(contentsOf: bytes)
        var lines: [String] = []
        var start = 0
        while let newline = pending[max(start, scanned)...].firstIndex(of: 0x0A) {
            var end = newline
            if end > start, pending[end - 1] == 0x0D { end -= 1 }
            lines.append(String(decoding: pending[start..<end], as: UTF8.self) + "\n")
            start = newline + 1
        }
        if start > 0 { pending.removeFirst(start) }
        scanned = pending.count
        if pending.count > maximumPending {
            if let blank = pending.lastIndex(where: { $0 == 0x20 || $0 == 0x09 }) {
                lines.append(String(decoding: pending[...blank], as: UTF8.self))
                pending.removeFirst(blank + 1)
            } else {
                lines.append("… [\(pending.count) bytes without a blank dropped]")
                pending.removeAll()
            }
            scanned = pending.count
        }
        return lines
    }

    /// The held tail at the end of the stream (nil when the stream ended with a newline).
    public mutating func finish() -> String? {
        defer {
            pending = []
            scanned = 0
        }
        return pending.isEmpty ? nil : String(decoding: pending, as: UTF8.self)
    }
}
