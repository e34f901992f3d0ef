import FleetCore
import Testing
import Transport

@testable import RunnerProtocol
@testable import Supervisor

/// The status-read error quotes the runner's stderr up to 500 characters, before the line is
/// redacted: the cut must never keep the first part of a secret.
@Suite("Status read error excerpt")
struct ObservationExcerptTests {
    static let secret = "Zq7xK2mPv9RtL4wNc8HbY3sJd6FgA1eU"

    func message(stderr: String) -> String {
        do {
            _ = try ObservationResult.decode(
                RunnerOutput(status: 3, stdout: "", stderr: stderr), host: "h:22")
            return ""
        } catch {
            return error.message
        }
    }

    @Test func aSecretAcrossTheCutIsDroppedWhole() {
        let redactor = Redactor(secretNames: ["TOKEN"], environment: ["TOKEN": Self.secret])
        let head = "token \(Self.secret) rejected\n"
        // The second copy starts anywhere from well before the cut (at 500) to just after it.
        for offset in 460...505 {
            for separator in [" ", "\n", "E"] {
                let stderr =
                    head + String(repeating: "E", count: offset - head.count - 1) + separator + Self.secret
                    + " tail"
                let shown = redactor.redact(message(stderr: stderr))
                for start in 0...(Self.secret.count - 8) {
                    let fragment = String(Array(Self.secret)[start..<(start + 8)])
                    #expect(
                        !shown.contains(fragment), "offset \(offset) separator \(separator.debugDescription)")
                }
                #expect(shown.contains(Redactor.token))
            }
        }
    }

    @Test func shortTextIsKeptAndLongTextEndsAtAWord() {
        #expect(TextCut.excerpt("fatal: no such file") == "fatal: no such file")
        let words = Array(repeating: "word", count: 200).joined(separator: " ")
        let cut = TextCut.excerpt(words)
        #expect(cut.hasSuffix(" …"))
        #expect(cut.dropLast(2).split(separator: " ").allSatisfy { $0 == "word" })
        #expect(cut.count <= 502)
        #expect(TextCut.excerpt(String(repeating: "x", count: 600)) == "…")
    }
}
