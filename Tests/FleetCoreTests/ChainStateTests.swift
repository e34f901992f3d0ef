import Testing

@testable import FleetCore

@Suite struct ChainPathsTests {
    /// Cloud reference §4.1, the four rows of the table.
    @Test(arguments: [
        ("/workspace/app/chain.yaml", "/workspace/app/.megaplan/plans/.chains/chain-31aeaa26cfe5.json"),
        (
            "/workspace/app/from-marker.yaml",
            "/workspace/app/.megaplan/plans/.chains/from-marker-d942b863ff5c.json"
        ),
        ("/workspace/chain.yaml", "/workspace/.megaplan/plans/.chains/chain-163cea7f2176.json"),
        (
            "/workspace/app/chains/release.yml",
            "/workspace/app/chains/.megaplan/plans/.chains/release-6650b4262d5b.json"
        ),
    ])
    func stateFile(_ spec: String, _ state: String) {
        #expect(ChainPaths.stateFile(spec: spec) == state)
        let policy = String(state.dropLast(".json".count)) + ".runtime_policy.json"
        #expect(ChainPaths.runtimePolicyFile(spec: spec) == policy)
    }

    @Test func remotePathIsNormalizedNotResolved() {
        #expect(
            ChainPaths.stateFile(spec: "/workspace//app/./chain.yaml")
                == ChainPaths.stateFile(spec: "/workspace/app/chain.yaml"))
        // `..` is kept: the remote string is never resolved locally.
        #expect(
            ChainPaths.stateFile(spec: "/workspace/x/../chain.yaml").hasPrefix(
                "/workspace/x/../.megaplan/plans/.chains/chain-"))
    }

    @Test func stemDropsOnlyTheLastExtension() {
        let path = ChainPaths.stateFile(spec: "/w/my chain.v2.yaml")
        #expect(path.hasPrefix("/w/.megaplan/plans/.chains/my chain.v2-"))
        #expect(path.hasSuffix(".json"))
    }
}

@Suite struct ChainStateTests {
    @Test func emptyObjectGivesDefaultsInKeyOrder() throws {
        let state = try ChainState.parse("{}")
        #expect(state == ChainState())
        #expect(
            state.json.serialized(.pretty) == """
                {
                  "current_milestone_index": -1,
                  "current_plan_name": null,
                  "last_state": null,
                  "pr_number": null,
                  "pr_state": null,
                  "completed": [],
                  "branch_head": null,
                  "pr_head": null,
                  "last_pushed_commit": null,
                  "dirty_flag": false,
                  "sync_state": null,
                  "extra_repos": [],
                  "chain_session": null,
                  "resolved_workspace": null,
                  "extra_repo_sync": []
                }
                """)
    }

    @Test func fullStateRoundTrips() throws {
        let text = """
            {"extra_repo_sync": [{"path": "/srv/lib", "status": "missing"}], "current_milestone_index": 2,
             "current_plan_name": "m2-plan", "last_state": "awaiting_pr_merge", "pr_number": 17, "pr_state": "open",
             "completed": [{"label": "seed", "plan": "seed", "status": "done"}, {"label": "m1", "plan": "p1",
             "status": "done", "pr_number": 3, "pr_state": "merged"}, "junk"], "branch_head": "abc", "pr_head": "def",
             "last_pushed_commit": "abc", "dirty_flag": true, "sync_state": "stale", "extra_repos": ["/srv/lib"],
             "chain_session": "night", "resolved_workspace": "/workspace/app", "future_key": {"x": 1}}
            """
        let state = try ChainState.parse(text)
        #expect(state.currentMilestoneIndex == 2)
        #expect(state.currentPlanName == "m2-plan")
        #expect(state.lastState == "awaiting_pr_merge")
        #expect(state.prNumber == 17)
        #expect(state.prState == "open")
        #expect(state.completed.count == 3)
        #expect(state.completedLabels == ["seed", "m1"])
        #expect(state.branchHead == "abc")
        #expect(state.prHead == "def")
        #expect(state.lastPushedCommit == "abc")
        #expect(state.dirtyFlag)
        #expect(state.syncState == "stale")
        #expect(state.extraRepos == ["/srv/lib"])
        #expect(state.chainSession == "night")
        #expect(state.resolvedWorkspace == "/workspace/app")
        #expect(state.extraRepoSync == [["path": "/srv/lib", "status": "missing"]])
        // `json` uses the reference key order whatever the input order; unknown keys are dropped.
        #expect(
            state.json.objectValue?.keys == [
                "current_milestone_index", "current_plan_name", "last_state", "pr_number", "pr_state",
                "completed",
                "branch_head", "pr_head", "last_pushed_commit", "dirty_flag", "sync_state", "extra_repos",
                "chain_session", "resolved_workspace", "extra_repo_sync",
            ])
        #expect(try ChainState.parse(state.json.serialized()) == state)
    }

    @Test(arguments: [
        (#"{"current_milestone_index": "3"}"#, 3), (#"{"current_milestone_index": " 4 "}"#, 4),
        (#"{"current_milestone_index": 5.0}"#, 5), (#"{"current_milestone_index": -1}"#, -1),
        (#"{"current_milestone_index": true}"#, 1),
    ])
    func milestoneIndexConversion(_ text: String, _ index: Int) throws {
        #expect(try ChainState.parse(text).currentMilestoneIndex == index)
    }

    @Test(
        arguments: [
            (#"{"pr_number": "42"}"#, 42), (#"{"pr_number": 42}"#, 42), (#"{"pr_number": null}"#, nil),
            (#"{}"#, nil), (#"{"pr_number": 7.0}"#, 7),
        ] as [(String, Int?)])
    func prNumberConversion(_ text: String, _ number: Int?) throws {
        #expect(try ChainState.parse(text).prNumber == number)
    }

    @Test(arguments: [
        ("true", true), ("false", false), ("1", true), ("0", false), ("\"yes\"", true), ("\"\"", false),
        ("null", false), ("[]", false), ("[0]", true), ("{}", false), ("0.0", false), ("\"false\"", true),
    ])
    func dirtyFlagTruthiness(_ value: String, _ flag: Bool) throws {
        #expect(try ChainState.parse(#"{"dirty_flag": \#(value)}"#).dirtyFlag == flag)
    }

    @Test func completedNullIsEmpty() throws {
        #expect(try ChainState.parse(#"{"completed": null}"#).completed == [])
    }

    @Test(arguments: [
        (#"["/a", "/b"]"#, ["/a", "/b"]),
        (#"["/a", "  "]"#, ["/a", "  "]),  // a whitespace-only item is kept
        (#"["/a", ""]"#, []),  // any bad item drops the whole list
        (#"["/a", 5]"#, []),
        (#"["/a", null]"#, []),
        (#""/a""#, []),
        (#"{"a": 1}"#, []),
        ("null", []),
        ("[]", []),
    ])
    func extraReposTolerance(_ value: String, _ repos: [String]) throws {
        #expect(try ChainState.parse(#"{"extra_repos": \#(value)}"#).extraRepos == repos)
    }

    @Test(
        arguments: [
            (#""night""#, "night"), (#""  ""#, nil), (#""""#, nil), ("5", nil), ("null", nil),
            ("[\"x\"]", nil),
            (#"" padded ""#, " padded "),
        ] as [(String, String?)])
    func sessionAndWorkspaceBlankToNil(_ value: String, _ expected: String?) throws {
        let state = try ChainState.parse(#"{"chain_session": \#(value), "resolved_workspace": \#(value)}"#)
        #expect(state.chainSession == expected)
        #expect(state.resolvedWorkspace == expected)
    }

    @Test(arguments: ["5", "\"x\"", "{}", "null", "true"])
    func extraRepoSyncNonListIsEmpty(_ value: String) throws {
        #expect(try ChainState.parse(#"{"extra_repo_sync": \#(value)}"#).extraRepoSync == [])
    }

    @Test(arguments: [
        ("not json", "Remote chain state was not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        ("", "Remote chain state was not valid JSON: Expecting value: line 1 column 1 (char 0)"),
        (
            "{\"a\": 1",
            "Remote chain state was not valid JSON: Expecting ',' delimiter: line 1 column 8 (char 7)"
        ),
        ("[]", "Remote chain state was not a JSON object"),
        ("\"state\"", "Remote chain state was not a JSON object"),
        ("null", "Remote chain state was not a JSON object"),
        (
            #"{"current_milestone_index": null}"#,
            "Remote chain state field `current_milestone_index` must be an integer; got null"
        ),
        (
            #"{"current_milestone_index": "three"}"#,
            #"Remote chain state field `current_milestone_index` must be an integer; got "three""#
        ),
        (
            #"{"current_milestone_index": [1]}"#,
            "Remote chain state field `current_milestone_index` must be an integer; got [1]"
        ),
        (#"{"pr_number": "x42"}"#, #"Remote chain state field `pr_number` must be an integer; got "x42""#),
        (#"{"pr_number": {}}"#, "Remote chain state field `pr_number` must be an integer; got {}"),
        (
            #"{"current_plan_name": 5}"#,
            "Remote chain state field `current_plan_name` must be a string or null; got 5"
        ),
        (
            #"{"last_state": true}"#,
            "Remote chain state field `last_state` must be a string or null; got true"
        ),
        (#"{"pr_state": [1]}"#, "Remote chain state field `pr_state` must be a string or null; got [1]"),
        (#"{"branch_head": 1}"#, "Remote chain state field `branch_head` must be a string or null; got 1"),
        (#"{"pr_head": {}}"#, "Remote chain state field `pr_head` must be a string or null; got {}"),
        (
            #"{"last_pushed_commit": 1.5}"#,
            "Remote chain state field `last_pushed_commit` must be a string or null; got 1.5"
        ),
        (
            #"{"sync_state": false}"#,
            "Remote chain state field `sync_state` must be a string or null; got false"
        ),
        (#"{"completed": "done"}"#, #"Remote chain state field `completed` must be a list; got "done""#),
        (#"{"completed": {}}"#, "Remote chain state field `completed` must be a list; got {}"),
    ])
    func rejects(_ text: String, _ message: String) {
        #expect(failure { try ChainState.parse(text) } == FleetError(.providerFailed, message))
    }

    /// The index is only compared, so any number Python compares is read: beyond 64 bits it
    /// saturates and a fraction is floored (both keep every comparison with an integer), and the
    /// normalized state prints the value as read.
    @Test(arguments: [
        ("1180591620717411303424", Int.max), ("-1180591620717411303424", Int.min), ("1e300", Int.max),
        ("\"1180591620717411303424\"", Int.max), ("\" -99999999999999999999 \"", Int.min), ("1.5", 1),
        ("-0.5", -1), ("9223372036854775807", Int.max),
    ])
    func outOfRangeMilestoneIndexIsCompared(_ value: String, _ index: Int) throws {
        let state = try ChainState.parse(#"{"current_milestone_index": "# + value + "}")
        #expect(state.currentMilestoneIndex == index)
        #expect(state.json["current_milestone_index"] == (try JSONValue.parse(value)))
    }

    @Test func nonNumericMilestoneIndexIsAnErrorNotACrash() {
        let nan = failure { try ChainState.parse(#"{"current_milestone_index": NaN}"#) }
        #expect(nan?.code == .providerFailed)
        let words = failure { try ChainState.parse(#"{"current_milestone_index": "1e3"}"#) }
        #expect(words?.code == .providerFailed)
    }
}
