import FleetCore
import Foundation
import Testing

/// Commands that need no runner: init, validate, help, and the prelude's errors (§1.1, §1.2).
@Suite("CLI: init, validate, help and prelude errors")
struct CLIBasicsTests {
    @Test func initWritesTheTemplateOnce() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        let target = directory + "/nested/dir/cloud.yaml"
        let first = try await CLI.run(["init", "--cloud-yaml", target], home: directory, cwd: directory)
        #expect(first.status == 0, "\(first)")
        #expect(first.json == ["success": true, "cloud_yaml": .string(target)])
        let template = try #require(FileSystem.readText(target))
        #expect(template.contains("provider: railway"))
        let spec = try CloudSpec.load(path: target)
        #expect(spec.secrets == ["OPENAI_API_KEY"])
        #expect(spec.resources.volume == "agent-volume")

        let second = try await CLI.run(["init", "--cloud-yaml", target], home: directory, cwd: directory)
        expectError(second, "invalid_args", "cloud spec already exists: \(target). Use --force to overwrite.")

        try FileSystem.writeAtomically(target, text: "changed: true\n")
        let forced = try await CLI.run(
            ["init", "--cloud-yaml", target, "--force"], home: directory, cwd: directory)
        #expect(forced.status == 0, "\(forced)")
        #expect(FileSystem.readText(target) == template)

        // Without --cloud-yaml: <root>/cloud.yaml, root found through .megaplan/.
        try FileSystem.makeDirectories(directory + "/proj/.megaplan")
        try FileSystem.makeDirectories(directory + "/proj/sub/deeper")
        let rooted = try await CLI.run(["init"], home: directory, cwd: directory + "/proj/sub/deeper")
        #expect(rooted.json?["cloud_yaml"] == .string(directory + "/proj/cloud.yaml"), "\(rooted)")
    }

    /// Two projects on one Docker host with default settings share one container and directory:
    /// every fleet command refuses the fleet before doing anything, naming both projects.
    @Test func fleetsWhoseProjectsShareARunnerAreRefused() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        let cloud =
            "provider: ssh\nrepo:\n  url: https://example.invalid/a.git\nssh:\n  host: runner.invalid\n"
        try write(directory + "/a.yaml", cloud)
        try write(directory + "/b.yaml", cloud + "  remote_dir: /srv/b\n")
        try write(
            directory + "/fleet.yaml",
            "projects:\n  - name: web\n    cloud_yaml: a.yaml\n  - name: api\n    cloud_yaml: b.yaml\n")
        let message =
            "\(directory)/fleet.yaml: projects 'web' and 'api' share one runner (container megaplan-cloud-agent on host runner.invalid:22)"

        let validate = try await CLI.run(
            ["validate", "--fleet", "fleet.yaml"], home: directory, cwd: directory)
        #expect(validate.status == 1, "\(validate)")
        #expect(validate.stderr.contains(message), "\(validate.stderr)")
        for command in [["tick", "--all"], ["status", "--all"], ["tick", "--all", "--dry-run"]] {
            let result = try await CLI.run(
                command + ["--fleet", "fleet.yaml"], home: directory, cwd: directory)
            #expect(result.status == 2, "\(command): \(result)")
            #expect(result.stderr.contains(message), "\(command): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(command): \(result.stdout)")
        }

        try write(directory + "/b.yaml", cloud + "  remote_dir: /srv/b\n  container: api-agent\n")
        let distinct = try await CLI.run(
            ["validate", "--fleet", "fleet.yaml"], home: directory, cwd: directory)
        #expect(distinct.status == 0, "\(distinct)")
    }

    @Test func validateExitCodesAndJSON() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        try write(directory + "/good.yaml", "provider: local\nrepo:\n  url: https://example.invalid/a.git\n")
        try write(
            directory + "/bad.yaml",
            "provider: local\nrepo:\n  url: https://example.invalid/a.git\ncodex:\n  reasoning: extreme\n")
        try write(directory + "/chain.yaml", "milestones:\n  - label: m1\n")

        let good = try await CLI.run(
            ["validate", "--cloud-yaml", "good.yaml"], home: directory, cwd: directory)
        #expect(good.status == 0, "\(good)")
        #expect(good.stderr == "valid: \(directory)/good.yaml (cloud_yaml)\n")

        let bad = try await CLI.run(
            ["validate", "--cloud-yaml", "bad.yaml"], home: directory, cwd: directory)
        #expect(bad.status == 1, "\(bad)")
        #expect(
            bad.stderr.contains("codex.reasoning must be one of minimal, low, medium, high; got 'extreme'"))
        #expect(bad.stderr.contains("[invalid_spec]"))

        let json = try await CLI.run(
            ["validate", "--json", "--cloud-yaml", "good.yaml", "--chain-spec", "chain.yaml"],
            home: directory,
            cwd: directory)
        #expect(json.status == 1, "\(json)")
        let lines = json.stdout.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        #expect(lines.count == 2)
        #expect(keys(lines.first) == ["path", "kind", "valid", "error", "message"])
        #expect(lines.first?["path"] == .string(directory + "/chain.yaml"))
        #expect(lines.first?["kind"] == "chain_spec")
        #expect(lines.first?["valid"] == false)
        #expect(lines.first?["error"] == "invalid_spec")
        #expect(lines.first?["message"]?.stringValue?.hasSuffix(": milestones[0].idea is required") == true)
        #expect(
            lines.last
                == [
                    "path": .string(directory + "/good.yaml"), "kind": "cloud_yaml", "valid": true,
                    "error": nil,
                    "message": nil,
                ])

        let usage = try await CLI.run(["validate", "--no-such-flag"], home: directory, cwd: directory)
        #expect(usage.status == 64, "\(usage)")
        #expect(usage.stdout.isEmpty)
        #expect(!usage.stderr.isEmpty)

        // PyYAML's leniencies (a duplicate key keeps its last value) come with one warning on stderr.
        try write(
            directory + "/dup.yaml",
            "provider: railway\nrepo:\n  url: https://example.invalid/a.git\nprovider: local\n")
        let duplicate = try await CLI.run(
            ["validate", "--cloud-yaml", "dup.yaml"], home: directory, cwd: directory)
        #expect(duplicate.status == 0, "\(duplicate)")
        #expect(
            duplicate.stderr
                == "warning: \(directory)/dup.yaml: duplicate key 'provider' at lines 1 and 4; the value at line 4 is used, as PyYAML does\nvalid: \(directory)/dup.yaml (cloud_yaml)\n"
        )

        let missingFile = try await CLI.run(
            ["validate", "--cloud-yaml", "absent.yaml"], home: directory, cwd: directory)
        #expect(missingFile.status == 1)
        #expect(missingFile.stderr.contains("spec file not found: \(directory)/absent.yaml"))
    }

    @Test func usageErrorsExit64() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        for arguments in [
            ["chain"], ["exec"], ["logs", "--follow"], ["no-such-command"], ["status", "--bogus"],
        ] {
            let result = try await CLI.run(arguments, home: directory, cwd: directory)
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stdout.isEmpty, "\(arguments): \(result)")
        }
    }

    /// Every number of a fleet run is range-checked with an error naming the option or field,
    /// before the fleet lock is taken: NaN, infinities, zero, negatives and huge values never
    /// reach a conversion that would crash (`--deadline 1e300` once exited 132 holding the lock).
    @Test func outOfRangeNumbersAreRefusedBeforeTheLock() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        try write(directory + "/a.yaml", "provider: local\nrepo:\n  url: https://example.invalid/a.git\n")
        try write(directory + "/fleet.yaml", "projects:\n  - name: a\n    cloud_yaml: a.yaml\n")
        let locks = directory + "/.megaplan/fleet/locks"
        let options: [(String, String)] = [
            ("--deadline", "1e300"), ("--deadline", "inf"), ("--deadline", "nan"), ("--deadline", "-1"),
            ("--deadline", "0"), ("--deadline", "86401"), ("--concurrency", "0"),
            ("--concurrency", "10001"), ("--concurrency", "99999999999999999999"), ("--per-host", "0"),
            ("--per-host", "1000000"),
        ]
        for (option, value) in options {
            let result = try await CLI.run(
                ["tick", "--all", "--fleet", "fleet.yaml", option, value], home: directory, cwd: directory)
            #expect(result.status == 64, "\(option) \(value): \(result)")
            #expect(result.stderr.contains(option), "\(option) \(value): \(result)")
            #expect(result.stdout.isEmpty, "\(option) \(value): \(result)")
        }
        let shard = try await CLI.run(
            ["tick", "--fleet", "fleet.yaml", "--shard", "0/99999999999999999999"], home: directory,
            cwd: directory)
        #expect(shard.status == 2, "\(shard)")
        #expect(shard.stderr.contains("--shard"), "\(shard)")

        let fields = [
            "deadline: 1.0e+16", "deadline: .inf", "deadline: .nan", "concurrency: 0",
            "concurrency: 9223372036854775807", "per_host: 10001", "connections_per_host: 1000",
        ]
        for field in fields {
            try write(
                directory + "/fleet.yaml",
                "defaults:\n  \(field)\nprojects:\n  - name: a\n    cloud_yaml: a.yaml\n")
            let key = "defaults." + field.prefix { $0 != ":" }
            let tick = try await CLI.run(
                ["tick", "--all", "--fleet", "fleet.yaml"], home: directory, cwd: directory)
            #expect(tick.status == 2, "\(field): \(tick)")
            #expect(tick.stderr.contains("fleet.yaml:2:"), "\(field): \(tick)")
            #expect(tick.stderr.contains(key), "\(field): \(tick)")
            let validate = try await CLI.run(
                ["validate", "--fleet", "fleet.yaml"], home: directory, cwd: directory)
            #expect(validate.status == 1, "\(field): \(validate)")
            #expect(validate.stderr.contains(key), "\(field): \(validate)")
        }

        // A port past 65535 would wrap to another port when connecting.
        try write(
            directory + "/a.yaml",
            "provider: ssh\nrepo:\n  url: https://example.invalid/a.git\nssh:\n  host: h\n  port: 110387\n")
        let port = try await CLI.run(["validate", "--cloud-yaml", "a.yaml"], home: directory, cwd: directory)
        #expect(port.status == 1, "\(port)")
        #expect(
            port.stderr.contains("a.yaml:6:9: `ssh.port` must be a port number from 1 to 65535"), "\(port)")

        #expect(!FileManager.default.fileExists(atPath: locks), "a fleet lock was taken")
    }

    /// `tick --all | head -1`: a closed stdout once killed the run with SIGPIPE, leaving the other
    /// projects unticked and no Prometheus file. Now every project is ticked, the textfile is
    /// written, stderr says stdout was closed, and the exit status is the run's usual one.
    @Test func closedStdoutStillTicksEveryProject() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        var fleet = "projects:\n"
        for name in ["a", "b", "c"] {
            try write(
                directory + "/\(name).yaml", "provider: fly\nrepo:\n  url: https://example.invalid/a.git\n")
            fleet += "  - name: \(name)\n    cloud_yaml: \(name).yaml\n"
        }
        try write(directory + "/fleet.yaml", fleet)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["tick", "--all", "--fleet", "fleet.yaml", "--prom-file", "fleet.prom"]
        process.environment = ["HOME": directory, "PATH": CLI.defaultPath, "LANG": "C.UTF-8"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        // The reader is gone before the first line: every write to stdout fails with EPIPE.
        let pipe = Pipe()
        process.standardOutput = pipe
        try pipe.fileHandleForReading.close()
        let stderrPath = directory + "/stderr"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let stderr = FileSystem.readText(stderrPath) ?? ""
        #expect(
            process.terminationReason == .exit, "killed by signal \(process.terminationStatus); \(stderr)")
        #expect(process.terminationStatus == 1, "every project is invalid_config; \(stderr)")
        #expect(stderr.contains("stdout was closed"), "\(stderr)")
        let prom = try #require(FileSystem.readText(directory + "/fleet.prom"), "no Prometheus file")
        for name in ["a", "b", "c"] {
            #expect(
                prom.contains("megaplan_fleet_tick_error{project=\"\(name)\",kind=\"invalid_config\"} 1"),
                "\(prom)")
        }
    }

    @Test func helpTextsNameTheirFlags() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        let expected: [String: [String]] = [
            "init": ["--force", "--cloud-yaml"],
            "validate": ["--cloud-yaml", "--chain-spec", "--fleet", "--json"],
            "build": ["--cloud-yaml", "--known-hosts"],
            "deploy": ["--cloud-yaml", "secrets"],
            "chain": [
                "<spec>", "--idea-dir", "--repo-url", "--repo-branch", "--repo-workspace", "--cloud-yaml",
            ],
            "bootstrap": [
                "<idea-file>", "--plan-name", "--robustness", "--repo-url", "--repo-branch",
                "--repo-workspace",
            ],
            "status": ["--chain", "--remote-spec", "--plan", "--cloud-yaml"],
            "attach": ["--session"],
            "logs": ["--no-follow"],
            "exec": ["<command>"],
            "resume": ["--plan"],
            "down": ["--cloud-yaml"],
            "supervise": ["--chain", "--remote-spec"],
            "destroy": ["--yes"],
        ]
        for (command, flags) in expected {
            let result = try await CLI.run([command, "--help"], home: directory, cwd: directory)
            #expect(result.status == 0, "\(command): \(result)")
            for flag in flags {
                #expect(result.stdout.contains(flag), "\(command) --help lacks \(flag):\n\(result.stdout)")
            }
        }
        let attach = try await CLI.run(["attach", "--help"], home: directory, cwd: directory)
        #expect(attach.stdout.lowercased().contains("raw"), "\(attach.stdout)")
        #expect(attach.stdout.contains("redact"), "\(attach.stdout)")
        let top = try await CLI.run(["--help"], home: directory, cwd: directory)
        for command in expected.keys {
            #expect(top.stdout.contains(command), "\(command) missing from --help")
        }
    }

    /// `tick` and `status` show their real invocations, not `<options>`.
    @Test func tickAndStatusHelpShowTheirUsage() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        let tick = try await CLI.run(["tick", "--help"], home: directory, cwd: directory)
        #expect(tick.status == 0, "\(tick)")
        #expect(!tick.stdout.contains("<options>"), "\(tick.stdout)")
        #expect(
            tick.stdout.contains(
                "USAGE: megaplan-fleet tick (--all | --project <name>... | --tag <tag>... | --shard <K/N>) [--dry-run]"
            ), "\(tick.stdout)")
        let status = try await CLI.run(["status", "--help"], home: directory, cwd: directory)
        #expect(status.status == 0, "\(status)")
        #expect(!status.stdout.contains("<options>"), "\(status.stdout)")
        for usage in [
            "megaplan-fleet status [--plan <plan>]", "megaplan-fleet status --chain [--remote-spec <path>]",
            "megaplan-fleet status (--all | --project <name>...",
        ] {
            #expect(status.stdout.contains(usage), "\(status.stdout)")
        }
    }

    /// An unknown key is accepted as the reference accepts it, with one warning naming the key, the
    /// file and the line; a key that looks like a token is redacted in the warning.
    @Test func unknownCloudKeysAreWarnedAbout() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        let token = "ghp_" + String(repeating: "Zx9", count: 12)
        try write(
            directory + "/typo.yaml",
            "provider: ssh\nrepo:\n  url: https://example.invalid/a.git\nssh:\n  host: runner\n  identity_fil: ~/.ssh/id\n  proxy_jump: bastion\n\(token): 1\n"
        )
        let result = try await CLI.run(
            ["validate", "--cloud-yaml", "typo.yaml"], home: directory, cwd: directory)
        #expect(result.status == 0, "\(result)")
        let path = "\(directory)/typo.yaml"
        let known = "host, user, port, identity_file, remote_dir, container, runtime"
        #expect(
            result.stderr.contains(
                "warning: \(path):6:3: unknown key 'identity_fil' under `ssh` is ignored; known keys: \(known)\n"
            ),
            "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "warning: \(path):7:3: unknown key 'proxy_jump' under `ssh` is ignored; known keys: \(known)\n"
            ),
            "\(result.stderr)")
        #expect(result.stderr.contains("warning: \(path):8:1: unknown key '***REDACTED***' at the top level"))
        #expect(!result.stderr.contains(token))
        #expect(result.stderr.hasSuffix("valid: \(path) (cloud_yaml)\n"))
        // One line per key.
        #expect(result.stderr.split(separator: "\n").count == 4, "\(result.stderr)")
    }

    /// A missing fleet file names its path and how the path was chosen.
    @Test func missingFleetFileSaysHowItsPathWasChosen() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        let byDefault = try await CLI.run(["tick", "--all"], home: directory, cwd: directory)
        #expect(byDefault.status == 2, "\(byDefault)")
        #expect(
            byDefault.stderr
                == "megaplan-fleet: fleet file not found: \(directory)/fleet.yaml (the default, fleet.yaml in the current directory; choose another with --fleet or $MEGAPLAN_FLEET)\n"
        )
        let fromEnvironment = try await CLI.run(
            ["status", "--all"], home: directory, cwd: directory,
            environment: ["MEGAPLAN_FLEET": directory + "/env.yaml"])
        #expect(
            fromEnvironment.stderr
                == "megaplan-fleet: fleet file not found: \(directory)/env.yaml (from $MEGAPLAN_FLEET)\n")
        let fromOption = try await CLI.run(
            ["tick", "--all", "--fleet", "opt.yaml"], home: directory, cwd: directory,
            environment: ["MEGAPLAN_FLEET": directory + "/env.yaml"])
        #expect(
            fromOption.stderr
                == "megaplan-fleet: fleet file not found: \(directory)/opt.yaml (from --fleet)\n")
    }

    @Test func preludeErrors() async throws {
        let directory = try scratchDirectory()
        defer { TemporaryDirectory.remove(directory) }
        try write(directory + "/fly.yaml", "provider: fly\nrepo:\n  url: https://example.invalid/a.git\n")
        let fly = try await CLI.run(["status", "--cloud-yaml", "fly.yaml"], home: directory, cwd: directory)
        expectError(
            fly, "future_provider", "provider 'fly' is reserved for a future release; future providers: fly",
            located: directory + "/fly.yaml")

        let absent = try await CLI.run(
            ["build", "--cloud-yaml", "none.yaml"], home: directory, cwd: directory)
        expectError(absent, "invalid_spec", "spec file not found: \(directory)/none.yaml")

        try write(directory + "/broken.yaml", "repo: [unclosed\n")
        let broken = try await CLI.run(
            ["deploy", "--cloud-yaml", "broken.yaml"], home: directory, cwd: directory)
        expectError(broken, "invalid_spec", contains: ["YAML parse error: "])

        try write(directory + "/norepo.yaml", "provider: ssh\nssh:\n  host: h\n")
        let norepo = try await CLI.run(
            ["down", "--cloud-yaml", "norepo.yaml"], home: directory, cwd: directory)
        expectError(norepo, "invalid_spec", "`repo.url` is required", located: directory + "/norepo.yaml")

        // `supervise` without --chain loads cloud.yaml first, as the reference does.
        let unchained = try await CLI.run(
            ["supervise", "--cloud-yaml", "norepo.yaml"], home: directory, cwd: directory)
        expectError(unchained, "invalid_spec", "`repo.url` is required", located: directory + "/norepo.yaml")

        // Default cloud.yaml at the project root.
        let rootless = try await CLI.run(["status"], home: directory, cwd: directory)
        expectError(rootless, "invalid_spec", "spec file not found: \(directory)/cloud.yaml")
    }
}
