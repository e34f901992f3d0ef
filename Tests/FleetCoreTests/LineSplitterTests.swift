import Foundation
import PropertyBased
import TestSupport
import Testing

@testable import FleetCore

@Suite struct LineSplitterTests {
    @Test func linesKeepTheirNewlineAndTheTailIsNotTerminated() {
        var splitter = LineSplitter()
        #expect(splitter.append(Array("one\ntw".utf8)) == ["one\n"])
        #expect(splitter.append(Array("o\r".utf8)) == [])
        #expect(splitter.append(Array("\nlast".utf8)) == ["two\n"])
        #expect(splitter.finish() == "last")
        #expect(splitter.finish() == nil)
        #expect(splitter.append(Array("end\n".utf8)) == ["end\n"])
        #expect(splitter.finish() == nil, "a stream ending with a newline has no tail")
    }

    /// A stream that never sends a newline is relayed in pieces cut at blanks, so memory stays
    /// bounded and no token is split.
    @Test func anEndlessLineIsCutAtBlanks() {
        var splitter = LineSplitter(maximumPending: 100)
        var pieces: [String] = []
        for _ in 0..<50 { pieces += splitter.append(Array("word-0123456789 ".utf8)) }
        pieces += splitter.finish().map { [$0] } ?? []
        #expect(pieces.count > 5)
        #expect(pieces.joined() == String(repeating: "word-0123456789 ", count: 50))
        #expect(pieces.dropLast().allSatisfy { $0.hasSuffix(" ") && $0.utf8.count <= 116 })
    }

    /// A 30 MB line once took 11 s (the pending line was rescanned for every chunk) and a 200 MB
    /// line grew memory without bound. Now at most the cap (and the chunk being added) is held,
    /// what has a blank goes out, a blank-less run past the cap is dropped with a marker, and the
    /// next line arrives intact. Run on a thread of its own: megabytes in a debug build are CPU
    /// the cooperative pool's other tests should not wait behind.
    @Test func aHugeLineStaysBounded() async throws {
        let (lines, mostHeld, held) = try await onOwnThread {
            var splitter = LineSplitter(maximumPending: 1 << 20)
            let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 64 << 10)
            var lines: [String] = []
            var mostHeld = 0
            for index in 0..<128 {  // 8 MiB
                var bytes = chunk
                if index == 3 { bytes[100] = UInt8(ascii: " ") }  // one blank inside the cap
                lines += splitter.append(bytes)
                mostHeld = max(mostHeld, splitter.bufferedBytes)
            }
            lines += splitter.append(Array("\nnext line\n".utf8))
            return (lines, mostHeld, splitter.bufferedBytes)
        }
        #expect(mostHeld <= (1 << 20) + (64 << 10))
        let kept = 3 * (64 << 10) + 101
        #expect(lines.first == String(repeating: "a", count: kept - 1) + " ")
        #expect(
            lines.dropFirst().dropLast(2).allSatisfy {
                $0.hasPrefix("… [") && $0.hasSuffix(" bytes without a blank dropped]")
            })
        #expect(lines.suffix(1) == ["next line\n"])
        #expect(held == 0)
    }

    /// However the stream is cut into chunks, the pieces join back to the input (with `\r\n` read
    /// as `\n`), every piece but the last ends with its newline, and no piece holds two lines.
    @Test func anyChunkingGivesTheSameLines() async {
        let piece = Gen<String?>.element(of: ["a", "b", "\n", "\r\n", "é"]).map { $0! }
        let text = piece.array(of: 0...40).map { $0.joined() }
        await propertyCheck(count: 200, input: text) { text in
            var splitter = LineSplitter()
            var pieces: [String] = []
            var bytes = Array(text.utf8)[...]
            var size = 1
            while !bytes.isEmpty {
                pieces += splitter.append(bytes.prefix(size))
                bytes = bytes.dropFirst(size)
                size = size % 5 + 1
            }
            if let tail = splitter.finish() { pieces.append(tail) }
            #expect(pieces.joined() == text.replacingOccurrences(of: "\r\n", with: "\n"))
            #expect(pieces.dropLast().allSatisfy { $0.hasSuffix("\n") })
            #expect(pieces.allSatisfy { $0.dropLast().contains("\n") == false })
        }
    }
}
