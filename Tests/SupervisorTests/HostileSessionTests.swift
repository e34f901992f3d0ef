import FleetCore
import Supervisor
import TestSupport
import Testing
import Transport

/// A chain session name is text from the runner's state file: the restart must hand it to tmux as
/// one literal word, whatever it holds, and never let the runner's shell run any of it.
@Suite("Supervisor tick: hostile session names", .supervisorRunnerHost)
struct HostileSessionTests {
    static let names = [
        "bob's-chain",
        "x';touch pwned-by-session;echo '",
        // (tmux stores a backslash doubled and reads a leading `$` as a session id, so neither here)
        "a $(touch pwned-by-session) `touch pwned-by-session` \"q\" | & end",
    ]

    @Test(arguments: names)
    func restartUsesTheSessionNameVerbatim(_ session: String) async throws {
        try await withChain("hostile-session") { chain in
            let kill = "tmux kill-session -t \(ShellQuote.quote(session)) 2>/dev/null; true"
            defer { _ = try? chain.host.shell(kill) }
            try chain.writeState([
                "current_milestone_index": 1, "last_state": "done", "chain_session": .string(session),
            ])
            let (tick, _) = await chain.tick()
            #expect(tick.event == "supervisor_restarted", "\(tick.report)")
            #expect(tick.success && tick.acted && tick.errorKind == nil)
            let alive = try chain.host.shell(
                "tmux has-session -t \(ShellQuote.quote(session)) 2>/dev/null && echo alive || echo dead")
            #expect(alive.trimmed == "alive")
            let planted = try chain.host.shell(
                "find ~ /tmp -maxdepth 4 -name 'pwned-by-session' 2>/dev/null | head -1")
            #expect(planted.trimmed.isEmpty, "the session name ran as a command: \(planted)")
        }
    }
}
