import FleetCore
import Foundation
import Testing

/// The generation step of scripts/setup.sh (scripts/install-docs.sh): a man page and shell
/// completions under a prefix, from the built binary.
@Suite("Man page and completions")
struct InstallDocsTests {
    @Test(.timeLimit(.minutes(2)))
    func installDocsWritesAManPageAndCompletions() async throws {
        let prefix = try scratchDirectory("mpf-docs-")
        defer { TemporaryDirectory.remove(prefix) }
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        // Built beside the binary by scripts/test.sh (`swift build --product generate-manual`).
        let generator = PosixPath.dirname(CLI.binary) + "/generate-manual"
        try #require(
            FileSystem.isRegularFile(generator),
            "\(generator) is missing: run swift build --product generate-manual")
        let result = try await CLI.run(
            [CLI.binary, prefix], home: prefix, cwd: checkout, environment: ["GENERATE_MANUAL": generator],
            executable: checkout + "/scripts/install-docs.sh")
        #expect(result.status == 0, "\(result)")

        let page = try #require(FileSystem.readText(prefix + "/share/man/man1/megaplan-fleet.1"))
        #expect(page.hasPrefix(".\\\""), "not a roff page: \(page.prefix(200))")
        #expect(page.contains("tick"))
        #expect(page.contains("Fl -dry-run"))
        let bash = try #require(
            FileSystem.readText(prefix + "/share/bash-completion/completions/megaplan-fleet"))
        #expect(bash.hasPrefix("#!/bin/bash"))
        #expect(
            bash.contains("complete -o filenames -F _megaplan-fleet megaplan-fleet"), "\(bash.suffix(300))")
        #expect(bash.contains("--outcome"))
        let zsh = try #require(FileSystem.readText(prefix + "/share/zsh/site-functions/_megaplan-fleet"))
        #expect(zsh.hasPrefix("#compdef megaplan-fleet"))
        let fish = try #require(
            FileSystem.readText(prefix + "/share/fish/vendor_completions.d/megaplan-fleet.fish"))
        #expect(fish.contains("complete -c 'megaplan-fleet'") || fish.contains("complete -c megaplan-fleet"))
    }
}
