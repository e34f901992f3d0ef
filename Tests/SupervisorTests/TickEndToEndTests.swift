import FleetCore
import Foundation
import Locks
import TestSupport
import Testing
import Transport

@testable import RunnerProtocol
@testable import Supervisor

/// The status read alone: exactly one remote command.
func statusRead(_ chain: ChainFixture) async throws -> ChainStatus {
    let before = chain.runner.commandCount
    let status = try await chain.reader.read()
    #expect(chain.runner.commandCount - before == 1, "a status read is one remote command")
    return status
}

/// The report of a tick that read, refreshed and decided (§6.3).
func expectReport(
    _ tick: TickReport, _ chain: ChainFixture, event: String, status: EffectiveStatus, action: String,
    acted: Bool,
    reason: String? = nil, success: Bool = true, syncRefresh: JSONValue = ["status": "ok"],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(tick.keys == reportKeys, sourceLocation: sourceLocation)
    #expect(tick["success"] == .bool(success), sourceLocation: sourceLocation)
    #expect(tick.success == success && tick.acted == acted && !tick.skipped, sourceLocation: sourceLocation)
    #expect(tick.event == event, sourceLocation: sourceLocation)
    #expect(tick["spec"] == .string(chain.spec), sourceLocation: sourceLocation)
    #expect(tick["effective_status"] == .string(status.rawValue), sourceLocation: sourceLocation)
    #expect(tick.effectiveStatus == status, sourceLocation: sourceLocation)
    #expect(tick.nextAction == action, sourceLocation: sourceLocation)
    #expect(tick["acted"] == .bool(acted), sourceLocation: sourceLocation)
    #expect(tick["refused_reason"] == .optional(reason), sourceLocation: sourceLocation)
    #expect(tick["sync_refresh"] == syncRefresh, sourceLocation: sourceLocation)
    #expect(
        tick["provider_consistency"]
            == [
                "status": "not_applicable", "reason": "provider 'ssh' has no comparable provider identity",
                "spec_provider": "ssh",
            ], sourceLocation: sourceLocation)
    #expect(
        tick.summaryLine == summaryLine(event, acted: acted, action, reason), sourceLocation: sourceLocation)
    #expect(tick.errorKind == nil, sourceLocation: sourceLocation)
}

/// After a refresh the state pins the workspace and session it was refreshed with (§6.4).
func expectPinned(_ chain: ChainFixture, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let state = try chain.project.readState()
    #expect(state["resolved_workspace"] == .string(chain.workspace), sourceLocation: sourceLocation)
    #expect(state["chain_session"] == .string(chain.session), sourceLocation: sourceLocation)
}

let prWaitSuffix = "supervisor will not advance until PR is merged"
let pendingStatusJSON = #"{"state": "awaiting_human_verify", "next_step": "verify-human", "plan": "plan-m1"}"#

func verifyJSON(pending: Int, verified: Int, all: Bool) -> String {
    #"{"success": true, "step": "verify-human", "plan": "plan-m1", "semantics": "latest_verdict", "pending": \#(pending), "verified": \#(verified), "all_deferred_must_verified": \#(all), "rows": []}"#
}

@Suite("Supervisor tick end to end, one runner per effective state", .supervisorRunnerHost)
struct TickEndToEndTests {
    @Test func runningChainIsLeftAlone() async throws {
        let host = try SharedRunnerHost.host()
        let extra = host.server.homeDirectory + "/fleet-tests/extra-\(UInt32.random(in: 0...UInt32.max))"
        try host.shell(
            "mkdir -p \(ShellQuote.quote(extra)) && cd \(ShellQuote.quote(extra)) && git init -q -b main && git -c user.email=t@t -c user.name=t commit -q --allow-empty -m x"
        )
        defer { _ = try? host.shell("rm -rf \(ShellQuote.quote(extra))") }
        let head = try host.shell("git -C \(ShellQuote.quote(extra)) rev-parse HEAD").trimmed
        let missing = "/nonexistent/extra-repo"
        try await withChain("running", extraYAML: "extra_repos:\n  - \(missing)\n  - \(extra)\n") { chain in
            try chain.project.startSession()
            try chain.writeState(firstPlanDone)
            let status = try await statusRead(chain)
            #expect(status.effectiveStatus == .running)
            #expect(status.runnerStatus == "alive")

            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_tick", status: .running, action: "noop", acted: false)
            #expect(commands == 1)
            #expect(
                tick["runner"] == [
                    "status": "alive", "session": .string(chain.session), "detail": "tmux session present",
                ])
            #expect(tick["sync"]?["sync_state"] == "clean")
            #expect(tick["pr"] == ["status": "none"])
            #expect(tick["logs"]?["workspace"] == .string(chain.workspace))
            #expect(
                tick["extra_repo_sync"]
                    == [
                        ["path": .string(missing), "status": "missing"],
                        [
                            "path": .string(extra), "branch_head": .string(head), "dirty": false,
                            "sync_state": "clean",
                        ],
                    ])
            #expect(chain.syncRefreshCalls() == [chain.expectedRefresh(extraRepos: [missing, extra])])
            #expect(chain.project.chainStarts().isEmpty)
            #expect(chain.project.sessionAlive())
            try expectPinned(chain)
        }
    }

    /// A spec no tick has parsed yet (a new chain, an edited spec) is read and validated first, in
    /// two commands; the ticks after it fold the refresh into one again. It runs once per tick.
    @Test func newOrEditedSpecCostsOneMoreCommand() async throws {
        try await withChain("new-spec") { chain in
            try chain.project.startSession()
            try chain.writeState(firstPlanDone)
            try FileManager.default.removeItem(atPath: SupervisorTick(reader: chain.reader).validatedSpecPath)
            var counts: [Int] = []
            for edit in [false, false, true, false] {
                if edit { try chain.project.write("chain.yaml", chainYAML() + "# edited\n") }
                let (tick, commands) = await chain.tick()
                #expect(tick.event == "supervisor_tick" && tick["sync_refresh"] == ["status": "ok"])
                counts.append(commands)
            }
            #expect(counts == [2, 1, 2, 1])
            #expect(chain.syncRefreshCalls().count == 4)
        }
    }

    /// When the runner cannot be sure to resolve the refresh as the client does (here two
    /// canonically equal spellings of one repository, which Swift merges and Python would not),
    /// it runs none, and the client runs its own in a second command.
    @Test func declinedFoldFallsBackToTheClientsRefresh() async throws {
        try await withChain("declined", extraYAML: "extra_repos:\n  - /srv/caf\u{E9}\n") { chain in
            try chain.project.startSession()
            var state = firstPlanDone
            state["extra_repos"] = ["/srv/cafe\u{301}"]
            try chain.writeState(state)
            let (tick, commands) = await chain.tick()
            #expect(tick.event == "supervisor_tick" && tick["sync_refresh"] == ["status": "ok"])
            #expect(commands == 2)
            let calls = chain.syncRefreshCalls()
            #expect(calls.count == 1)
            #expect(calls.first?["extra_repos"]?.arrayValue?.count == 1)
        }
    }

    @Test func completeChainIsDone() async throws {
        try await withChain("complete") { chain in
            try chain.writeState([
                "current_milestone_index": 3, "last_state": "done",
                "completed": [["label": "m1"], ["label": "m2"], ["label": "m3"]],
            ])
            #expect(try await statusRead(chain).effectiveStatus == .complete)
            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_tick", status: .complete, action: "done", acted: false)
            #expect(commands == 1)
            #expect(chain.syncRefreshCalls() == [chain.expectedRefresh()])
            #expect(chain.project.chainStarts().isEmpty)
            #expect(!chain.project.sessionAlive())
            try expectPinned(chain)
        }
    }

    @Test func staleWithDeadRunnerIsRestarted() async throws {
        try await withChain("stale-dead") { chain in
            try chain.writeState(["current_milestone_index": 1, "last_state": "done"])
            #expect(try await statusRead(chain).effectiveStatus == .staleBookkeeping)
            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_restarted", status: .staleBookkeeping, action: "restart",
                acted: true)
            #expect(commands == 2)
            #expect(tick["runner"]?["status"] == "dead")
            #expect(await chain.chainStarts() == [chain.expectedChainStart])
            #expect(chain.project.sessionAlive())
            #expect(chain.syncRefreshCalls() == [chain.expectedRefresh()])
            try expectPinned(chain)
        }
    }

    @Test func dirtyWorktreeWithLiveRunnerIsNotForced() async throws {
        try await withChain("dirty-alive") { chain in
            try chain.project.startSession()
            try chain.project.makeDirty()
            try chain.writeState([
                "current_milestone_index": 0, "current_plan_name": "plan-m1", "last_state": "done",
                "sync_state": "clean",
            ])
            // Before the refresh the state still says clean: rule 7.
            #expect(try await statusRead(chain).effectiveStatus == .running)
            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_blocked", status: .staleBookkeeping, action: "blocked",
                acted: false,
                reason:
                    "stale bookkeeping but runner status is 'alive'; supervisor will not force-restart a live runner"
            )
            #expect(commands == 1)
            #expect(tick["sync"]?["sync_state"] == "dirty")
            #expect(tick["sync"]?["dirty_flag"] == true)
            #expect(chain.project.chainStarts().isEmpty)
            #expect(chain.project.sessionAlive())
            try expectPinned(chain)
        }
    }

    @Test func dirtyWorktreeWithDeadRunnerIsRestarted() async throws {
        try await withChain("dirty-dead") { chain in
            try chain.project.makeDirty()
            try chain.writeState(firstPlanDone)
            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_restarted", status: .staleBookkeeping, action: "restart",
                acted: true)
            #expect(commands == 2)
            #expect(tick["sync"]?["sync_state"] == "dirty")
            #expect(await chain.chainStarts() == [chain.expectedChainStart])
            #expect(chain.project.sessionAlive())
        }
    }

    static let awaitingMerge: JSONObject = [
        "current_milestone_index": 0, "current_plan_name": "plan-m1", "last_state": "awaiting_pr_merge",
        "pr_number": 42, "pr_state": "awaiting_merge",
    ]

    @Test func openPullRequestBlocks() async throws {
        try await withChain("pr-open") { chain in
            try chain.writeState(Self.awaitingMerge)
            #expect(try await statusRead(chain).effectiveStatus == .awaitingPRMerge)
            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_blocked", status: .awaitingPRMerge, action: "blocked",
                acted: false,
                reason: "awaiting PR merge (PR #42 state=open); \(prWaitSuffix)")
            #expect(commands == 1)
            #expect(tick["pr"] == ["pr_number": 42, "pr_state": "awaiting_merge"])
            #expect(chain.syncRefreshCalls() == [chain.expectedRefresh(prNumber: 42)])
            let gh = FileSystem.readText(chain.workspace + "/.stub/gh_calls.log") ?? ""
            #expect(gh == "gh pr view 42 --json state --jq .state\n")
            #expect(chain.project.chainStarts().isEmpty)
            try expectPinned(chain)
        }
    }

    @Test func mergedPullRequestAdvances() async throws {
        try await withChain("pr-merged") { chain in
            try chain.writeState(Self.awaitingMerge)
            try chain.project.stub("pr_state", "MERGED\n")
            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_advanced", status: .awaitingPRMerge, action: "advance",
                acted: true)
            #expect(commands == 2)
            #expect(chain.syncRefreshCalls() == [chain.expectedRefresh(prNumber: 42)])
            #expect(await chain.chainStarts() == [chain.expectedChainStart])
            #expect(chain.project.sessionAlive())
        }
    }

    @Test func qualityGateFromTheChainSpec() async throws {
        try await withChain("gate-spec", chainYAML: chainYAML(["m1", "m2"], "validation_policy: required\n"))
        { chain in
            try chain.writeState(["current_milestone_index": 0, "current_plan_name": "plan-m1"])
            let status = try await statusRead(chain)
            #expect(status.payload["policy"]?["source"] == "chain_yaml")
            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_blocked", status: .qualityGate, action: "blocked",
                acted: false,
                reason: qualityGateReason)
            #expect(commands == 1)
            #expect(chain.project.chainStarts().isEmpty)
        }
    }

    @Test func qualityGateFromTheRuntimePolicy() async throws {
        try await withChain("gate-runtime") { chain in
            try chain.writeState(["current_milestone_index": 0, "current_plan_name": "plan-m1"])
            try chain.writeRuntimePolicy(["validation_policy": "required"])
            let status = try await statusRead(chain)
            #expect(
                status.payload["policy"]
                    == [
                        "prerequisite_policy": "none", "validation_policy": "required",
                        "review_policy": ["clean_milestone_pr": "auto"], "source": "runtime_override",
                    ])
            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_blocked", status: .qualityGate, action: "blocked",
                acted: false,
                reason: qualityGateReason)
            #expect(commands == 1)
            #expect(chain.project.chainStarts().isEmpty)
        }
    }

    @Test func humanPrerequisiteBlocks() async throws {
        try await withChain("prereq", chainYAML: chainYAML(["m1"], "prerequisite_policy: required\n")) {
            chain in
            try chain.writeState(["current_milestone_index": 0, "current_plan_name": "plan-m1"])
            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_blocked", status: .humanPrerequisite, action: "blocked",
                acted: false,
                reason: humanPrerequisiteReason)
            #expect(commands == 1)
            // §6.1d: the verification facts are fresh (the stand-in's default: one pending).
            #expect(tick["human_verification"]?["status"] == "available")
            #expect(tick["human_verification"]?["pending"] == 1)
            #expect(chain.project.chainStarts().isEmpty)
        }
    }

    @Test(arguments: [false, true])
    func pendingHumanVerificationBlocks(runnerAlive: Bool) async throws {
        try await withChain("hv-pending") { chain in
            if runnerAlive { try chain.project.startSession() }
            try chain.writeState(["current_milestone_index": 0, "current_plan_name": "plan-m1"])
            try chain.project.stub("status.json", pendingStatusJSON)
            try chain.project.stub("verify.json", verifyJSON(pending: 2, verified: 1, all: false))
            #expect(try await statusRead(chain).effectiveStatus == .awaitingHumanVerify)
            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_blocked", status: .awaitingHumanVerify, action: "blocked",
                acted: false,
                reason:
                    "awaiting human verification: 2 pending, 1 verified of deferred-must criteria; latest-verdict semantics require a 'pass' verdict on every criterion before the chain can wake"
            )
            #expect(commands == 1)
            #expect(
                tick["human_verification"]
                    == [
                        "status": "available", "pending": 2, "verified": 1,
                        "all_deferred_must_verified": false,
                        "rows": [], "semantics": "latest_verdict",
                    ])
            #expect(chain.project.chainStarts().isEmpty)
            #expect(chain.project.sessionAlive() == runnerAlive)
        }
    }

    @Test func allVerifiedWithDeadRunnerWakes() async throws {
        try await withChain("hv-verified") { chain in
            try chain.writeState(["current_milestone_index": 0, "current_plan_name": "plan-m1"])
            try chain.project.stub("status.json", pendingStatusJSON)
            try chain.project.stub("verify.json", verifyJSON(pending: 0, verified: 3, all: true))
            // Rule 3 with every criterion verified and no runner: stale bookkeeping → restart.
            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_restarted", status: .staleBookkeeping, action: "restart",
                acted: true)
            #expect(commands == 2)
            #expect(tick["human_verification"]?["all_deferred_must_verified"] == true)
            #expect(await chain.chainStarts() == [chain.expectedChainStart])
            #expect(chain.project.sessionAlive())
        }
    }

    @Test func allVerifiedWithLiveRunnerRuns() async throws {
        try await withChain("hv-live") { chain in
            try chain.project.startSession()
            try chain.writeState(["current_milestone_index": 0, "current_plan_name": "plan-m1"])
            try chain.project.stub("status.json", pendingStatusJSON)
            try chain.project.stub("verify.json", verifyJSON(pending: 0, verified: 3, all: true))
            let (tick, commands) = await chain.tick()
            expectReport(
                tick, chain, event: "supervisor_tick", status: .running, action: "noop", acted: false)
            #expect(commands == 1)
            #expect(chain.project.chainStarts().isEmpty)
        }
    }

    /// §6.6: a restart tick issues exactly the status read (with the §6.4 refresh, the re-read and
    /// the PR probe in the same command) and the §6.5 restart, and nothing else.
    @Test func commandsOfAnAdvancingTick() async throws {
        let recorder = CommandRecorder()
        try await withChain("commands", wrap: intercepting(before: recorder.before, after: recorder.after)) {
            chain in
            try chain.writeState(Self.awaitingMerge)
            try chain.project.stub("pr_state", "merged\n")
            let (tick, commands) = await chain.tick()
            #expect(tick.event == "supervisor_advanced")
            #expect(commands == 2)
            let issued = recorder.all
            try #require(issued.count == 2 && recorder.answers.count == 2)
            let read = try #require(observationArguments(issued[0]))
            #expect(read["spec"] == .string(chain.spec))
            #expect(read["refresh"] == .null)
            #expect(
                read["fold"]
                    == [
                        "before": [], "after": [],
                        "spec_sha256": .string(
                            Digest.sha256Hex(try #require(FileSystem.readText(chain.spec)))),
                    ])
            let answer = try ObservationResult.decode(recorder.answers[0], host: "runner")
            #expect(
                answer.refresh?.command
                    == RemoteCommands.syncRefresh(
                        workspace: chain.workspace, spec: chain.spec, branch: nil, prNumber: 42,
                        extraRepos: nil,
                        resolvedWorkspace: chain.workspace, session: chain.session))
            #expect(
                answer.observation?.pullRequest == nil && answer.reread?.pullRequest?.stdout == "merged\n")
            #expect(chain.syncRefreshCalls() == [chain.expectedRefresh(prNumber: 42)])
            #expect(
                issued[1]
                    == RemoteCommands.tmuxRestart(
                        workspace: chain.workspace, spec: chain.spec, session: chain.session))
            // What ran: the commands issued (the script's text names the state key
            // `last_pushed_commit`, which is not a push) and the refresh the script ran.
            let ran =
                issued.map { $0.replacingOccurrences(of: "last_pushed_commit", with: "") }
                + issued.compactMap({ observationArguments($0)?.serialized() }) + [
                    answer.refresh?.command ?? ""
                ]
            for command in ran {
                for forbidden in [
                    "push", "reset", "pr merge", "branch -D", "branch -d", "verify-human --set",
                ] {
                    #expect(!command.contains(forbidden), "\(forbidden)")
                }
            }
        }
    }

    /// The decision table's wake row: the status read saw pending criteria, the refresh failed
    /// (so no re-read), and the §6.1d verification refresh finds them all verified.
    @Test func wakeAfterTheVerificationRefresh() async throws {
        let flip = FlipOnVerify()
        try await withChain("hv-wake", wrap: intercepting(before: flip.before)) { chain in
            flip.project.withLock { $0 = chain.project }
            try chain.writeState(["current_milestone_index": 0, "current_plan_name": "plan-m1"])
            try chain.project.stub("status.json", pendingStatusJSON)
            try chain.project.stub("verify.json", verifyJSON(pending: 1, verified: 2, all: false))
            try chain.project.stub("refresh_fail", "")
            let (tick, commands) = await chain.tick()
            #expect(tick["sync_refresh"]?["status"] == "failed")
            #expect(tick.event == "supervisor_restarted" && tick.nextAction == "restart" && tick.acted)
            #expect(tick["effective_status"] == "awaiting_human_verify")
            #expect(tick["human_verification"]?["all_deferred_must_verified"] == true)
            #expect(commands == 3)
            #expect(flip.flipped.withLock { $0 })
            #expect(await chain.chainStarts() == [chain.expectedChainStart])
        }
    }
}

/// Rewrites the verify-human answer to "all verified" just before the standalone §6.1d probe.
final class FlipOnVerify: Sendable {
    let project = Locked<TestProject?>(nil)
    let flipped = Locked(false)

    var before: @Sendable (String) -> FleetError? {
        { [self] command in
            if !isObservation(command), command.contains("megaplan verify-human"),
                let project = project.withLock({ $0 })
            {
                try? project.stub("verify.json", verifyJSON(pending: 0, verified: 3, all: true))
                flipped.withLock { $0 = true }
            }
            return nil
        }
    }
}
