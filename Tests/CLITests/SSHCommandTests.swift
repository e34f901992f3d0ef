import BenchSupport
import FleetCore
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// status, exec, logs, bootstrap, resume, attach and supervise over the ssh provider (§1.6–§1.14).
@Suite("CLI: runner commands over ssh", .runnerHost)
struct SSHCommandTests {
    @Test func statusPassesTheRemoteJSONThrough() async throws {
        let fixture = try SSHFixture("status")
        defer { fixture.cleanUp() }
        try fixture.project.stub(
            "status.json",
            #"{"state": "executing", "next_step": "review", "zeta": [1, 2], "alpha": {"b": null}}"#)
        let result = try await fixture.cli(["status"])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.json == [
                "state": "executing", "next_step": "review", "zeta": [1, 2], "alpha": ["b": nil],
            ])
        #expect(result.stderr.isEmpty)

        let plan = try await fixture.cli(["status", "--plan", "plan x", "--remote-spec", "/ignored.yaml"])
        #expect(plan.status == 0, "\(plan)")
        let ws = fixture.workspace
        #expect(
            fixture.dockerCalls() == [
                fixture.execRecord("cd \(ws) && megaplan status"),
                fixture.execRecord("cd \(ws) && megaplan status --plan 'plan x'"),
            ])
        #expect(
            fixture.project.calls().compactMap { $0["argv"] } == [
                ["status"], ["status", "--plan", "plan x"],
            ])

        try fixture.project.stub("status.json", "not json at all")
        let garbage = try await fixture.cli(["status"])
        expectError(garbage, "provider_failed", contains: ["megaplan status did not return JSON: "])
        try fixture.project.stub("status.json", "[1, 2]")
        let array = try await fixture.cli(["status"])
        expectError(array, "provider_failed", "megaplan status did not return a JSON object")
    }

    @Test func execRelaysRedactedOutputAndFailsWithTheRemoteStderr() async throws {
        let fixture = try SSHFixture("exec")
        defer { fixture.cleanUp() }
        let secret = fixture.secretValue
        let command = "echo \"token \(secret) ok\"; echo \"MPF_CLI_SECRET=\(secret)\" >&2; echo ghp_abcdef123"
        let result = try await fixture.cli(["exec", command])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "token ***REDACTED*** ok\n***REDACTED***\n")
        #expect(result.stderr == "MPF_CLI_SECRET=***REDACTED***\n")
        #expect(fixture.dockerCalls() == [fixture.execRecord(command)])

        let failing = try await fixture.cli(["exec", "echo partial; echo broken thing >&2; exit 3"])
        expectError(failing, "provider_failed", "broken thing")
        #expect(!failing.stdout.contains("partial"))

        let leaking = try await fixture.cli(["exec", "echo \"\(secret)\" >&2; exit 4"])
        expectError(leaking, "provider_failed", "***REDACTED***")
        #expect(!leaking.stdout.contains(secret) && !leaking.stderr.contains(secret))

        // Nothing on stderr: §0.5's `Command failed: <argv>`, the reference's ssh argument vector.
        let silent = try await fixture.cli(["exec", "exit 42"])
        expectError(
            silent, "provider_failed",
            "Command failed: ssh -p \(fixture.host.server.port) -i \(fixture.host.server.clientKeyPath) "
                + "\(fixture.host.server.account)@127.0.0.1 docker exec \(fixture.container) bash -lc 'exit 42'"
        )
    }

    @Test func logsOnTheDockerRuntime() async throws {
        let fixture = try SSHFixture("logs")
        defer { fixture.cleanUp() }
        let recent = try await fixture.cli(["logs", "--no-follow"])
        #expect(recent.status == 0, "\(recent)")
        #expect(recent.stdout == "entrypoint starting\nagent ready\n")
        let follow = try await fixture.cli(["logs"])
        #expect(follow.status == 0, "\(follow)")
        #expect(follow.stdout == "entrypoint starting\nagent ready\n")
        #expect(
            fixture.dockerCalls() == [
                ["logs", "--tail", "200", fixture.container], ["logs", "-f", fixture.container],
            ])
    }

    /// Follow mode relays the stream as it comes: no newline is added to a last line that had
    /// none, and a secret split across two writes (so across SSH chunks) is still redacted.
    @Test func logsFollowKeepsTheLastLineAsItIs() async throws {
        let fixture = try SSHFixture("followtail")
        defer { fixture.cleanUp() }
        let secret = fixture.secretValue
        let half = secret.count / 2
        let script = """
            printf 'key MPF_CLI_SECRET=%s' \(ShellQuote.quote(String(secret.prefix(half))))
            sleep 0.3
            printf '%s\\nraw %s' \(ShellQuote.quote(String(secret.dropFirst(half)))) \(ShellQuote.quote(String(secret.prefix(half))))
            sleep 0.3
            printf '%s\\r\\nlast line, no newline' \(ShellQuote.quote(String(secret.dropFirst(half))))
            """
        _ = try fixture.host.server.placeFile(
            ".docker-stub/\(fixture.container)/logs.sh", contents: Array(script.utf8), mode: 0o644)
        let follow = try await fixture.cli(["logs"])
        #expect(follow.status == 0, "\(follow)")
        #expect(
            follow.stdout
                == "key MPF_CLI_SECRET=***REDACTED***\nraw ***REDACTED***\nlast line, no newline")
    }

    @Test func logsFollowIsRedactedAndEndsCleanlyOnSIGINT() async throws {
        let fixture = try SSHFixture("follow", runtime: "host")
        defer { fixture.cleanUp() }
        try fixture.project.write(
            ".megaplan/cloud-chain.log",
            "line one\nkey MPF_CLI_SECRET=\(fixture.secretValue)\nraw \(fixture.secretValue)\n")

        let recent = try await fixture.cli(["logs", "--no-follow"])
        #expect(recent.status == 0, "\(recent)")
        #expect(recent.stdout == "line one\nkey MPF_CLI_SECRET=***REDACTED***\nraw ***REDACTED***\n")

        let running = try fixture.start(["logs"])
        let streamed = await running.waitForOutput { $0.contains("raw ***REDACTED***\n") }
        #expect(streamed, "\(running.stdoutSoFar)")
        running.interrupt()
        let result = await running.wait()
        #expect(result.status == 130, "\(result)")
        #expect(result.stdout.hasPrefix("line one\nkey MPF_CLI_SECRET=***REDACTED***\nraw ***REDACTED***\n"))
        #expect(!result.stdout.contains(fixture.secretValue))
        #expect(!result.stdout.contains("\"success\""), "an interrupt is not an error")
        #expect(!result.stderr.contains("Fatal") && !result.stderr.contains("fatal"), "\(result)")
    }

    @Test func bootstrapEnsuresUploadsAndInits() async throws {
        let fixture = try SSHFixture("boot")
        defer { fixture.cleanUp() }
        let ws = fixture.workspace
        try write(fixture.repo + "/notes/idea.md", "Build the thing\n")

        let result = try await fixture.cli(["bootstrap", "notes/idea.md", "--plan-name", "p-one"])
        #expect(result.status == 0, "\(result)")
        let initCommand =
            "cd \(ws) && megaplan init --project-dir \(ws) --idea-file \(ws)/idea.txt --auto-start --robustness standard"
        #expect(
            result.stdout
                == "megaplan init --project-dir \(ws) --idea-file \(ws)/idea.txt --auto-start --robustness standard --name p-one\n"
        )
        #expect(fixture.remoteFile(ws + "/idea.txt") == "Build the thing\n")
        #expect(
            fixture.project.calls().compactMap { $0["argv"] } == [
                .strings([
                    "init", "--project-dir", ws, "--idea-file", ws + "/idea.txt", "--auto-start",
                    "--robustness",
                    "standard", "--name", "p-one",
                ])
            ])

        let again = try await fixture.cli([
            "bootstrap", fixture.repo + "/notes/idea.md", "--robustness", "heavy",
        ])
        #expect(again.status == 0, "\(again)")
        let ensure =
            "mkdir -p \(PosixPath.dirname(ws)) && if [ ! -d \(ws)/.git ]; then git clone --branch main -- https://example.invalid/boot.git \(ws); else true; fi"
        let upload = fixture.execRecord("mkdir -p \(ws) && base64 -d > \(ws)/idea.txt", input: true)
        #expect(
            fixture.dockerCalls() == [
                fixture.execRecord(ensure), upload, fixture.execRecord(initCommand + " --name p-one"),
                fixture.execRecord(ensure), upload,
                fixture.execRecord(initCommand.replacingOccurrences(of: "standard", with: "heavy")),
            ])

        let missing = try await fixture.cli(["bootstrap", "nope.md"])
        expectError(missing, "missing_idea_file", "idea file not found: \(fixture.repo)/nope.md")
        #expect(fixture.dockerCalls().count == 6, "no remote call for a missing idea file")
    }

    @Test func resumeMapsNextStep() async throws {
        let fixture = try SSHFixture("resume")
        defer { fixture.cleanUp() }
        func argv() -> [JSONValue] { fixture.project.calls().compactMap { $0["argv"] } }

        try fixture.project.stub("status.json", #"{"state": "finalized", "next_step": "execute"}"#)
        let execute = try await fixture.cli(["resume"])
        #expect(execute.status == 0, "\(execute)")
        #expect(
            execute.stdout == "megaplan execute --confirm-destructive --user-approved --retry-blocked-tasks\n"
        )
        #expect(
            argv() == [
                ["status"], ["execute", "--confirm-destructive", "--user-approved", "--retry-blocked-tasks"],
            ])

        let planned = try await fixture.cli(["resume", "--plan", "plan-x"])
        #expect(planned.status == 0, "\(planned)")
        #expect(
            argv().suffix(2) == [
                ["status", "--plan", "plan-x"],
                [
                    "execute", "--confirm-destructive", "--user-approved", "--retry-blocked-tasks", "--plan",
                    "plan-x",
                ],
            ])
        #expect(
            fixture.dockerCalls().last
                == fixture.execRecord(
                    "cd \(fixture.workspace) && megaplan execute --confirm-destructive --user-approved --retry-blocked-tasks --plan plan-x"
                ))

        try fixture.project.stub("status.json", #"{"next_step": "feedback"}"#)
        #expect(try await fixture.cli(["resume"]).status == 0)
        #expect(argv().last == ["feedback", "workflow"])

        try fixture.project.stub("status.json", #"{"next_step": "override add-note 'two words'"}"#)
        #expect(try await fixture.cli(["resume"]).status == 0)
        #expect(argv().last == ["override", "add-note", "two words"])

        try fixture.project.stub("status.json", #"{"state": "done", "next_step": ""}"#)
        let none = try await fixture.cli(["resume"])
        expectError(none, "invalid_status", "Remote status did not include a next_step")
        #expect(argv().last == ["status"], "nothing runs after an empty next_step")
    }

    @Test func attachRequestsATerminalAndReportsAFailedAttach() async throws {
        let fixture = try SSHFixture("attachpty")
        defer { fixture.cleanUp() }
        // No `agent` tmux session exists on the test host, so tmux attach fails there.
        let result = try await fixture.cli(["attach"])
        expectError(
            result, "provider_failed",
            contains: [
                "Command failed: ssh -p ",
                "@127.0.0.1 docker exec -it \(fixture.container) tmux attach -t agent",
            ])
        #expect(
            fixture.dockerCalls() == [["exec", "-it", fixture.container, "tmux", "attach", "-t", "agent"]])

        // With an `agent` session, attach gets a real terminal and ends when the session does.
        // (Only this test uses the name `agent` on the shared test account.)
        // The session waits (up to 60 s) for the client, so a slow machine cannot end it early.
        try fixture.host.shell(
            "tmux new-session -d -s agent 'for i in $(seq 600); do [ -n \"$(tmux list-clients -t agent)\" ] && break; sleep 0.1; done; echo attached-ok; sleep 1'"
        )
        defer { _ = try? fixture.host.shell("tmux kill-session -t agent 2>/dev/null; true") }
        let attached = try await fixture.cli(["attach"])
        #expect(attached.status == 0, "\(attached)")
        #expect(attached.stdout.contains("attached-ok"), "the raw session output reaches stdout")
        #expect(fixture.dockerCalls().count == 2)
    }

    @Test func transportErrorsNameWhatToFix() async throws {
        let fixture = try SSHFixture("transport")
        defer { fixture.cleanUp() }
        let empty = fixture.project.localDirectory + "/empty_known_hosts"
        try write(empty, "")
        let base = ["status", "--cloud-yaml", fixture.cloudYAML]
        let unknown = try await CLI.run(
            base + ["--known-hosts", empty], home: fixture.home, cwd: fixture.repo)
        expectError(
            unknown, "provider_failed",
            contains: ["is not in \(empty)", "add it or use host key policy accept-new"])

        let accepted = try await CLI.run(
            base + ["--known-hosts", empty, "--host-key-policy", "accept-new"], home: fixture.home,
            cwd: fixture.repo)
        #expect(accepted.status == 0, "\(accepted)")
        #expect(FileSystem.readText(empty)?.contains("[127.0.0.1]:\(fixture.host.server.port)") == true)

        let policy = try await CLI.run(
            base + ["--known-hosts", empty, "--host-key-policy", "trust-all"], home: fixture.home,
            cwd: fixture.repo)
        #expect(policy.status == 64, "\(policy)")
        #expect(policy.stdout.isEmpty, "\(policy)")
        #expect(
            policy.stderr.contains("'trust-all' is invalid for '--host-key-policy")
                && policy.stderr.contains("'strict' and 'accept-new'"), "\(policy)")

        let text = try #require(FileSystem.readText(fixture.cloudYAML))
        let closed = try SSHServer.freePort()
        try FileSystem.writeAtomically(
            fixture.cloudYAML,
            text: text.replacingOccurrences(of: "port: \(fixture.host.server.port)", with: "port: \(closed)"))
        let unreachable = try await fixture.cli(["status"])
        expectError(unreachable, "provider_failed", contains: ["cannot connect to 127.0.0.1:\(closed)"])
    }

    @Test func chainStatusIsOneRemoteCommand() async throws {
        let fixture = try SSHFixture("onecmd")
        defer { fixture.cleanUp() }
        try fixture.project.writeState(["current_milestone_index": 0, "current_plan_name": "plan-m1"])
        let result = try await fixture.cli(["status", "--chain"])
        #expect(result.status == 0, "\(result)")
        #expect(result.json?["effective_status"] == "running")
        let calls = fixture.dockerCalls()
        #expect(calls.count == 1, "\(calls)")
        #expect(
            calls.first?.prefix(5) == [
                "exec", fixture.container, "bash", "-lc", "python3 -c 'import json, shlex, subprocess",
            ] || calls.first?.last?.hasPrefix("python3 -c ") == true)
        // The probes inside that one command are the reference's: status, runner, stat, verify-human.
        #expect(
            fixture.project.calls().compactMap { $0["argv"] } == [
                ["status", "--plan", "plan-m1"], ["verify-human", "--list", "--plan", "plan-m1", "--json"],
            ])
    }

    @Test func attachSessionIsRailwayOnly() async throws {
        let fixture = try SSHFixture("attach")
        defer { fixture.cleanUp() }
        let result = try await fixture.cli(["attach", "--session", "other"])
        expectError(result, "invalid_args", "--session is only supported for provider: railway")
        #expect(fixture.dockerCalls().isEmpty)
    }

    @Test func superviseNeedsChainAndRestartsAStaleRunner() async throws {
        let fixture = try SSHFixture("supervise", runtime: "host")
        defer { fixture.cleanUp() }
        let refused = try await fixture.cli(["supervise"])
        expectError(
            refused, "invalid_args",
            "`cloud supervise` requires --chain. Try `megaplan cloud supervise --chain`.")

        try fixture.project.writeState([
            "current_milestone_index": 1, "completed": [["label": "m1", "plan": "p1", "status": "done"]],
        ])
        let tick = try await fixture.cli(["supervise", "--chain"])
        #expect(tick.status == 0, "\(tick)")
        #expect(tick.stderr == "supervisor tick: supervisor_restarted | acted=True | next_action=restart\n")
        let report = try #require(tick.json)
        #expect(
            keys(report) == [
                "success", "event", "spec", "effective_status", "next_action", "acted", "refused_reason",
                "runner",
                "sync", "pr", "logs", "sync_refresh", "provider_consistency", "extra_repo_sync",
                "human_verification",
            ])
        #expect(report["effective_status"] == "stale_bookkeeping")
        #expect(report["sync_refresh"] == ["status": "ok"])
        #expect(fixture.project.sessionAlive())
        var starts: [JSONValue] = []
        for _ in 0..<400 where starts.isEmpty {
            starts = fixture.project.chainStarts()
            if starts.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(
            starts.first?["argv"]
                == .strings(["chain", "start", "--spec", fixture.project.remoteSpec, "--one"]))
    }
}
