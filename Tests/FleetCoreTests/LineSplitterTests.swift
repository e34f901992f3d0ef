import Testing

@testable import FleetCore

/// `logs` follow's line splitting: linear, bounded, and the same lines however the bytes arrive.
@Suite("LineSplitter")
struct LineSplitterTests {
    @Test func linesAcrossChunksWithCRLFAndAFinalPartialLine() {
        var splitter = LineSplitter()
        var lines: [String] = []
        for chunk in ["one\r", "\ntw", "o\n\nthr", "ee"] { lines += splitter.append(Array(chunk.utf8)) }
        #expect(lines == ["one", "two", ""])
        #expect(splitter.finish() == "three")
        #expect(splitter.finish() == nil)
    }

    /// A 30 MB line once took 11 s (the pending line was rescanned for every chunk) and a 200 MB
    /// line grew memory without bound. Now the line is cut at the cap, at most the cap is held
    /// at any time, and the line after it arrives intact.
    @Test func aHugeLineIsCutAndMemoryStaysBounded() {
        var splitter = LineSplitter(maximumLineBytes: 1 << 20)
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 << 10)
        var lines: [String] = []
        var mostHeld = 0
        for index in 0..<480 {  // 30 MiB
            var bytes = chunk
            if index == 3 { bytes[100] = UInt8(ascii: " ") }  // a word boundary inside the cap
            lines += splitter.append(bytes)
            mostHeld = max(mostHeld, splitter.bufferedBytes)
        }
        lines += splitter.append(Array("\nnext line\n".utf8))
        #expect(mostHeld <= 1 << 20)
        #expect(lines.count == 2)
        let kept = 3 * (64 << 10) + 101
        #expect(
            lines.first
                == String(repeating: "a", count: kept - 1)
                + " … [line cut at 1048576 bytes: \(480 * (64 << 10) - kept) more dropped]")
        #expect(lines[1] == "next line")
        #expect(splitter.bufferedBytes == 0)
    }

    /// The word the cap splits is dropped whole, so a secret cut in two never leaves a
    /// recognisable-only-in-full first half behind.
    @Test func theSplitWordIsDropped() {
        var splitter = LineSplitter(maximumLineBytes: 16)
        let lines = splitter.append(Array("token=abcdefghijklmnopqrstuvwxyz\n".utf8))
        #expect(lines == ["… [line cut at 16 bytes: 32 more dropped]"])
        let spaced = splitter.append(Array("key: ghp_0123456789abcdef\n".utf8))
        #expect(spaced == ["key: … [line cut at 16 bytes: 20 more dropped]"])
    }
}
