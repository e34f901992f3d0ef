import FleetCore
import Testing
import Transport

/// Docker's env-file reader has no escape for a line break: a value holding one would end its
/// line early and could define another variable, so it is refused without showing the value.
@Suite struct EnvFileTests {
    @Test func valuesAreWrittenLiterallyOnePerLine() throws {
        let text = try EnvFile.render(
            port: 8080, secrets: [("A", "two words 'q' \"d\" $HOME =x"), ("B", "")])
        #expect(text == "PORT=8080\nA=two words 'q' \"d\" $HOME =x\nB=\n")
    }

    @Test(arguments: ["s3cr3t\nPATH=/tmp/evil", "s3cr3t\rLD_PRELOAD=/x", "s3cr3t\0tail", "s3cr3t\n"])
    func lineBreaksAreRefusedWithoutTheValue(_ value: String) {
        let error = #expect(throws: FleetError.self) {
            try EnvFile.render(port: 1, secrets: [("OK", "fine"), ("API_TOKEN", value)])
        }
        #expect(error?.message.contains("secret API_TOKEN contains a line break") == true)
        let shown = value.split(whereSeparator: { $0.isNewline || $0 == "\0" }).map(String.init)
        for piece in shown where piece.count > 2 { #expect(error?.message.contains(piece) == false) }
    }
}
