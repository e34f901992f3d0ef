import FleetCore
import Foundation
import TestSupport
import Testing

/// `chain` over the ssh provider against a real sshd on loopback (§1.5, §3.4, §4.8, §4.10, §10).
@Suite("CLI: chain over ssh", .runnerHost)
struct SSHChainTests {
    /// A local chain spec with one idea inside the workspace and one outside it, no `base_branch`
    /// (with `relative`, a third milestone whose idea path is relative).
    func writeSpec(
        _ fixture: SSHFixture, extraMilestoneYAML: String = "", relative: Bool = false,
        baseBranch: String? = nil
    ) throws -> (
        spec: String, external: String
    ) {
        let external = PosixPath.dirname(fixture.workspace) + "/external/ext.md"
        let spec = """
            # the chain for the CLI tests
            \(baseBranch.map { "base_branch: \($0)" } ?? "")
            milestones:
              - label: m1
                idea: \(fixture.workspace)/ideas/m1.md
              - label: m2
                idea: \(external)
                branch: feature/m2
            \(relative ? "  - label: m3\n    idea: ideas/m3.md" : "")
            \(extraMilestoneYAML)
            review_policy:
              clean_milestone_pr: manual
            """
        try write(fixture.repo + "/chain.yaml", spec)
        try write(fixture.repo + "/ideas/m1.md", "# m1\nfirst idea\n")
        try write(fixture.repo + "/ext.md", "# m2\nexternal idea\n")
        try write(fixture.repo + "/ideas/m3.md", "# m3\nrelative idea\n")
        return (fixture.repo + "/chain.yaml", external)
    }

    func expectedCalls(_ fixture: SSHFixture, external: String) -> [[String]] {
        let ws = fixture.workspace
        return [
            fixture.execRecord(
                "mkdir -p \(PosixPath.dirname(ws)) && if [ ! -d \(ws)/.git ]; then git clone --branch develop -- https://example.invalid/chain.git \(ws); else true; fi"
            ),
            fixture.execRecord(
                "missing=''; for cmd in codex tmux; do if ! command -v \"$cmd\" >/dev/null 2>&1; then missing=\"$missing $cmd\"; fi; done; printf \"%s\\n\" \"$missing\""
            ),
            fixture.execRecord(
                "git -C \(ws) rev-parse --abbrev-ref HEAD 2>/dev/null && git -C \(ws) rev-parse HEAD 2>/dev/null"
            ),
            fixture.execRecord("mkdir -p \(ws)/ideas && base64 -d > \(ws)/ideas/m1.md", input: true),
            fixture.execRecord(
                "mkdir -p \(PosixPath.dirname(external)) && base64 -d > \(external)", input: true),
            fixture.execRecord("mkdir -p ideas && base64 -d > ideas/m3.md", input: true),
            fixture.execRecord("mkdir -p \(ws) && base64 -d > \(ws)/chain.yaml", input: true),
            fixture.execRecord(
                "mkdir -p \(ws)/.megaplan && if tmux has-session -t \(fixture.session) 2>/dev/null; then echo '\(fixture.session) session already running'; else tmux new-session -d -s \(fixture.session) -c \(ws) 'MEGAPLAN_TRUSTED_CONTAINER=1 megaplan chain start --spec \(ws)/chain.yaml >> .megaplan/cloud-chain.log 2>&1'; echo 'started \(fixture.session) session'; fi"
            ),
        ]
    }

    @Test func launchesUploadsRecordsMarkerAndIsIdempotent() async throws {
        let fixture = try SSHFixture("chain", branch: "develop")
        defer { fixture.cleanUp() }
        let (spec, external) = try writeSpec(fixture, relative: true)
        let ws = fixture.workspace

        let first = try await fixture.cli(["chain", "chain.yaml"])
        #expect(first.status == 0, "\(first)")
        #expect(first.preamble == "started \(fixture.session) session\n")
        let provenance = try #require(first.json, "\(first)")
        #expect(
            keys(provenance) == [
                "success", "event", "remote_spec", "current_milestone", "plan_name", "pr_number", "repo",
                "chain",
                "megaplan", "uploaded_idea_count", "tmux",
            ])
        #expect(provenance["success"] == .bool(true))
        #expect(provenance["event"] == "cloud_chain_launched")
        #expect(provenance["remote_spec"] == .string(ws + "/chain.yaml"))
        #expect(provenance["current_milestone"] == "m1")
        #expect(provenance["plan_name"] == .null)
        #expect(provenance["pr_number"] == .null)
        let head = try fixture.host.shell("git -C \(ws) rev-parse HEAD").trimmingCharacters(
            in: .whitespacesAndNewlines)
        #expect(
            provenance["repo"]
                == [
                    "url": "https://example.invalid/chain.git", "branch": "develop", "workspace": .string(ws),
                    "head": .string(head), "checked_out_branch": "main",
                ])
        let chain = try #require(provenance["chain"])
        #expect(
            keys(chain) == [
                "base_branch", "milestone_count", "resolved_phase_map_summary", "prerequisite_policy",
                "validation_policy", "review_policy",
            ])
        #expect(chain["base_branch"] == "develop")
        #expect(chain["milestone_count"] == .int(3))
        #expect(chain["review_policy"] == ["clean_milestone_pr": "manual"])
        let summaries = try #require(chain["resolved_phase_map_summary"]?.arrayValue)
        #expect(summaries.count == 3)
        #expect(
            keys(summaries.first) == [
                "label", "profile", "explicit_phase_model", "resolved_phase_map", "required_agents",
                "runtime_commands", "env_hints", "provider_requirements",
            ])
        #expect(summaries.first?["runtime_commands"] == ["codex", "tmux"])
        #expect(provenance["megaplan"] == ["ref": "v9.9", "install_source": "cloud_image_runtime"])
        #expect(provenance["uploaded_idea_count"] == .int(3))
        #expect(provenance["tmux"] == ["session": .string(fixture.session), "status": "started"])

        // Ideas land at the milestone's idea path verbatim; the spec gets base_branch last.
        #expect(fixture.remoteFile(ws + "/ideas/m1.md") == "# m1\nfirst idea\n")
        #expect(fixture.remoteFile(external) == "# m2\nexternal idea\n")
        // A relative idea lands relative to the remote command's directory (§3.5): here the
        // docker stand-in's per-container directory, in a real image its WORKDIR.
        #expect(
            fixture.remoteFile(fixture.remoteHome + "/.docker-stub/\(fixture.container)/ideas/m3.md")
                == "# m3\nrelative idea\n")
        let uploaded = try #require(fixture.remoteFile(ws + "/chain.yaml"))
        let lines = uploaded.split(separator: "\n")
        #expect(lines.last == "base_branch: develop", "\(uploaded)")
        #expect(lines.first == "milestones:", "\(uploaded)")
        #expect(!uploaded.contains("# the chain"))
        let reparsed = try ChainSpec.parse(text: uploaded, path: ws + "/chain.yaml")
        #expect(reparsed.baseBranch == "develop")
        #expect(reparsed.milestones.map(\.label) == ["m1", "m2", "m3"])
        #expect(
            FileSystem.readText(spec)?.contains("base_branch") == false, "the local spec is never rewritten")

        // The marker (§4.8).
        let markerPath = Marker.path(forCloudYAML: FileSystem.resolve(fixture.cloudYAML), home: fixture.home)
        #expect(markerPath.hasPrefix(fixture.home + "/.megaplan/cloud/markers/"))
        #expect(fileMode(markerPath) == 0o600)
        let marker = try JSONValue.parse(try #require(FileSystem.readText(markerPath)))
        #expect(
            keys(marker) == [
                "remote_spec", "started_at", "base_branch", "provenance", "workspace", "chain_session",
                "extra_repos", "provider", "provider_identity",
            ])
        #expect(marker["remote_spec"] == .string(ws + "/chain.yaml"))
        let startedAt = try #require(marker["started_at"]?.stringValue)
        #expect(
            startedAt.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00/) != nil, "\(startedAt)")
        #expect(marker["base_branch"] == "develop")
        #expect(marker["provenance"] == provenance)
        #expect(marker["workspace"] == .string(ws))
        #expect(marker["chain_session"] == .string(fixture.session))
        #expect(marker["extra_repos"] == ["/srv/extra-one"])
        #expect(marker["provider"] == "ssh")
        #expect(marker["provider_identity"] == "127.0.0.1")

        // The runner really runs the chain in the custom tmux session.
        #expect(fixture.project.sessionAlive())
        var starts: [JSONValue] = []
        for _ in 0..<400 where starts.isEmpty {
            starts = fixture.project.chainStarts()
            if starts.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(starts.count == 1)
        #expect(starts.first?["argv"] == .strings(["chain", "start", "--spec", ws + "/chain.yaml"]))
        #expect(starts.first?["cwd"] == .string(ws))

        // A second launch finds the session running.
        let second = try await fixture.cli(["chain", spec])
        #expect(second.status == 0, "\(second)")
        #expect(second.preamble == "\(fixture.session) session already running\n")
        #expect(second.json?["tmux"] == ["session": .string(fixture.session), "status": "already_running"])

        // Exactly the remote commands of §1.5, in order, twice; nothing else.
        let expected = expectedCalls(fixture, external: external)
        #expect(fixture.dockerCalls() == expected + expected)
        #expect(fixture.project.chainStarts().count == 1)
    }

    @Test func missingIdeaNamesEveryCandidateAndMakesNoRemoteCall() async throws {
        let fixture = try SSHFixture("noidea")
        defer { fixture.cleanUp() }
        let (spec, _) = try writeSpec(fixture)
        unlink(fixture.repo + "/ideas/m1.md")
        let result = try await fixture.cli(["chain", spec, "--idea-dir", "ideas"])
        let tried = [fixture.repo + "/ideas/ideas/m1.md", fixture.repo + "/ideas/m1.md"]
        expectError(
            result, "missing_idea_file",
            "milestone 'm1' idea not found on disk. Tried:\n- \(tried[0])\n- \(tried[1])\nInvoke from the repository root or adjust --idea-dir to the directory containing chain ideas."
        )
        #expect(result.json?["milestone"] == "m1")
        #expect(result.json?["tried_paths"] == .strings(tried))
        #expect(fixture.dockerCalls().isEmpty)
    }

    @Test func missingSecretsFailPreflightBeforeAnyRemoteCall() async throws {
        let fixture = try SSHFixture("nosecret")
        defer { fixture.cleanUp() }
        let (spec, _) = try writeSpec(fixture)
        let result = try await fixture.cli(["chain", spec], environment: ["MPF_CLI_SECRET": ""])
        expectError(
            result, "cloud_preflight_failed",
            "Missing configured cloud secrets in the local environment: MPF_CLI_OTHER, MPF_CLI_SECRET")
        #expect(result.json?["missing_commands"] == [])
        #expect(result.json?["missing_env"] == ["MPF_CLI_OTHER", "MPF_CLI_SECRET"])
        let preflight = try #require(result.json?["preflight"])
        #expect(
            keys(preflight) == [
                "base_branch", "cloud_default_agent", "warning", "milestones", "required_agents",
                "runtime_commands",
                "env_hints", "provider_requirements", "policy",
            ])
        #expect(preflight["base_branch"] == "main")
        #expect(preflight["cloud_default_agent"] == "codex")
        #expect(preflight["runtime_commands"] == ["codex", "tmux"])
        #expect(fixture.dockerCalls().isEmpty)
    }

    @Test func missingRuntimeCommandsOnTheRunner() async throws {
        let fixture = try SSHFixture("deps", agents: "  default: claude")
        defer { fixture.cleanUp() }
        let (spec, _) = try writeSpec(fixture)
        let result = try await fixture.cli(["chain", spec])
        expectError(
            result, "agent_deps_missing",
            "Remote cloud runner is missing required runtime commands: bun, claude, shannon")
        #expect(result.json?["missing_commands"] == ["bun", "claude", "shannon"])
        #expect(result.json?["missing_env"] == [])
        #expect(result.json?["preflight"]?["runtime_commands"] == ["bun", "claude", "shannon", "tmux"])
        // ensure-repo and the probe only: nothing is uploaded and no session is started.
        let calls = fixture.dockerCalls()
        #expect(calls.count == 2, "\(calls)")
        #expect(calls.last?.last?.hasPrefix("missing=''; for cmd in bun claude shannon tmux;") == true)
        #expect(!fixture.project.sessionAlive())
    }

    @Test func specAndProfileErrorsComeFirst() async throws {
        let fixture = try SSHFixture("badspec")
        defer { fixture.cleanUp() }
        let missing = try await fixture.cli(["chain", "nope.yaml"])
        expectError(missing, "invalid_spec", "spec file not found: \(fixture.repo)/nope.yaml")

        let (spec, _) = try writeSpec(
            fixture, extraMilestoneYAML: "  - label: m3\n    idea: ideas/m1.md\n    profile: no-such-profile")
        let profile = try await fixture.cli(["chain", spec])
        expectError(
            profile, "unknown_profile", contains: ["Unknown profile 'no-such-profile'. Known profiles: "])

        let workspace = try await fixture.cli(["chain", spec, "--repo-workspace", "relative/ws"])
        expectError(
            workspace, "invalid_spec", "`repo.workspace` must be an absolute POSIX path; got 'relative/ws'")
        let blank = try await fixture.cli(["bootstrap", spec, "--repo-workspace", ""])
        expectError(blank, "invalid_spec", "`repo.workspace` must be a non-empty string")
        #expect(fixture.dockerCalls().isEmpty)
    }

    @Test func ensureRepoFailureAndDirectoryIdea() async throws {
        let fixture = try SSHFixture("ensure", agents: "  default: hermes")
        defer { fixture.cleanUp() }
        try write(fixture.repo + "/rel.yaml", "milestones:\n  - label: m1\n    idea: ideas/m1.md\n")
        try write(fixture.repo + "/ideas/m1.md", "relative idea\n")
        let result = try await fixture.cli(["chain", "rel.yaml", "--repo-workspace", "/proc/mpf-none/app"])
        expectError(
            result, "provider_failed",
            "ensure repo checkout failed for https://example.invalid/ensure.git@main into /proc/mpf-none/app (exit 1)"
        )
        #expect(fixture.dockerCalls().count == 1, "nothing runs after a failed checkout")

        // An idea "file" that is a directory is found (§3.4) and fails clearly before any upload.
        try FileSystem.makeDirectories(fixture.repo + "/ideas/dir.md")
        try write(fixture.repo + "/dir.yaml", "milestones:\n  - label: m1\n    idea: ideas/dir.md\n")
        let directory = try await fixture.cli(["chain", "dir.yaml"])
        expectError(directory, "provider_failed", contains: [fixture.repo + "/ideas/dir.md", "directory"])
        #expect(!fixture.dockerCalls().contains { $0.contains("-i") }, "no upload was attempted")
        #expect(!fixture.project.sessionAlive())
    }

    /// On a host runtime the remote commands start in the SSH user's home, which every project of
    /// that account shares: a relative idea goes under the project's workspace instead.
    @Test func hostRuntimeUploadsRelativeIdeasIntoTheWorkspace() async throws {
        let fixture = try SSHFixture("host-ideas", runtime: "host", agents: "  default: hermes")
        defer { fixture.cleanUp() }
        let (spec, external) = try writeSpec(fixture, relative: true)
        let result = try await fixture.cli(["chain", spec])
        #expect(result.status == 0, "\(result)")
        #expect(fixture.remoteFile(fixture.workspace + "/ideas/m3.md") == "# m3\nrelative idea\n")
        #expect(fixture.remoteFile(fixture.remoteHome + "/ideas/m3.md") == nil)
        #expect(fixture.remoteFile(external) == "# m2\nexternal idea\n", "absolute ideas land as written")
    }

    @Test func repoOverridesApplyInMemoryOnly() async throws {
        let fixture = try SSHFixture("override", agents: "  default: hermes", branch: "develop")
        defer { fixture.cleanUp() }
        let (spec, _) = try writeSpec(fixture, baseBranch: "main")
        let before = FileSystem.readText(fixture.cloudYAML)
        let result = try await fixture.cli([
            "chain", spec, "--repo-url", "https://example.invalid/other.git", "--repo-branch", "",
        ])
        #expect(result.status == 0, "\(result)")
        #expect(result.json?["repo"]?["url"] == "https://example.invalid/other.git")
        #expect(result.json?["repo"]?["branch"] == "develop", "an empty --repo-branch keeps repo.branch")
        #expect(result.json?["chain"]?["base_branch"] == "main", "an explicit base_branch wins, even main")
        #expect(FileSystem.readText(fixture.cloudYAML) == before)
        // An explicit base_branch (even `main`) wins, and the spec is uploaded byte for byte.
        #expect(fixture.remoteFile(fixture.workspace + "/chain.yaml") == FileSystem.readText(spec))
        // hermes needs no runtime command, so there is no dependency probe.
        let calls = fixture.dockerCalls().map { $0.last ?? "" }
        #expect(calls.count == 6, "\(calls)")
        #expect(!calls.contains { $0.hasPrefix("missing=") })
        #expect(
            calls.first?.contains("git clone --branch develop -- https://example.invalid/other.git") == true)
    }
}
