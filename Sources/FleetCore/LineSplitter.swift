/// Splits a byte stream (`logs` follow) into lines in linear time and bounded memory.
///
/// Each byte is scanned once, in the chunk it arrived in, and only the unfinished line is kept,
/// never more than `maximumLineBytes` of it: a longer line is cut there and the rest of it, up
/// to its newline, is counted and dropped. Rescanning the whole pending line for every chunk
/// (as before) made a 30 MB line cost 11 s and a 200 MB one grow memory without bound.
public struct LineSplitter: Sendable {
    /// The default cap: far beyond any log line a person reads, small enough to hold.
    public static let defaultMaximumLineBytes = 1 << 20

    public let maximumLineBytes: Int
    private var pending: [UInt8] = []
    /// Bytes of the current line dropped past the cap.
    private var dropped = 0

    public init(maximumLineBytes: Int = LineSplitter.defaultMaximumLineBytes) {
        self.maximumLineBytes = max(1, maximumLineBytes)
    }

    /// Bytes held for the unfinished line (at most `maximumLineBytes`).
    public var bufferedBytes: Int { pending.count }

    /// The lines `chunk` completes, without their terminator (`\n` or `\r\n`).
    public mutating func append(_ chunk: some Collection<UInt8>) -> [String] {
        var lines: [String] = []
        var from = chunk.startIndex
        while let newline = chunk[from...].firstIndex(of: 0x0A) {
            keep(chunk[from..<newline])
            lines.append(takeLine())
            from = chunk.index(after: newline)
        }
        keep(chunk[from...])
        return lines
    }

    /// The last line when the stream ended without a newline, else nil.
    public mutating func finish() -> String? {
        pending.isEmpty && dropped == 0 ? nil : takeLine()
    }

    private mutating func keep(_ part: some Collection<UInt8>) {
        let room = maximumLineBytes - pending.count
        if part.count <= room {
            pending.append(contentsOf: part)
        } else {
            pending.append(contentsOf: part.prefix(room))
            dropped += part.count - room
        }
    }

    private mutating func takeLine() -> String {
        defer {
            pending.removeAll(keepingCapacity: pending.count <= 64 << 10)
            dropped = 0
        }
        guard dropped > 0 else {
            let end = pending.last == 0x0D ? pending.count - 1 : pending.count
            return String(decoding: pending[..<end], as: UTF8.self)
        }
        // Cut after the last whitespace: a secret split by the cap would leave a first part that
        // redaction could no longer recognise, so the split word goes too.
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        let end = pending.lastIndex(where: isSpace).map { $0 + 1 } ?? 0
        let cut = dropped + pending.count - end
        return String(decoding: pending[..<end], as: UTF8.self)
            + "… [line cut at \(maximumLineBytes) bytes: \(cut) more dropped]"
    }
}
