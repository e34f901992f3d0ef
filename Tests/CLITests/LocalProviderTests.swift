import FleetCore
import Foundation
import Testing

/// `provider: local` with a recording docker stand-in first on PATH (§7.3).
@Suite("CLI: local provider")
struct LocalProviderTests {
    struct Fixture {
        let stubs: ProgramStubs
        let project: String
        let cloudYAML: String
        let workspace: String

        init(programs: [String] = ["docker"]) throws {
            stubs = try ProgramStubs(programs)
            project = "mpf-local-\(UInt32.random(in: 0...UInt32.max))"
            cloudYAML = stubs.directory + "/cloud.yaml"
            workspace = stubs.directory + "/ws"
            try FileSystem.makeDirectories(workspace)
            try write(
                cloudYAML,
                """
                provider: local
                repo:
                  url: https://example.invalid/local.git
                  workspace: \(workspace)
                local:
                  compose_project: \(project)
                resources:
                  port: 9090
                secrets:
                  - MPF_LOCAL_A
                  - MPF_LOCAL_B
                """)
        }

        var deployDirectory: String { stubs.home + "/.megaplan/cloud/" + project }
        var prefix: [String] { ["compose", "-p", project, "-f", deployDirectory + "/docker-compose.yaml"] }
        var secret: String { "aaaa-local-secret-1" }

        func run(_ arguments: [String], environment: [String: String]? = nil, stdin: String? = nil)
            async throws
            -> CLI.Result
        {
            try await stubs.run(
                arguments, cloudYAML: cloudYAML, environment: environment ?? ["MPF_LOCAL_A": secret],
                stdin: stdin)
        }
    }

    @Test func lifecycleCommandLines() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        let dd = fixture.deployDirectory

        let build = try await fixture.run(["build"])
        #expect(build.status == 0 && build.stdout.isEmpty && build.stderr.isEmpty, "\(build)")
        #expect(FileSystem.isRegularFile(dd + "/docker-compose.yaml"))
        // The compose file's env_file must exist for Compose to build a fresh directory.
        #expect(
            FileSystem.readText(dd + "/.env") == "PORT=9090\nMPF_LOCAL_A=\(fixture.secret)\nMPF_LOCAL_B=\n")
        #expect(fileMode(dd + "/.env") == 0o600)
        #expect(FileSystem.isDirectory(dd + "/workspace"))
        #expect(FileSystem.isRegularFile(dd + "/wrappers/mp-run"))

        // deploy rewrites it with the secrets of its own run.
        let deploy = try await fixture.run(["deploy"], environment: ["MPF_LOCAL_B": fixture.secret + "-b"])
        #expect(deploy.status == 0 && deploy.stdout.isEmpty, "\(deploy)")
        #expect(
            FileSystem.readText(dd + "/.env") == "PORT=9090\nMPF_LOCAL_A=\nMPF_LOCAL_B=\(fixture.secret)-b\n")
        #expect(fileMode(dd + "/.env") == 0o600)

        let down = try await fixture.run(["down"])
        #expect(down.status == 0 && down.stdout.isEmpty, "\(down)")
        let destroy = try await fixture.run(["destroy", "--yes"])
        #expect(destroy.status == 0 && destroy.stdout.isEmpty, "\(destroy)")
        #expect(!FileSystem.exists(dd))

        let calls = fixture.stubs.calls()
        #expect(
            calls.map(\.argv) == [
                fixture.prefix + ["build"], fixture.prefix + ["up", "-d"], fixture.prefix + ["stop"],
                fixture.prefix + ["down", "--volumes", "--remove-orphans"],
            ])
        #expect(calls.allSatisfy { $0.program == "docker" && $0.cwd == dd }, "\(calls)")
        #expect(
            !calls.contains {
                $0.argv.joined(separator: " ").contains(fixture.secret) || $0.stdin.contains(fixture.secret)
            })
    }

    @Test func execLogsAndStatus() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        let command = "echo \"value \(fixture.secret)\"; echo warn >&2"
        let exec = try await fixture.run(["exec", command])
        #expect(exec.status == 0, "\(exec)")
        #expect(exec.stdout == "value ***REDACTED***\n")
        #expect(exec.stderr == "warn\n")

        let failing = try await fixture.run(["exec", "echo nope >&2; exit 5"])
        expectError(failing, "provider_failed", "nope")

        let recent = try await fixture.run(["logs", "--no-follow"])
        #expect(recent.status == 0, "\(recent)")
        #expect(recent.stdout == "compose line one\nkey MPF_LOCAL_A=***REDACTED***\ntail line\n")

        let follow = try await fixture.run(["logs"])
        #expect(follow.status == 0, "\(follow)")
        #expect(follow.stdout == "compose line one\nkey MPF_LOCAL_A=***REDACTED***\ntail line\n")

        // `megaplan status` runs inside the service; non-JSON is a clear error, not a crash (§12.4).
        let status = try await fixture.run(["status", "--plan", "p 1"])
        expectError(status, "provider_failed", contains: ["megaplan"])

        let calls = fixture.stubs.calls().map(\.argv)
        #expect(
            calls == [
                fixture.prefix + ["exec", "-T", "agent", "bash", "-lc", command],
                fixture.prefix + ["exec", "-T", "agent", "bash", "-lc", "echo nope >&2; exit 5"],
                fixture.prefix + ["logs", "--no-color", "--tail", "200", "agent"],
                ["compose", "version"],
                fixture.prefix + ["logs", "--no-color", "-f", "agent"],
                fixture.prefix + [
                    "exec", "-T", "agent", "bash", "-lc",
                    "cd \(fixture.workspace) && megaplan status --plan 'p 1'",
                ],
            ])
    }

    @Test func statusWithAStandInMegaplan() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        try write(fixture.stubs.bin + "/megaplan", "#!/bin/sh\nprintf '%s' \"$STUB_STATUS\"\n", mode: 0o755)
        let ok = try await fixture.run(
            ["status"], environment: ["STUB_STATUS": #"{"next_step": "review", "state": "planned"}"#])
        #expect(ok.status == 0, "\(ok)")
        #expect(ok.json == ["next_step": "review", "state": "planned"])
        let garbage = try await fixture.run(["status"], environment: ["STUB_STATUS": "Traceback: boom"])
        expectError(garbage, "provider_failed", contains: ["megaplan status did not return JSON: "])
    }

    @Test func followEndsOnSIGINT() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        let running = try fixture.stubs.start(
            ["logs"], cloudYAML: fixture.cloudYAML,
            environment: ["MPF_LOCAL_A": fixture.secret, "STUB_FOLLOW_SLEEP": "3600"])
        let seen = await running.waitForOutput { $0.contains("tail line\n") }
        #expect(seen, "\(running.stdoutSoFar)")
        running.interrupt()
        let result = await running.wait()
        #expect(result.status == 130, "\(result)")
        #expect(result.stdout == "compose line one\nkey MPF_LOCAL_A=***REDACTED***\ntail line\n")
    }

    /// Compose's colour codes reach only a terminal (stdout through a pseudo-terminal here), and
    /// not even that with `NO_COLOR`.
    @Test func logsColourOnlyOnATerminal() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        let binary = ShellQuote.quote(CLI.binary)
        let arguments = "logs --no-follow --cloud-yaml \(ShellQuote.quote(fixture.cloudYAML))"
        for noColour in ["", "1"] {
            let result = try await CLI.run(
                ["-qfec", "\(binary) \(arguments)", "/dev/null"], home: fixture.stubs.home,
                cwd: fixture.stubs.directory, path: fixture.stubs.path,
                environment: [
                    "STUB_LOG": fixture.stubs.log, "NO_COLOR": noColour, "MPF_LOCAL_A": fixture.secret,
                ],
                executable: "/usr/bin/script")
            #expect(result.status == 0, "\(result)")
            #expect(
                result.stdout.contains("tail line") && !result.stdout.contains(fixture.secret), "\(result)")
        }
        #expect(
            fixture.stubs.calls().map(\.argv) == [
                fixture.prefix + ["logs", "--tail", "200", "agent"],
                fixture.prefix + ["logs", "--no-color", "--tail", "200", "agent"],
            ])
    }

    @Test(arguments: ["1", "28"]) func composeFallsBackToDockerCompose(dockerVersion: String) async throws {
        let fixture = try Fixture(programs: ["docker", "docker-compose"])
        defer { fixture.stubs.cleanUp() }
        let build = try await fixture.run(["build"], environment: ["STUB_NO_COMPOSE": dockerVersion])
        #expect(build.status == 0, "\(build)")
        let noPlugin = ["STUB_NO_COMPOSE": dockerVersion]
        let exec = try await fixture.run(["exec", "echo fallback"], environment: noPlugin)
        #expect(exec.stdout == "fallback\n", "\(exec)")
        // attach and logs -f hand their output straight over, so the plugin is asked for first.
        let attach = try await fixture.run(["attach"], environment: noPlugin)
        #expect(attach.status == 0, "\(attach)")
        let follow = try await fixture.run(["logs"], environment: noPlugin)
        #expect(follow.status == 0 && follow.stdout.hasSuffix("tail line\n"), "\(follow)")
        let calls = fixture.stubs.calls()
        let tail = Array(fixture.prefix.dropFirst())
        #expect(
            calls.map { [$0.program] + $0.argv } == [
                ["docker"] + fixture.prefix + ["build"], ["docker-compose"] + tail + ["build"],
                ["docker"] + fixture.prefix + ["exec", "-T", "agent", "bash", "-lc", "echo fallback"],
                ["docker-compose"] + tail + ["exec", "-T", "agent", "bash", "-lc", "echo fallback"],
                ["docker", "compose", "version"],
                ["docker-compose"] + tail + ["exec", "agent", "tmux", "attach", "-t", "agent"],
                ["docker", "compose", "version"],
                ["docker-compose"] + tail + ["logs", "--no-color", "-f", "agent"],
            ])

        // Without docker-compose anywhere on PATH the compose error is the result.
        unlink(fixture.stubs.bin + "/docker-compose")
        let failed = try await fixture.stubs.run(
            ["build"], cloudYAML: fixture.cloudYAML, environment: noPlugin, path: fixture.stubs.bin)
        expectError(
            failed, "provider_failed",
            contains: [dockerVersion == "28" ? "unknown command" : "unknown shorthand flag"])
    }

    @Test func attachIsInteractiveAndUnsupportedSessionIsRefused() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        let attach = try await fixture.run(["attach"])
        #expect(attach.status == 0, "\(attach)")
        #expect(
            fixture.stubs.calls().map(\.argv) == [
                ["compose", "version"], fixture.prefix + ["exec", "agent", "tmux", "attach", "-t", "agent"],
            ])
        let session = try await fixture.run(["attach", "--session", "s2"])
        expectError(session, "invalid_args", "--session is only supported for provider: railway")
        #expect(fixture.stubs.calls().count == 2)
    }

    @Test func missingDocker() async throws {
        let fixture = try Fixture(programs: [])
        defer { fixture.stubs.cleanUp() }
        let result = try await fixture.stubs.run(
            ["status"], cloudYAML: fixture.cloudYAML, path: fixture.stubs.directory + "/no-bin")
        expectError(
            result, "provider_unavailable",
            "Missing required CLI 'docker'. Install: https://docs.docker.com/get-docker/")
    }
}
