import FleetCore
import Foundation
import Testing

/// `provider: railway` with a recording `railway` stand-in on PATH (§7.2).
@Suite("CLI: railway provider")
struct RailwayProviderTests {
    struct Fixture {
        let stubs: ProgramStubs
        let cloudYAML: String

        init(environment: String? = "prod", project: String? = "proj-1", volume: String? = "agent-volume")
            throws
        {
            stubs = try ProgramStubs(["railway", "docker"])
            cloudYAML = stubs.directory + "/cloud.yaml"
            var railway = "railway:\n  service: agent\n  session: main-session\n"
            if let project { railway += "  project: \(project)\n" }
            if let environment { railway += "  environment: \(environment)\n" }
            try write(
                cloudYAML,
                """
                repo:
                  url: https://example.invalid/rw.git
                  workspace: /workspace/custom
                \(volume.map { "resources:\n  volume: \($0)" } ?? "")
                \(railway)
                secrets:
                  - MPF_RW_SECRET
                  - MPF_RW_OTHER
                """)
        }

        var secrets: [String: String] { ["MPF_RW_SECRET": "rw-secret-value-42", "MPF_RW_OTHER": "x"] }

        func run(
            _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil
        ) async throws -> CLI.Result {
            try await stubs.run(
                arguments, cloudYAML: cloudYAML, environment: secrets.merging(environment) { $1 },
                stdin: stdin)
        }

        var railwayCalls: [[String]] { stubs.calls().filter { $0.program == "railway" }.map(\.argv) }
    }

    @Test func execIsScopedToTheEnvironment() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        let result = try await fixture.run(["exec", "echo \"$((6 * 7)) rw-secret-value-42\""])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "42 ***REDACTED***\n")
        #expect(
            fixture.railwayCalls == [
                [
                    "ssh", "--environment", "prod", "--service", "agent", "--",
                    "echo \"$((6 * 7)) rw-secret-value-42\"",
                ]
            ])
        let calls = fixture.stubs.calls()
        #expect(calls.first.map { PosixPath.basename($0.cwd) } == PosixPath.basename(fixture.stubs.directory))
    }

    @Test func execWithoutEnvironment() async throws {
        let fixture = try Fixture(environment: nil)
        defer { fixture.stubs.cleanUp() }
        let result = try await fixture.run(["exec", "pwd >/dev/null; echo ok"])
        #expect(result.stdout == "ok\n", "\(result)")
        #expect(fixture.railwayCalls == [["ssh", "--service", "agent", "--", "pwd >/dev/null; echo ok"]])
    }

    @Test func deployLinksChecksTheServiceSetsVariablesAndUploads() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        let services = #"{"services": [{"name": "web"}, {"name": "agent", "id": "s1"}]}"#
        let result = try await fixture.run(["deploy"], environment: ["STUB_SERVICES": services])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.isEmpty && result.stderr.isEmpty, "\(result)")
        #expect(
            fixture.railwayCalls == [
                ["link", "--project", "proj-1", "--environment", "prod"],
                ["service", "status", "--environment", "prod", "--all", "--json"],
                [
                    "variables", "--environment", "prod", "--service", "agent", "--set",
                    "MPF_RW_SECRET=rw-secret-value-42",
                ],
                ["variables", "--environment", "prod", "--service", "agent", "--set", "MPF_RW_OTHER=x"],
                ["up", "--environment", "prod", "--service", "agent", "--detach", "--ci"],
            ])
        // Every call runs in the temporary deploy directory, which is gone afterwards.
        let directories = Set(fixture.stubs.calls().map(\.cwd))
        #expect(directories.count == 1)
        let directory = try #require(directories.first)
        #expect(PosixPath.basename(directory).hasPrefix("megaplan-cloud-"))
        #expect(!FileSystem.exists(directory))
    }

    @Test func deployServiceLookupAcceptsListsAndLines() async throws {
        let fixture = try Fixture(environment: nil)
        defer { fixture.stubs.cleanUp() }
        for listing in [
            #"["web", "agent"]"#, #"[{"name": "agent"}]"#, "Services:\nagent  running\n",
            "| api | agent | web |",
        ] {
            let result = try await fixture.run(["deploy"], environment: ["STUB_SERVICES": listing])
            #expect(result.status == 0, "\(listing): \(result)")
        }
    }

    @Test func deployRefusesAMissingServiceAndEmptySecrets() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        let missing = try await fixture.run(
            ["deploy"], environment: ["STUB_SERVICES": #"[{"name": "agent-2"}]"#])
        expectError(
            missing, "railway_service_missing",
            "Railway service 'agent' was not found after project link. Run this command from the deploy directory, then rerun deploy: railway add --service agent"
        )
        #expect(fixture.railwayCalls.count == 2, "no variables or up after a failed service check")

        let empty = try await fixture.run(["deploy"], environment: ["MPF_RW_SECRET": "", "MPF_RW_OTHER": ""])
        expectError(empty, "missing_secrets", "Missing required secrets: MPF_RW_SECRET, MPF_RW_OTHER")
        #expect(fixture.railwayCalls.count == 2, "no railway call when a secret is empty")
    }

    @Test func logsDownDestroyAndAttachArgv() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        let recent = try await fixture.run(["logs", "--no-follow"])
        #expect(recent.stdout == "railway log ***REDACTED***\n", "\(recent)")
        let follow = try await fixture.run(["logs"])
        #expect(follow.stdout == "railway log ***REDACTED***\n", "\(follow)")
        #expect(try await fixture.run(["down"]).status == 0)
        let destroy = try await fixture.run(["destroy"], stdin: "y\n")
        #expect(destroy.status == 0, "\(destroy)")
        #expect(destroy.stdout == "Destroy cloud deployment and delete volume 'agent-volume'? [y/N]: ")
        #expect(try await fixture.run(["attach"]).status == 0)
        #expect(try await fixture.run(["attach", "--session", "other one"]).status == 0)
        #expect(
            fixture.railwayCalls == [
                ["logs", "--environment", "prod", "--service", "agent", "--lines", "200"],
                ["logs", "--environment", "prod", "--service", "agent"],
                ["down", "--environment", "prod", "--service", "agent"],
                ["down", "--environment", "prod", "--service", "agent"],
                ["volume", "--environment", "prod", "delete", "agent-volume"],
                ["ssh", "--environment", "prod", "--service", "agent", "--session", "main-session"],
                ["ssh", "--environment", "prod", "--service", "agent", "--session", "other one"],
            ])
    }

    @Test func failingAttachAndFollowAreProviderFailures() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        let railway = fixture.stubs.bin + "/railway"
        let attach = try await fixture.run(["attach"], environment: ["STUB_FAIL": "--session"])
        expectError(
            attach, "provider_failed",
            "Command failed: \(railway) ssh --environment prod --service agent --session main-session")
        let follow = try await fixture.run(["logs"], environment: ["STUB_FAIL": "logs"])
        expectError(
            follow, "provider_failed", "Command failed: \(railway) logs --environment prod --service agent")
        #expect(follow.stdout.hasPrefix("stub failure: logs\n"), "stderr is merged into the stream, redacted")
    }

    @Test func destroyWithoutVolume() async throws {
        let fixture = try Fixture(environment: nil, volume: nil)
        defer { fixture.stubs.cleanUp() }
        let refused = try await fixture.run(["destroy"], stdin: "no\n")
        #expect(refused.status == 1)
        #expect(refused.stdout == "Destroy cloud deployment and delete volume '<no volume>'? [y/N]: ")
        #expect(fixture.railwayCalls.isEmpty)
        let destroy = try await fixture.run(["destroy", "--yes"])
        #expect(destroy.status == 0, "\(destroy)")
        #expect(fixture.railwayCalls == [["down", "--service", "agent"]])
    }

    @Test func buildIsALocalDockerBuild() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        let build = try await fixture.run(["build"])
        #expect(build.status == 0, "\(build)")
        let calls = fixture.stubs.calls()
        #expect(calls.count == 1)
        #expect(calls.first?.program == "docker")
        #expect(calls.first?.argv.prefix(3) == ["build", "-t", "megaplan-cloud-agent"])
        let directory = try #require(calls.first?.argv.last)
        #expect(PosixPath.basename(directory).hasPrefix("megaplan-cloud-"))
        #expect(!FileSystem.exists(directory), "the temporary deploy directory is removed")
    }

    @Test func bootstrapUploadsThroughRailwaySSH() async throws {
        let fixture = try Fixture(environment: nil)
        defer { fixture.stubs.cleanUp() }
        // The stand-in runs `railway ssh -- CMD` here with bash, so the "runner" is this machine.
        let remote = fixture.stubs.directory + "/remote ws"
        try FileSystem.makeDirectories(remote + "/.git")
        try write(fixture.stubs.bin + "/megaplan", "#!/bin/sh\necho \"megaplan $*\"\n", mode: 0o755)
        try write(fixture.stubs.directory + "/idea.md", "ship it\n")
        let result = try await fixture.run(["bootstrap", "idea.md", "--repo-workspace", remote])
        #expect(result.status == 0, "\(result)")
        let q = "'\(remote)'"
        #expect(
            result.stdout
                == "megaplan init --project-dir \(remote) --idea-file \(remote)/idea.txt --auto-start --robustness standard\n"
        )
        #expect(FileSystem.readText(remote + "/idea.txt") == "ship it\n")
        #expect(
            fixture.railwayCalls.map { $0.last ?? "" } == [
                "mkdir -p \(fixture.stubs.directory) && if [ ! -d '\(remote)/.git' ]; then git clone --branch main -- https://example.invalid/rw.git \(q); else true; fi",
                "mkdir -p \(q) && base64 -d > '\(remote)/idea.txt' <<'MEGAPLAN_UPLOAD'\nc2hpcCBpdAo=\nMEGAPLAN_UPLOAD",
                "cd \(q) && megaplan init --project-dir \(q) --idea-file '\(remote)/idea.txt' --auto-start --robustness standard",
            ])
        #expect(fixture.railwayCalls.allSatisfy { $0.prefix(4) == ["ssh", "--service", "agent", "--"] })
        #expect(fixture.stubs.calls().allSatisfy { $0.stdin.isEmpty }, "railway ssh gets nothing on stdin")
    }

    @Test func missingRailwayCLI() async throws {
        let fixture = try Fixture()
        defer { fixture.stubs.cleanUp() }
        // The provider is built before anything specific to the action, even the destroy prompt.
        for command in [
            ["status"], ["status", "--chain"], ["exec", "true"], ["logs"], ["destroy"], ["deploy"],
        ] {
            let result = try await fixture.stubs.run(
                command, cloudYAML: fixture.cloudYAML, stdin: "y\n", path: "/usr/bin:/bin")
            expectError(
                result, "provider_unavailable",
                "Missing required CLI 'railway'. Install: https://docs.railway.app/develop/cli")
            #expect(result.stdout.hasPrefix("{"), "\(command): \(result)")
        }
        #expect(fixture.stubs.calls().isEmpty)
    }
}
