import FleetCore
import Foundation
import TestSupport
import Testing

/// A runner controlled by an attacker cannot drive the user's terminal or break the JSON: remote
/// text is escaped in JSON and shown in caret notation in the human summary (README, Security).
@Suite("CLI: hostile runner output", .runnerHost)
struct HostileRunnerTests {
    /// Escape sequences, then bidirectional controls that would reorder what a person reads, a
    /// zero-width space and a tag character that would hide text.
    static let escape = "\u{1B}]0;owned\u{07}\u{1B}[2J\u{1B}[31m\u{202E}\u{2067}\u{200F}\u{200B}\u{E0041}"

    @Test func escapeSequencesNeverReachTheTerminalOrTheJSONRaw() async throws {
        let fixture = try SSHFixture("hostile", runtime: "host")
        defer { fixture.cleanUp() }
        let project = fixture.project
        try project.write(
            "chain.yaml", "milestones:\n  - label: \"m1\(Self.yamlEscaped)\"\n    idea: ideas/m1.md\n")
        try project.writeState([
            "current_milestone_index": 0, "current_plan_name": .string("plan\(Self.escape)"),
        ])

        let status = try await fixture.cli(["status", "--chain"])
        #expect(status.status == 0, "\(status)")
        #expect(!status.stderr.contains("\u{1B}"), "the summary block shows no raw ESC")
        #expect(
            status.stderr.contains("m1^[]0;owned^G^[[2J^[[31m<U+202E><U+2067><U+200F><U+200B><U+E0041>"),
            "\(status.stderr)")
        #expect(
            !status.stderr.unicodeScalars.contains {
                (0x202A...0x202E).contains($0.value) || (0x2066...0x2069).contains($0.value)
            })
        #expect(!status.stdout.contains("\u{1B}"), "JSON escapes control characters")
        #expect(status.stdout.contains("\\u001b"))
        #expect(status.stdout.contains("\\u202e"))
        #expect(
            status.json?["summary"]?["per_milestone"]?.arrayValue?.first?["label"]
                == .string("m1\(Self.escape)"))
    }

    /// `\u001b` etc. as YAML double-quoted escapes.
    static var yamlEscaped: String {
        escape.unicodeScalars.map { $0.value < 0x20 ? String(format: "\\x%02x", $0.value) : String($0) }
            .joined()
    }
}
