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

        // Default cloud.yaml at the project root.
        let rootless = try await CLI.run(["status"], home: directory, cwd: directory)
        expectError(rootless, "invalid_spec", "spec file not found: \(directory)/cloud.yaml")
    }
}
