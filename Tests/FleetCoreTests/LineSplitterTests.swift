import Foundation
import PropertyBased
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
