import FleetCore
import Foundation
import SSHClient
import Testing
import Transport

@testable import RunnerProtocol
@testable import Supervisor

/// The chain spec and state of the §5.8 example (index 1, plan `plan-for-m2`, m1 completed, PR 12
/// open, dirty).
let exampleSpec = """
    seed:
      plan: seed-x
    milestones:
      - label: m1
        idea: ideas/m1.md
      - label: m2
        idea: ideas/m2.md
      - label: m3
        idea: ideas/m3.md
    """

let exampleState: JSONObject = [
    "current_milestone_index": 1, "current_plan_name": "plan-for-m2", "last_state": "done", "pr_number": 12,
    "pr_state": "open", "completed": [["label": "m1", "plan": "plan-for-m1", "status": "done"]],
    "branch_head": "aaa111", "pr_head": "bbb222", "last_pushed_commit": "aaa111", "dirty_flag": true,
    "sync_state": "dirty",
]

func probe(_ stdout: String, status: Int32 = 0, stderr: String = "") -> ProbeOutcome {
    ProbeOutcome(status: status, stdout: stdout, stderr: stderr)
}

let verifiedJSON =
    #"{"success": true, "semantics": "latest_verdict", "pending": 0, "verified": 2, "all_deferred_must_verified": true, "rows": [{"id": "c1"}]}"#

/// A status built from one synthetic observation, as a status read would build it.
func buildStatus(
    state: JSONObject = exampleState, stateText: String? = nil, spec: String = exampleSpec,
    specPath: String = "/workspace/app/chain.yaml", policy: String? = nil, planStatus: ProbeOutcome? = nil,
    runner: ProbeOutcome? = probe("alive\n"), stat: ProbeOutcome? = probe("1700000000 123\n"),
    verify: ProbeOutcome? = probe(verifiedJSON), marker: Marker? = nil, cloud: String = sshCloudYAML
) throws -> ChainStatus {
    var observation = Observation()
    observation.state = RemoteRead(text: stateText ?? JSONValue.object(state).serialized(.pretty))
    observation.spec = RemoteRead(text: spec)
    observation.policy =
        policy.map { RemoteRead(text: $0) } ?? RemoteRead(error: "cat: policy: No such file or directory")
    observation.planStatus = planStatus ?? probe(#"{"state": "executing", "next_step": "execute"}"#)
    observation.runner = runner
    observation.stat = stat
    observation.verify = verify
    return try ChainStatus.build(
        observation: observation, specPath: specPath, marker: marker, cloud: try cloudSpec(cloud))
}

@Suite("§5 chain status: context, summary, policy, consistency, human verification")
struct ChainStatusTests {
    // MARK: §5.1 remote spec

    static let idleCloud = """
        provider: ssh
        repo:
          url: https://example.invalid/app.git
          workspace: /workspace/app
        ssh:
          host: runner.example
        """

    @Test func remoteSpecPrecedence() throws {
        let chain = try cloudSpec(sshCloudYAML)
        let idle = try cloudSpec(Self.idleCloud)
        let marker = Marker(["remote_spec": "/workspace/app/from-marker.yaml"])
        #expect(
            try ChainContext.remoteSpec(override: "/x/override.yaml", marker: marker, cloud: chain)
                == "/x/override.yaml")
        #expect(
            try ChainContext.remoteSpec(override: "", marker: marker, cloud: chain)
                == "/workspace/app/from-marker.yaml")
        #expect(
            try ChainContext.remoteSpec(override: nil, marker: marker, cloud: idle)
                == "/workspace/app/from-marker.yaml")
        #expect(
            try ChainContext.remoteSpec(override: nil, marker: nil, cloud: chain)
                == "/workspace/app/chain.yaml")
        for skipped in [
            Marker(["remote_spec": ""]), Marker(["remote_spec": 5]), Marker(["remote_spec": nil]),
            Marker([:]),
        ] {
            #expect(
                try ChainContext.remoteSpec(override: nil, marker: skipped, cloud: chain)
                    == "/workspace/app/chain.yaml")
        }
    }

    @Test func missingRemoteSpec() throws {
        let idle = try cloudSpec(Self.idleCloud)
        let error = #expect(throws: FleetError.self) {
            try ChainContext.remoteSpec(override: "", marker: Marker(["workspace": "/w"]), cloud: idle)
        }
        #expect(error?.code == .missingRemoteSpec)
        #expect(
            error?.message
                == "Unable to locate remote chain spec. Pass --remote-spec <path>, run `cloud chain <spec>` first, or set mode: chain in cloud.yaml."
        )
    }

    /// The marker read through the reader: an invalid or unreadable marker counts as no marker.
    @Test func remoteSpecThroughTheMarkerFile() throws {
        let home = try TemporaryDirectory.make(prefix: "mpf-sup-home-")
        defer { TemporaryDirectory.remove(home) }
        let cloud = try cloudSpec(sshCloudYAML, path: home + "/cloud.yaml")
        let reader = ChainStatusReader(cloud: cloud, runner: OfflineRunner(), home: home)
        #expect(try reader.remoteSpec(marker: reader.marker) == "/workspace/app/chain.yaml")
        let path = Marker.path(forCloudYAML: cloud.path, home: home)
        try FileSystem.makeDirectories(PosixPath.dirname(path))
        try FileSystem.writeAtomically(path, text: "{not json")
        #expect(reader.marker == nil)
        #expect(try reader.remoteSpec(marker: reader.marker) == "/workspace/app/chain.yaml")
        try FileSystem.writeAtomically(path, text: #"["a list"]"#)
        #expect(try reader.remoteSpec(marker: reader.marker) == "/workspace/app/chain.yaml")
        try Marker(["remote_spec": "/srv/marker.yaml"]).write(forCloudYAML: cloud.path, home: home)
        #expect(try reader.remoteSpec(marker: reader.marker) == "/srv/marker.yaml")
        let overridden = ChainStatusReader(
            cloud: cloud, runner: OfflineRunner(), remoteSpecOverride: "/o.yaml", home: home)
        #expect(try overridden.remoteSpec(marker: overridden.marker) == "/o.yaml")
    }

    // MARK: §5.3 execution context

    @Test func workspaceAndSessionPrecedence() throws {
        let cloud = try cloudSpec(sshCloudYAML + "\n" + "extra_repos:\n  - /a\n  - /b\n")
        let withSession = try cloudSpec(
            sshCloudYAML.replacingOccurrences(
                of: "  spec: /workspace/app/chain.yaml",
                with: "  spec: /workspace/app/chain.yaml\n  chain_session: cfg"))
        var state = ChainState()
        state.resolvedWorkspace = "/slot/ws"
        state.chainSession = "from-state"
        let marker = Marker(["workspace": "/marker/ws", "chain_session": "from-marker"])

        var context = ChainContext.resolve(
            state: state, spec: "/workspace/app/chain.yaml", marker: marker, cloud: cloud)
        #expect(context.workspace == "/slot/ws" && context.workspaceSource == "chain_state")
        #expect(context.session == "from-state" && context.sessionSource == "chain_state")

        context = ChainContext.resolve(
            state: ChainState(), spec: "/srv/x/chain.yaml", marker: marker, cloud: cloud)
        #expect(context.workspace == "/marker/ws" && context.workspaceSource == "marker")
        #expect(context.session == "from-marker" && context.sessionSource == "marker")

        let blankMarker = Marker(["workspace": "  ", "chain_session": "", "extra_repos": "not a list"])
        context = ChainContext.resolve(
            state: ChainState(), spec: "/srv/x/chain.yaml", marker: blankMarker, cloud: withSession)
        #expect(context.workspace == "/srv/x" && context.workspaceSource == "remote_spec")
        #expect(context.session == "cfg" && context.sessionSource == "spec")

        for spec in ["/chain.yaml", "chain.yaml"] {
            context = ChainContext.resolve(state: ChainState(), spec: spec, marker: nil, cloud: cloud)
            #expect(context.workspace == "/workspace/app" && context.workspaceSource == "spec", "\(spec)")
            #expect(context.session == "megaplan-chain" && context.sessionSource == "default")
        }
        context = ChainContext.resolve(state: ChainState(), spec: "rel/chain.yaml", marker: nil, cloud: cloud)
        #expect(context.workspace == "rel" && context.workspaceSource == "remote_spec")

        // A blank state value normalizes to null and falls through.
        let blank = try ChainState.parse(#"{"resolved_workspace": " ", "chain_session": ""}"#)
        context = ChainContext.resolve(state: blank, spec: "/srv/x/chain.yaml", marker: nil, cloud: cloud)
        #expect(context.workspaceSource == "remote_spec" && context.sessionSource == "default")
    }

    @Test func extraReposConcatenateDeduplicateAndRecordSources() throws {
        let cloud = try cloudSpec(sshCloudYAML + "\n" + "extra_repos:\n  - /a\n  - /b\n")
        var state = ChainState()
        state.extraRepos = ["/b", "/c", " "]
        let marker = Marker(["extra_repos": ["/c", "", 5, nil, "/d", "/a", "   "]])
        let context = ChainContext.resolve(
            state: state, spec: "/workspace/app/chain.yaml", marker: marker, cloud: cloud)
        #expect(context.extraRepos == ["/a", "/b", "/c", "/d"])
        #expect(context.extraRepoSources == ["spec", "spec", "chain_state", "marker"])
        #expect(
            context.json.serialized()
                == #"{"workspace":"/workspace/app","chain_session":"megaplan-chain","extra_repos":["/a","/b","/c","/d"],"remote_spec":"/workspace/app/chain.yaml","source":{"workspace":"remote_spec","session":"default","extra_repos":["spec","spec","chain_state","marker"]}}"#
        )
        let none = ChainContext.resolve(
            state: ChainState(), spec: "/w/c.yaml", marker: Marker(["extra_repos": "x"]),
            cloud: try cloudSpec(sshCloudYAML))
        #expect(none.extraRepos.isEmpty && none.extraRepoSources.isEmpty)
    }

    // MARK: §5.7 summary and §5.8 text

    @Test func summaryOfTheExample() throws {
        let state = try ChainState(exampleState)
        let spec = try ChainSpec.parse(text: exampleSpec, path: "/workspace/app/chain.yaml")
        let summary = ChainStatus.summary(state: state, spec: spec)
        let expected: JSONValue = [
            "current_milestone": ["label": "m2", "index": 1],
            "completed": [["label": "m1", "index": 0]],
            "remaining": [["label": "m2", "index": 1], ["label": "m3", "index": 2]],
            "per_milestone": [
                ["label": "m1", "index": 0, "status": "completed"],
                ["label": "m2", "index": 1, "status": "in_progress"],
                ["label": "m3", "index": 2, "status": "pending"],
            ],
            "seed_plan": "seed-x", "base_branch": "main", "current_plan_name": "plan-for-m2",
            "last_state": "done",
            "sync": [
                "branch_head": "aaa111", "pr_head": "bbb222", "last_pushed_commit": "aaa111",
                "dirty_flag": true,
                "sync_state": "dirty",
            ],
            "policy": [
                "prerequisite_policy": "none", "validation_policy": "none",
                "review_policy": ["clean_milestone_pr": "auto"],
            ],
            "pr_number": 12, "pr_state": "open",
        ]
        #expect(JSONValue.object(summary).serialized() == expected.serialized())
    }

    @Test func summaryEdges() throws {
        let spec = try ChainSpec.parse(
            text: """
                prerequisite_policy: required
                review_policy:
                  clean_milestone_pr: manual
                milestones:
                  - label: m1
                    idea: ideas/m1.md
                    branch: feature/m1
                  - label: m2
                    idea: ideas/m2.md
                """, path: "/w/chain.yaml")
        // Branch shown; no plan → the current milestone stays pending; no PR keys without a PR;
        // entries that are not objects with a string label are ignored.
        var state = try ChainState.parse(
            #"{"current_milestone_index": 0, "completed": ["m2", {"label": 3}]}"#)
        var summary = ChainStatus.summary(state: state, spec: spec)
        #expect(summary["current_milestone"] == ["label": "m1", "index": 0, "branch": "feature/m1"])
        #expect(
            summary["per_milestone"]?.arrayValue?.compactMap { $0["status"]?.stringValue } == [
                "pending", "pending",
            ])
        #expect(summary["completed"] == [])
        #expect(summary.keys.last == "policy")
        #expect(
            summary["policy"] == [
                "prerequisite_policy": "required", "validation_policy": "none",
                "review_policy": ["clean_milestone_pr": "manual"],
            ])
        // Index out of range (seed phase, or all processed) → no current milestone.
        for index in [-1, 2, 9] {
            state.currentMilestoneIndex = index
            summary = ChainStatus.summary(state: state, spec: spec)
            #expect(summary["current_milestone"] == .null)
        }
        state.prNumber = 5
        summary = ChainStatus.summary(state: state, spec: spec)
        #expect(Array(summary.keys.suffix(2)) == ["pr_number", "pr_state"])
        #expect(summary["pr_state"] == .null)
    }

    @Test func summaryTextOfTheExample() throws {
        let status = try buildStatus()
        #expect(
            ChainSummaryText.render(status) == """
                Current milestone: m2 (index 1)
                Completed: m1
                Remaining: m2, m3
                Seed plan: seed-x
                Base branch: main
                Current plan: plan-for-m2
                Last state: done
                Current PR: #12 (open)
                Sync:
                  Branch head: aaa111
                  PR head: bbb222
                  Last pushed: aaa111
                  Dirty: yes
                  Sync state: dirty
                Policy:
                  Prerequisite: none
                  Validation: none
                  Review (clean_milestone_pr): auto
                Per-milestone:
                  - [completed] m1 (index 0)
                  - [in_progress] m2 (index 1)
                  - [pending] m3 (index 2)

                """)
    }

    @Test func summaryTextMinimal() throws {
        // Nothing optional: Sync: and Policy: headers are always printed; the policy lines are the
        // spec's even when a runtime override is in force.
        let status = try buildStatus(
            state: ["current_milestone_index": -1], spec: "milestones:\n  - label: only\n    idea: i.md\n",
            policy: #"{"validation_policy": "required"}"#)
        #expect(status.payload["policy"]?["validation_policy"] == "required")
        #expect(
            ChainSummaryText.render(status) == """
                Current milestone: none
                Completed: none
                Remaining: only
                Base branch: main
                Sync:
                Policy:
                  Prerequisite: none
                  Validation: none
                  Review (clean_milestone_pr): auto
                Per-milestone:
                  - [pending] only (index 0)

                """)
    }

    @Test func summaryTextPullRequestLine() throws {
        func line(_ extra: JSONObject) throws -> [String] {
            var state: JSONObject = ["current_milestone_index": 0]
            for (key, value) in extra.entries { state[key] = value }
            return try ChainSummaryText.render(buildStatus(state: state)).split(separator: "\n")
                .filter { $0.hasPrefix("Current PR") }.map(String.init)
        }
        #expect(try line(["pr_number": 7]) == ["Current PR: #7 (unknown)"])
        #expect(try line(["pr_number": 7, "pr_state": ""]) == ["Current PR: #7 (unknown)"])
        #expect(try line(["pr_number": 7, "pr_state": "MERGED"]) == ["Current PR: #7 (MERGED)"])
        #expect(try line(["pr_number": 0, "pr_state": "open"]) == [])
        #expect(try line([:]) == [])
        let allDone = try buildStatus(state: [
            "current_milestone_index": 3, "completed": [["label": "m1"], ["label": "m2"], ["label": "m3"]],
        ])
        let text = ChainSummaryText.render(allDone)
        #expect(text.hasPrefix("Current milestone: none\nCompleted: m1, m2, m3\nRemaining: none\n"))
    }

    // MARK: §5.2 step 6 effective policy

    struct PolicyCase: Sendable, CustomTestStringConvertible {
        let text: String?
        let expected: JSONValue
        var testDescription: String { text.map { "override \($0.debugDescription)" } ?? "no override file" }
    }

    static let fromSpec: JSONValue = [
        "prerequisite_policy": "required", "validation_policy": "none",
        "review_policy": ["clean_milestone_pr": "manual"], "source": "chain_yaml",
    ]

    static let policyCases: [PolicyCase] = [
        PolicyCase(text: nil, expected: fromSpec),
        PolicyCase(text: "", expected: fromSpec),
        PolicyCase(text: " \n", expected: fromSpec),
        PolicyCase(text: "{}", expected: fromSpec),
        PolicyCase(text: "{not json", expected: fromSpec),
        PolicyCase(text: "[1, 2]", expected: fromSpec),
        PolicyCase(text: "\"required\"", expected: fromSpec),
        PolicyCase(
            text: #"{"validation_policy": "required"}"#,
            expected: [
                "prerequisite_policy": "required", "validation_policy": "required",
                "review_policy": ["clean_milestone_pr": "manual"], "source": "runtime_override",
            ]),
        PolicyCase(
            text: #"{"prerequisite_policy": "none", "review_policy": {"clean_milestone_pr": "auto"}}"#,
            expected: [
                "prerequisite_policy": "none", "validation_policy": "none",
                "review_policy": ["clean_milestone_pr": "auto"], "source": "runtime_override",
            ]),
        PolicyCase(
            text: #"{"unrelated": true}"#,
            expected: [
                "prerequisite_policy": "required", "validation_policy": "none",
                "review_policy": ["clean_milestone_pr": "manual"], "source": "runtime_override",
            ]),
    ]

    @Test(arguments: policyCases)
    func effectivePolicy(_ row: PolicyCase) throws {
        let spec = try ChainSpec.parse(
            text:
                "prerequisite_policy: required\nreview_policy:\n  clean_milestone_pr: manual\nmilestones: []\n",
            path: "/w/chain.yaml")
        #expect(
            JSONValue.object(ChainStatus.effectivePolicy(spec: spec, overrideText: row.text)).serialized()
                == row.expected.serialized())
    }

    // MARK: §5.4 provider consistency

    static let railwayCloud = """
        provider: railway
        repo:
          url: https://example.invalid/app.git
        railway:
          service: agent-svc
        """

    struct ConsistencyCase: Sendable, CustomTestStringConvertible {
        let name: String
        let cloud: String
        let marker: Marker?
        let expected: JSONValue
        var testDescription: String { name }
    }

    static let localCloud = """
        provider: local
        repo:
          url: https://example.invalid/app.git
        """

    static let consistencyCases: [ConsistencyCase] = [
        ConsistencyCase(
            name: "ssh", cloud: sshCloudYAML, marker: Marker(["provider": "railway"]),
            expected: [
                "status": "not_applicable", "reason": "provider 'ssh' has no comparable provider identity",
                "spec_provider": "ssh",
            ]),
        ConsistencyCase(
            name: "local", cloud: localCloud, marker: nil,
            expected: [
                "status": "not_applicable", "reason": "provider 'local' has no comparable provider identity",
                "spec_provider": "local",
            ]),
        ConsistencyCase(
            name: "railway without marker", cloud: railwayCloud, marker: nil,
            expected: [
                "status": "consistent", "spec_provider": "railway", "spec_identity": "agent-svc",
                "marker_provider": nil, "marker_identity": nil,
            ]),
        ConsistencyCase(
            name: "railway, matching marker", cloud: railwayCloud,
            marker: Marker(["provider": "railway", "provider_identity": "agent-svc"]),
            expected: [
                "status": "consistent", "spec_provider": "railway", "spec_identity": "agent-svc",
                "marker_provider": "railway", "marker_identity": "agent-svc",
            ]),
        ConsistencyCase(
            name: "railway, marker from another provider", cloud: railwayCloud,
            marker: Marker(["provider": "ssh", "provider_identity": "host-1"]),
            expected: [
                "status": "mismatch",
                "reason": "marker was written for provider 'ssh' but spec declares 'railway'",
                "spec_provider": "railway", "marker_provider": "ssh", "spec_identity": "agent-svc",
                "marker_identity": "host-1",
            ]),
        ConsistencyCase(
            name: "railway, marker from another provider without identity", cloud: railwayCloud,
            marker: Marker(["provider": "local"]),
            expected: [
                "status": "mismatch",
                "reason": "marker was written for provider 'local' but spec declares 'railway'",
                "spec_provider": "railway", "marker_provider": "local", "spec_identity": "agent-svc",
                "marker_identity": nil,
            ]),
        ConsistencyCase(
            name: "railway, another service", cloud: railwayCloud,
            marker: Marker(["provider": "railway", "provider_identity": "other-svc"]),
            expected: [
                "status": "mismatch",
                "reason": "marker provider_identity 'other-svc' does not match spec identity 'agent-svc'",
                "spec_provider": "railway", "spec_identity": "agent-svc", "marker_identity": "other-svc",
            ]),
        ConsistencyCase(
            name: "railway, identity only", cloud: railwayCloud,
            marker: Marker(["provider_identity": "other-svc"]),
            expected: [
                "status": "mismatch",
                "reason": "marker provider_identity 'other-svc' does not match spec identity 'agent-svc'",
                "spec_provider": "railway", "spec_identity": "agent-svc", "marker_identity": "other-svc",
            ]),
        ConsistencyCase(
            name: "railway, marker with neither", cloud: railwayCloud,
            marker: Marker(["remote_spec": "/w/c.yaml"]),
            expected: [
                "status": "consistent", "spec_provider": "railway", "spec_identity": "agent-svc",
                "marker_provider": nil, "marker_identity": nil,
            ]),
    ]

    @Test(arguments: consistencyCases)
    func providerConsistency(_ row: ConsistencyCase) throws {
        let result = ProviderConsistency.check(cloud: try cloudSpec(row.cloud), marker: row.marker)
        #expect(JSONValue.object(result).serialized() == row.expected.serialized())
    }

    @Test func mismatchIsCarriedIntoTheStatus() throws {
        let status = try buildStatus(
            marker: Marker(["provider": "ssh"]), cloud: Self.railwayCloud)
        #expect(status.consistencyStatus == "mismatch")
        #expect(
            status.consistencyReason == "marker was written for provider 'ssh' but spec declares 'railway'")
    }

    // MARK: §5.5 human verification

    struct VerifyCase: Sendable, CustomTestStringConvertible {
        let name: String
        let probe: ProbeOutcome
        let expected: JSONValue
        var testDescription: String { name }
    }

    static let stale = "!= 'latest_verdict'; facts may be stale"

    static let verifyCases: [VerifyCase] = [
        VerifyCase(
            name: "probe failed", probe: probe("", status: 1, stderr: "  megaplan: no such plan\n"),
            expected: ["status": "unavailable", "reason": "megaplan: no such plan"]),
        VerifyCase(
            name: "empty stdout", probe: probe(""),
            expected: ["status": "unavailable", "reason": "empty stdout"]),
        VerifyCase(
            name: "whitespace stdout", probe: probe(" \n\t "),
            expected: ["status": "unavailable", "reason": "empty stdout"]),
        VerifyCase(
            name: "semantics other",
            probe: probe(#"{"semantics": "cumulative", "all_deferred_must_verified": true}"#),
            expected: [
                "status": "unavailable", "reason": .string("remote payload semantics 'cumulative' \(stale)"),
                "raw_semantics": "cumulative",
            ]),
        VerifyCase(
            name: "semantics missing", probe: probe(#"{"pending": 0}"#),
            expected: [
                "status": "unavailable", "reason": .string("remote payload semantics None \(stale)"),
                "raw_semantics": nil,
            ]),
        VerifyCase(
            name: "semantics null", probe: probe(#"{"semantics": null}"#),
            expected: [
                "status": "unavailable", "reason": .string("remote payload semantics None \(stale)"),
                "raw_semantics": nil,
            ]),
        VerifyCase(
            name: "semantics not a string", probe: probe(#"{"semantics": 2}"#),
            expected: [
                "status": "unavailable", "reason": .string("remote payload semantics 2 \(stale)"),
                "raw_semantics": 2,
            ]),
        VerifyCase(
            name: "available with defaults", probe: probe(#"{"semantics": "latest_verdict"}"#),
            expected: [
                "status": "available", "pending": 0, "verified": 0, "all_deferred_must_verified": false,
                "rows": [],
                "semantics": "latest_verdict",
            ]),
        VerifyCase(
            name: "available with values", probe: probe(verifiedJSON + "\n"),
            expected: [
                "status": "available", "pending": 0, "verified": 2, "all_deferred_must_verified": true,
                "rows": [["id": "c1"]], "semantics": "latest_verdict",
            ]),
        VerifyCase(
            name: "available, criteria pending",
            probe: probe(
                #"{"semantics": "latest_verdict", "pending": 3, "verified": 1, "all_deferred_must_verified": false}"#
            ),
            expected: [
                "status": "available", "pending": 3, "verified": 1, "all_deferred_must_verified": false,
                "rows": [],
                "semantics": "latest_verdict",
            ]),
    ]

    @Test(arguments: verifyCases)
    func humanVerification(_ row: VerifyCase) {
        let facts = HumanVerificationFacts.parse(row.probe)
        #expect(HumanVerificationFacts.json(facts).serialized() == row.expected.serialized())
    }

    @Test func humanVerificationInvalidJSON() {
        let facts = HumanVerificationFacts.parse(probe("this is not json"))
        #expect(facts.status == "unavailable")
        #expect(facts.reason?.hasPrefix("invalid JSON: ") == true)
        #expect(facts.reason != "invalid JSON: ")
        #expect(HumanVerificationFacts.json(facts).objectValue?.keys == ["status", "reason"])
    }

    @Test func availableFactsAreTyped() {
        let facts = HumanVerificationFacts.parse(probe(verifiedJSON))
        #expect(facts.status == "available" && facts.semantics == "latest_verdict")
        #expect(facts.allDeferredMustVerified && facts.pending == 0 && facts.verified == 2)
    }

    // MARK: §5.2 payload

    static let payloadKeys = [
        "success", "spec", "milestone_count", "seed_plan", "chain_state", "summary", "effective_status",
        "policy",
        "sync", "plan_status", "runner", "logs", "pr", "provider_consistency", "human_verification",
        "resolved_workspace", "resolved_session", "resolved_context",
    ]

    @Test func payloadOfTheExample() throws {
        let status = try buildStatus()
        let payload = status.payload
        #expect(payload.keys == Self.payloadKeys)
        #expect(payload["success"] == true && payload["spec"] == "/workspace/app/chain.yaml")
        #expect(payload["milestone_count"] == 3 && payload["seed_plan"] == "seed-x")
        #expect(payload["chain_state"]?.objectValue?.keys.count == 15)
        // Dirty sync, a plan that is not running → stale bookkeeping (rule 5).
        #expect(
            payload["effective_status"] == "stale_bookkeeping" && status.effectiveStatus == .staleBookkeeping)
        #expect(
            payload["sync"]
                == [
                    "branch_head": "aaa111", "pr_head": "bbb222", "last_pushed_commit": "aaa111",
                    "dirty_flag": true,
                    "sync_state": "dirty",
                ])
        #expect(payload["plan_status"] == ["state": "executing", "next_step": "execute"])
        #expect(
            payload["runner"] == [
                "status": "alive", "session": "megaplan-chain", "detail": "tmux session present",
            ])
        #expect(
            payload["logs"]
                == [
                    "workspace": "/workspace/app", "plan_log": "/workspace/app/.megaplan/logs/latest.log",
                    "agent_log": "/workspace/app/agent.log",
                    "chain_log": [
                        "path": "/workspace/app/.megaplan/cloud-chain.log", "mtime": 1_700_000_000,
                        "size": 123,
                    ],
                ])
        #expect(payload["pr"] == ["pr_number": 12, "pr_state": "open", "pr_head": "bbb222"])
        #expect(payload["human_verification"]?["status"] == "available")
        #expect(
            payload["resolved_workspace"] == "/workspace/app"
                && payload["resolved_session"] == "megaplan-chain")
        #expect(payload["resolved_context"]?["source"]?["workspace"] == "remote_spec")
        #expect(payload["policy"]?["source"] == "chain_yaml")
    }

    @Test func payloadWithoutPlanOrPullRequest() throws {
        let status = try buildStatus(
            state: ["current_milestone_index": 0, "resolved_workspace": "/slot/w", "chain_session": "s1"],
            planStatus: probe("{}"), runner: probe("dead\n"), stat: probe("unavailable\n"), verify: nil)
        let payload = status.payload
        #expect(payload["plan_status"] == ["status": "missing", "reason": "no current plan"])
        #expect(payload["runner"] == ["status": "dead", "session": "s1", "detail": "tmux session absent"])
        #expect(payload["logs"]?["plan_log"] == .null)
        #expect(
            payload["logs"]?["chain_log"] == [
                "path": "/slot/w/.megaplan/cloud-chain.log", "status": "unavailable",
            ])
        #expect(payload["pr"] == ["status": "none"])
        #expect(payload["human_verification"] == ["status": "unavailable", "reason": "no current plan"])
        #expect(status.effectiveStatus == .staleBookkeeping)
        #expect(payload["resolved_workspace"] == "/slot/w" && payload["resolved_session"] == "s1")
    }

    @Test func runnerProbeOutcomes() throws {
        #expect(try buildStatus(runner: probe("alive\n")).runnerStatus == "alive")
        #expect(try buildStatus(runner: probe("dead\n")).runnerStatus == "dead")
        #expect(try buildStatus(runner: probe("alive\n", status: 1)).runnerStatus == "dead")
        let unknown = try buildStatus(runner: nil)
        #expect(unknown.runnerStatus == "unknown")
        #expect(unknown.payload["runner"]?["reason"] != nil)
    }

    @Test func chainLogStat() throws {
        func chainLog(_ stat: ProbeOutcome?) throws -> JSONValue? {
            try buildStatus(stat: stat).payload["logs"]?["chain_log"]
        }
        let path: JSONValue = "/workspace/app/.megaplan/cloud-chain.log"
        #expect(try chainLog(probe("-5 abc\n")) == ["path": path, "mtime": -5, "size": "abc"])
        #expect(try chainLog(probe("12x 7 extra")) == ["path": path, "mtime": "12x", "size": 7])
        #expect(try chainLog(probe("123\n")) == ["path": path])
        #expect(try chainLog(probe("")) == ["path": path, "status": "unavailable"])
        #expect(
            try chainLog(probe("", status: 2, stderr: "boom")) == [
                "path": path, "status": "unavailable", "reason": "boom",
            ])
    }

    @Test func planStatusOutcomes() throws {
        let failed = try buildStatus(planStatus: probe("", status: 1, stderr: "no plan named plan-for-m2"))
        #expect(
            failed.payload["plan_status"] == ["status": "unavailable", "reason": "no plan named plan-for-m2"])
        let garbage = try buildStatus(planStatus: probe("Traceback ..."))
        #expect(garbage.payload["plan_status"]?["status"] == "unavailable")
        #expect(
            garbage.payload["plan_status"]?["reason"]?.stringValue?.hasPrefix(
                "megaplan status did not return JSON: ") == true)
        // §12.1: the plan's `state` drives rule 3 when `status` is absent.
        let hv = try buildStatus(
            state: ["current_milestone_index": 0, "current_plan_name": "p", "sync_state": "clean"],
            planStatus: probe(#"{"state": "awaiting_human_verify"}"#),
            verify: probe(#"{"semantics": "latest_verdict", "pending": 1}"#))
        #expect(hv.effectiveStatus == .awaitingHumanVerify)
        let woken = try buildStatus(
            state: ["current_milestone_index": 0, "current_plan_name": "p", "sync_state": "clean"],
            planStatus: probe(#"{"state": "awaiting_human_verify"}"#), runner: probe("dead\n"))
        #expect(woken.effectiveStatus == .staleBookkeeping)
    }

    @Test func buildFailures() {
        func failure(_ body: () throws -> ChainStatus) -> FleetError? {
            do {
                _ = try body()
                return nil
            } catch { return error as? FleetError }
        }
        var observation = Observation()
        observation.state = RemoteRead(
            error: "cat: /w/.megaplan/plans/.chains/chain-x.json: No such file or directory")
        observation.spec = RemoteRead(text: exampleSpec)
        let cloud = try? cloudSpec(sshCloudYAML)
        let missing = failure {
            try ChainStatus.build(
                observation: observation, specPath: "/w/chain.yaml", marker: nil, cloud: cloud!)
        }
        #expect(missing?.code == .providerFailed)
        #expect(missing?.message == "cat: /w/.megaplan/plans/.chains/chain-x.json: No such file or directory")

        let invalid = failure { try buildStatus(stateText: "{oops") }
        #expect(invalid?.code == .providerFailed)
        #expect(invalid?.message.hasPrefix("Remote chain state was not valid JSON: ") == true)

        let notObject = failure { try buildStatus(stateText: "[1]") }
        #expect(notObject?.code == .providerFailed)

        let badIndex = failure { try buildStatus(stateText: #"{"current_milestone_index": null}"#) }
        #expect(badIndex?.code == .providerFailed)

        // A chain state over the runner-side limit is refused before it is parsed and kept (a
        // runner that does not run the script could send one).
        let padding = String(repeating: "0,", count: OutputLimits.remoteText / 2)
        let oversized = failure {
            try buildStatus(stateText: #"{"current_milestone_index": 0, "junk": ["# + padding + "0]}")
        }
        #expect(oversized?.code == .providerFailed)
        #expect(oversized?.message.hasPrefix("Remote chain state is larger than 64 KiB") == true)

        observation.state = RemoteRead(text: "{}")
        observation.spec = RemoteRead(error: "cat: /w/chain.yaml: Permission denied")
        let specUnread = failure {
            try ChainStatus.build(
                observation: observation, specPath: "/w/chain.yaml", marker: nil, cloud: cloud!)
        }
        #expect(specUnread?.message == "cat: /w/chain.yaml: Permission denied")

        let badSpec = failure { try buildStatus(spec: "milestones: 5\n") }
        #expect(badSpec?.code == .invalidSpec)
    }
}
