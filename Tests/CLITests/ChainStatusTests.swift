import FleetCore
import Foundation
import TestSupport
import Testing

/// `status --chain` against a real runner in each of the seven effective states (§5).
@Suite("CLI: status --chain", .runnerHost)
struct ChainStatusTests {
    enum Case: String, CaseIterable, Sendable {
        case complete, running, awaitingPRMerge, awaitingHumanVerify, humanPrerequisite, qualityGate,
            staleBookkeeping

        var label: String {
            switch self {
            case .complete: "complete"
            case .running: "running"
            case .awaitingPRMerge: "awaiting_pr_merge"
            case .awaitingHumanVerify: "awaiting_human_verify"
            case .humanPrerequisite: "human_prerequisite"
            case .qualityGate: "quality_gate"
            case .staleBookkeeping: "stale_bookkeeping"
            }
        }
    }

    static let payloadKeys = [
        "success", "spec", "milestone_count", "seed_plan", "chain_state", "summary", "effective_status",
        "policy",
        "sync", "plan_status", "runner", "logs", "pr", "provider_consistency", "human_verification",
        "resolved_workspace", "resolved_session", "resolved_context",
    ]
    static let stateKeys = [
        "current_milestone_index", "current_plan_name", "last_state", "pr_number", "pr_state", "completed",
        "branch_head", "pr_head", "last_pushed_commit", "dirty_flag", "sync_state", "extra_repos",
        "chain_session",
        "resolved_workspace", "extra_repo_sync",
    ]
    static let summaryKeys = [
        "current_milestone", "completed", "remaining", "per_milestone", "seed_plan", "base_branch",
        "current_plan_name", "last_state", "sync", "policy",
    ]

    static func done(_ label: String) -> JSONValue {
        ["label": .string(label), "plan": .string("plan-\(label)"), "status": "done"]
    }

    @Test(arguments: Case.allCases)
    func payloadInEachEffectiveState(_ state: Case) async throws {
        let fixture = try SSHFixture("st-\(state.rawValue)", runtime: "host")
        defer { fixture.cleanUp() }
        let project = fixture.project
        var chainState: JSONObject = ["current_milestone_index": 0, "current_plan_name": "plan-m1"]
        var expectPR = false
        switch state {
        case .complete:
            chainState = [
                "current_milestone_index": 3, "last_state": "done",
                "completed": [Self.done("m1"), Self.done("m2"), Self.done("m3")],
            ]
        case .running:
            try project.stub("status.json", #"{"status": "running", "next_step": "execute"}"#)
            try project.startSession()
        case .awaitingPRMerge:
            chainState = [
                "current_milestone_index": 1, "current_plan_name": "plan-m2",
                "last_state": "awaiting_pr_merge",
                "pr_number": 12, "pr_state": "awaiting_merge", "pr_head": "bbb222",
                "completed": [Self.done("m1")],
            ]
            expectPR = true
        case .awaitingHumanVerify:
            // Real megaplan reports `state`, not `status` (§12.1): the classifier falls back to it.
            try project.stub(
                "status.json", #"{"state": "awaiting_human_verify", "next_step": "verify-human"}"#)
        case .humanPrerequisite:
            chainState["sync_state"] = "clean"
            try project.write(
                String(
                    ChainPaths.runtimePolicyFile(spec: project.remoteSpec).dropFirst(
                        project.workspace.count + 1)),
                #"{"prerequisite_policy": "required"}"#)
        case .qualityGate:
            try project.write(
                "chain.yaml",
                "validation_policy: required\nmilestones:\n  - label: m1\n    idea: ideas/m1.md\n  - label: m2\n    idea: ideas/m2.md\n    branch: feat/m2\n  - label: m3\n    idea: ideas/m3.md\n"
            )
        case .staleBookkeeping:
            chainState = ["current_milestone_index": 1, "completed": [Self.done("m1")]]
        }
        try project.writeState(chainState)
        try project.write(".megaplan/cloud-chain.log", "chain log line\n")

        let result = try await fixture.cli(["status", "--chain"])
        #expect(result.status == 0, "\(result)")
        let payload = try #require(result.json, "\(result)")
        #expect(keys(payload) == Self.payloadKeys)
        #expect(payload["effective_status"] == .string(state.label), "\(result)")
        #expect(payload["success"] == .bool(true))
        #expect(payload["spec"] == .string(project.remoteSpec))
        #expect(payload["milestone_count"] == .int(3))
        #expect(payload["seed_plan"] == .null)
        #expect(keys(payload["chain_state"]) == Self.stateKeys)
        let summary = try #require(payload["summary"])
        #expect(keys(summary) == Self.summaryKeys + (expectPR ? ["pr_number", "pr_state"] : []))
        #expect(
            keys(summary["sync"]) == [
                "branch_head", "pr_head", "last_pushed_commit", "dirty_flag", "sync_state",
            ])
        #expect(keys(summary["policy"]) == ["prerequisite_policy", "validation_policy", "review_policy"])
        #expect(
            keys(payload["policy"]) == [
                "prerequisite_policy", "validation_policy", "review_policy", "source",
            ])
        #expect(
            keys(payload["sync"]) == [
                "branch_head", "pr_head", "last_pushed_commit", "dirty_flag", "sync_state",
            ])
        let ws = project.workspace
        let chainLog = try #require(payload["logs"]?["chain_log"])
        #expect(keys(payload["logs"]) == ["workspace", "plan_log", "agent_log", "chain_log"])
        #expect(chainLog["path"] == .string(ws + "/.megaplan/cloud-chain.log"))
        #expect(chainLog["size"] == .int(15))
        if case .int = chainLog["mtime"] {} else { Issue.record("mtime is not an integer: \(chainLog)") }
        #expect(payload["logs"]?["agent_log"] == .string(ws + "/agent.log"))
        #expect(payload["resolved_workspace"] == .string(ws))
        #expect(payload["resolved_session"] == .string(fixture.session))
        let context = try #require(payload["resolved_context"])
        #expect(keys(context) == ["workspace", "chain_session", "extra_repos", "remote_spec", "source"])
        #expect(context["extra_repos"] == ["/srv/extra-one"])
        #expect(
            context["source"] == ["workspace": "remote_spec", "session": "spec", "extra_repos": ["spec"]])
        #expect(
            payload["provider_consistency"]
                == [
                    "status": "not_applicable",
                    "reason": "provider 'ssh' has no comparable provider identity",
                    "spec_provider": "ssh",
                ])

        let stderr = result.stderr
        #expect(stderr.contains("Sync:\n"), "\(stderr)")
        #expect(stderr.contains("Policy:\n"))
        #expect(
            stderr.hasSuffix("  - [\(state == .complete ? "completed" : "pending")] m3 (index 2)\n"),
            "\(stderr)")

        switch state {
        case .complete:
            #expect(payload["plan_status"] == ["status": "missing", "reason": "no current plan"])
            #expect(payload["human_verification"] == ["status": "unavailable", "reason": "no current plan"])
            #expect(summary["current_milestone"] == .null)
            #expect(summary["remaining"] == [])
            #expect(payload["logs"]?["plan_log"] == .null)
            #expect(
                stderr.hasPrefix(
                    "Current milestone: none\nCompleted: m1, m2, m3\nRemaining: none\nBase branch: main\nLast state: done\nSync:\nPolicy:\n"
                ))
        case .running:
            #expect(payload["plan_status"] == ["status": "running", "next_step": "execute"])
            #expect(
                payload["runner"]
                    == [
                        "status": "alive", "session": .string(fixture.session),
                        "detail": "tmux session present",
                    ])
            #expect(payload["logs"]?["plan_log"] == .string(ws + "/.megaplan/logs/latest.log"))
            #expect(
                stderr.hasPrefix(
                    "Current milestone: m1 (index 0)\nCompleted: none\nRemaining: m1, m2, m3\nBase branch: main\nCurrent plan: plan-m1\n"
                ))
        case .awaitingPRMerge:
            #expect(payload["pr"] == ["pr_number": 12, "pr_state": "awaiting_merge", "pr_head": "bbb222"])
            #expect(summary["current_milestone"] == ["label": "m2", "index": 1])
            #expect(summary["pr_number"] == .int(12))
            #expect(
                stderr == """
                    Current milestone: m2 (index 1)
                    Completed: m1
                    Remaining: m2, m3
                    Base branch: main
                    Current plan: plan-m2
                    Last state: awaiting_pr_merge
                    Current PR: #12 (awaiting_merge)
                    Sync:
                      PR head: bbb222
                    Policy:
                      Prerequisite: none
                      Validation: none
                      Review (clean_milestone_pr): auto
                    Per-milestone:
                      - [completed] m1 (index 0)
                      - [in_progress] m2 (index 1)
                      - [pending] m3 (index 2)

                    """)
            #expect(
                summary["per_milestone"]
                    == [
                        ["label": "m1", "index": 0, "status": "completed"],
                        ["label": "m2", "index": 1, "status": "in_progress"],
                        ["label": "m3", "index": 2, "status": "pending"],
                    ])
        case .awaitingHumanVerify:
            #expect(
                payload["plan_status"] == ["state": "awaiting_human_verify", "next_step": "verify-human"])
            #expect(
                payload["human_verification"]
                    == [
                        "status": "available", "pending": 1, "verified": 0,
                        "all_deferred_must_verified": false,
                        "rows": [], "semantics": "latest_verdict",
                    ])
            #expect(payload["runner"]?["status"] == "dead")
        case .humanPrerequisite:
            #expect(
                payload["policy"]
                    == [
                        "prerequisite_policy": "required", "validation_policy": "none",
                        "review_policy": ["clean_milestone_pr": "auto"], "source": "runtime_override",
                    ])
            #expect(
                summary["policy"]?["prerequisite_policy"] == "none", "the summary shows the spec's policy")
            #expect(stderr.contains("  Sync state: clean\n"))
        case .qualityGate:
            #expect(payload["policy"]?["validation_policy"] == "required")
            #expect(payload["policy"]?["source"] == "chain_yaml")
            #expect(summary["current_milestone"] == ["label": "m1", "index": 0])
            #expect(stderr.contains("  Validation: required\n"))
        case .staleBookkeeping:
            #expect(
                payload["runner"] == [
                    "status": "dead", "session": .string(fixture.session), "detail": "tmux session absent",
                ])
            #expect(payload["pr"] == ["status": "none"])
            #expect(stderr.contains("Completed: m1\nRemaining: m2, m3\n"))
        }
    }

    /// §12.4: inputs the reference crashed on are clear errors or count as absent.
    @Test func malformedRemoteFilesAreClearErrors() async throws {
        let fixture = try SSHFixture("st-bad", runtime: "host")
        defer { fixture.cleanUp() }
        let project = fixture.project
        let statePath = String(
            ChainPaths.stateFile(spec: project.remoteSpec).dropFirst(project.workspace.count + 1))

        try project.write(statePath, "[1, 2]")
        let array = try await fixture.cli(["status", "--chain"])
        expectError(array, "provider_failed", "Remote chain state was not a JSON object")

        try project.write(statePath, "{\"current_milestone_index\": null}")
        let nullIndex = try await fixture.cli(["status", "--chain"])
        expectError(
            nullIndex, "provider_failed",
            "Remote chain state field `current_milestone_index` must be an integer; got null")

        try project.write(statePath, "{not json")
        let invalid = try await fixture.cli(["status", "--chain"])
        expectError(invalid, "provider_failed", contains: ["Remote chain state was not valid JSON: "])

        try project.writeState(["current_milestone_index": 0])
        try project.write(
            String(
                ChainPaths.runtimePolicyFile(spec: project.remoteSpec).dropFirst(project.workspace.count + 1)),
            "[\"required\"]")
        let markerPath = Marker.path(forCloudYAML: FileSystem.resolve(fixture.cloudYAML), home: fixture.home)
        try write(markerPath, "[\"not an object\"]\n")
        let policy = try await fixture.cli(["status", "--chain"])
        #expect(policy.status == 0, "\(policy)")
        #expect(
            policy.json?["policy"]?["source"] == "chain_yaml", "a non-object policy counts as no override")
        #expect(
            policy.json?["resolved_context"]?["source"]?["session"] == "spec",
            "a non-object marker counts as none")

        try project.write("chain.yaml", "driver:\n  stall_threshold: lots\nmilestones: []\n")
        let driver = try await fixture.cli(["status", "--chain"])
        expectError(driver, "invalid_spec", contains: ["stall_threshold"])
    }

    @Test func missingRemoteSpecAndMissingState() async throws {
        let fixture = try SSHFixture(
            "st-missing", runtime: "host", extraYAML: "")
        defer { fixture.cleanUp() }
        // mode: chain gives chain.spec; the state was never written.
        let unwritten = try await fixture.cli(["status", "--chain"])
        expectError(
            unwritten, "provider_failed",
            contains: [
                "cat: \(ChainPaths.stateFile(spec: fixture.project.remoteSpec)): No such file or directory"
            ])

        // Without mode: chain and without a marker there is nothing to read.
        let text = try #require(FileSystem.readText(fixture.cloudYAML))
        try FileSystem.writeAtomically(
            fixture.cloudYAML, text: text.replacingOccurrences(of: "mode: chain", with: "mode: idle"))
        let missing = try await fixture.cli(["status", "--chain"])
        expectError(
            missing, "missing_remote_spec",
            "Unable to locate remote chain spec. Pass --remote-spec <path>, run `cloud chain <spec>` first, or set mode: chain in cloud.yaml."
        )
        try fixture.project.writeState(["current_milestone_index": 0])
        let given = try await fixture.cli(["status", "--chain", "--remote-spec", fixture.project.remoteSpec])
        #expect(given.status == 0, "\(given)")
        #expect(given.json?["resolved_session"] == "megaplan-chain", "no chain mode: the default session")
    }
}
