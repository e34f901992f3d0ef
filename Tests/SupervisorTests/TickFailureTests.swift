import FleetCore
import Foundation
import TestSupport
import Testing
import Transport

@testable import RunnerProtocol
@testable import Supervisor

/// The §6.1a report: exactly these 11 keys and values, with the given reason.
func expectReadFailure(
    _ tick: TickReport, reason: String, kind: FleetError.Kind,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let expected: JSONObject = [
        "success": false, "event": "supervisor_error", "spec": "", "effective_status": "unknown",
        "next_action": "none", "acted": false,
        "refused_reason": .string("chain status read failed: " + reason),
        "runner": [:], "sync": [:], "pr": [:], "logs": [:],
    ]
    #expect(tick.keys == errorReportKeys, sourceLocation: sourceLocation)
    #expect(
        JSONValue.object(tick.report).serialized() == JSONValue.object(expected).serialized(),
        sourceLocation: sourceLocation)
    #expect(!tick.success && !tick.acted && !tick.skipped, sourceLocation: sourceLocation)
    #expect(tick.effectiveStatus == .unknown, sourceLocation: sourceLocation)
    #expect(tick.errorKind == kind, sourceLocation: sourceLocation)
    #expect(
        tick.summaryLine
            == "supervisor tick: supervisor_error | acted=False | next_action=none | refused_reason=chain status read failed: \(reason)",
        sourceLocation: sourceLocation)
}

/// A plan with a clean recorded sync and a dead runner: `running` by rule 7 until a refresh sees
/// the dirty worktree, which makes it `stale_bookkeeping`.
let cleanPlan: JSONObject = [
    "current_milestone_index": 0, "current_plan_name": "plan-m1", "last_state": "done", "sync_state": "clean",
    "dirty_flag": false,
]

/// Replaces the re-read part of the refresh command's answer with an unreadable state.
@Sendable func breakReRead(_ command: String, _ output: RunnerOutput) -> RunnerOutput {
    guard isObservation(command),
        let line = output.stdout.split(separator: "\n").last(where: {
            $0.hasPrefix(ObservationScript.resultPrefix)
        }),
        case .object(var result)? = try? JSONValue.parse(
            String(line.dropFirst(ObservationScript.resultPrefix.count)))
    else { return output }
    guard result["reread"] != nil else { return output }
    result["reread"] = ["state": ["error": "cat: state: Input/output error (injected)"]]
    var broken = output
    broken.stdout = ObservationScript.resultPrefix + JSONValue.object(result).serialized() + "\n"
    return broken
}

let injectedRestartError = FleetError(.providerFailed, "tmux: server exited unexpectedly (injected)")

/// A restart that fails, on the three rows of §6.2 that restart.
struct RestartFailureCase: Sendable, CustomTestStringConvertible {
    let name: String
    let status: String
    let prefix: String
    let commands: Int
    var testDescription: String { name }
}

@Suite("Supervisor tick failure paths", .supervisorRunnerHost)
struct TickFailureTests {
    @Test func statusReadFailsWithoutState() async throws {
        try await withChain("no-state") { chain in
            let (tick, commands) = await chain.tick()
            expectReadFailure(
                tick, reason: "cat: \(ChainPaths.stateFile(spec: chain.spec)): No such file or directory",
                kind: .remoteError)
            #expect(commands == 1)
            #expect(chain.syncRefreshCalls().isEmpty)
            #expect(chain.project.chainStarts().isEmpty)
            await #expect(throws: FleetError.self) { try await chain.reader.read() }
        }
    }

    @Test func statusReadFailsWithInvalidStateOrSpec() async throws {
        try await withChain("bad-state") { chain in
            try chain.project.write(
                String(ChainPaths.stateFile(spec: chain.spec).dropFirst(chain.workspace.count + 1)),
                "{not json\n")
            var (tick, commands) = await chain.tick()
            #expect(tick.keys == errorReportKeys)
            #expect(
                tick.refusedReason?.hasPrefix(
                    "chain status read failed: Remote chain state was not valid JSON: ") == true)
            #expect(tick.errorKind == .remoteError)
            #expect(commands == 1)

            try chain.writeState(["current_milestone_index": 0])
            try chain.project.write("chain.yaml", "milestones: 5\n")
            (tick, commands) = await chain.tick()
            #expect(tick.keys == errorReportKeys)
            #expect(tick.refusedReason?.hasPrefix("chain status read failed: ") == true)
            #expect(tick.errorKind == .invalidConfig)
            #expect(commands == 1)
            #expect(chain.syncRefreshCalls().isEmpty)
        }
    }

    @Test func missingRemoteSpecIsAReadFailure() async throws {
        try await withChain("no-spec") { chain in
            var text = try #require(FileSystem.readText(chain.project.cloudYAMLPath))
            text = text.replacingOccurrences(of: "mode: chain\n", with: "mode: idle\n")
            text = text.replacingOccurrences(
                of: "chain:\n  spec: \(chain.spec)\n  chain_session: \(chain.session)\n", with: "")
            try FileSystem.writeAtomically(chain.project.cloudYAMLPath, text: text)
            let cloud = try CloudSpec.load(path: chain.project.cloudYAMLPath)
            #expect(cloud.mode == .idle)
            let reader = ChainStatusReader(cloud: cloud, runner: chain.runner, home: chain.project.home)
            let before = chain.runner.commandCount
            let tick = await SupervisorTick(reader: reader).run()
            expectReadFailure(
                tick,
                reason:
                    "Unable to locate remote chain spec. Pass --remote-spec <path>, run `cloud chain <spec>` first, or set mode: chain in cloud.yaml.",
                kind: .invalidConfig)
            #expect(chain.runner.commandCount == before)
        }
    }

    @Test func refreshFailureDecidesOnInitialData() async throws {
        try await withChain("refresh-fail") { chain in
            try chain.writeState(cleanPlan)
            try chain.project.makeDirty()
            try chain.project.stub("refresh_fail", "")
            let before = chain.stateText()
            let (tick, commands) = await chain.tick()
            #expect(tick.keys == reportKeys)
            let refresh = try #require(tick["sync_refresh"]?.objectValue)
            #expect(refresh.keys == ["status", "reason"])
            #expect(refresh["status"] == "failed")
            #expect(
                refresh["reason"]?.stringValue?.contains("RuntimeError: sync refresh failed (stub)") == true)
            // The initial read said running (clean sync recorded); without a re-read that stands.
            #expect(
                tick.event == "supervisor_tick" && tick.nextAction == "noop" && tick.success && !tick.acted)
            #expect(tick["effective_status"] == "running")
            #expect(tick["sync"]?["sync_state"] == "clean")
            #expect(commands == 1)
            // The refresh was attempted with the §6.4 arguments, and wrote nothing.
            #expect(chain.syncRefreshCalls() == [chain.expectedRefresh()])
            #expect(chain.stateText() == before)
            #expect(chain.project.chainStarts().isEmpty)
        }
    }

    @Test func refreshFailureStillRestartsAStaleChain() async throws {
        try await withChain("refresh-fail-stale") { chain in
            try chain.writeState(["current_milestone_index": 1])
            try chain.project.stub("refresh_fail", "")
            let (tick, commands) = await chain.tick()
            #expect(tick["sync_refresh"]?["status"] == "failed")
            #expect(tick.event == "supervisor_restarted" && tick.acted)
            #expect(commands == 2)
            #expect(await chain.chainStarts() == [chain.expectedChainStart])
            let state = try chain.project.readState()
            #expect(state["resolved_workspace"] == nil)
        }
    }

    @Test func reReadFailureKeepsTheInitialData() async throws {
        try await withChain("reread-fail", wrap: intercepting(after: breakReRead)) { chain in
            try chain.writeState(cleanPlan)
            try chain.project.makeDirty()
            let (tick, commands) = await chain.tick()
            #expect(tick.keys == reportKeys)
            #expect(tick["sync_refresh"] == ["status": "ok", "re_read": "failed"])
            #expect(tick.event == "supervisor_tick" && tick.nextAction == "noop" && tick.success)
            #expect(tick["effective_status"] == "running")
            #expect(tick["sync"]?["sync_state"] == "clean")
            #expect(commands == 1)
            // The refresh itself ran: the state now records the dirty worktree and is pinned.
            let state = try chain.project.readState()
            #expect(state["sync_state"] == "dirty")
            try expectPinned(chain)
            #expect(chain.project.chainStarts().isEmpty)
        }
    }

    static let restartFailures = [
        RestartFailureCase(
            name: "stale bookkeeping", status: "stale_bookkeeping",
            prefix: "stale bookkeeping restart failed",
            commands: 2),
        RestartFailureCase(
            name: "PR merged", status: "awaiting_pr_merge", prefix: "PR merged but restart failed",
            commands: 2),
        RestartFailureCase(
            name: "human verification wake", status: "awaiting_human_verify",
            prefix: "all human-verification criteria satisfied but wake restart failed", commands: 3),
    ]

    @Test(arguments: restartFailures)
    func restartFailure(_ row: RestartFailureCase) async throws {
        let flip = FlipOnVerify()
        let before: @Sendable (String) -> FleetError? = { command in
            if isRestart(command) { return injectedRestartError }
            return flip.before(command)
        }
        try await withChain("restart-fail", wrap: intercepting(before: before)) { chain in
            flip.project.withLock { $0 = chain.project }
            switch row.status {
            case "stale_bookkeeping":
                try chain.writeState(["current_milestone_index": 1])
            case "awaiting_pr_merge":
                try chain.writeState(TickEndToEndTests.awaitingMerge)
                try chain.project.stub("pr_state", "MERGED\n")
            default:
                try chain.writeState(["current_milestone_index": 0, "current_plan_name": "plan-m1"])
                try chain.project.stub("status.json", pendingStatusJSON)
                try chain.project.stub("verify.json", verifyJSON(pending: 1, verified: 0, all: false))
                try chain.project.stub("refresh_fail", "")
            }
            let (tick, commands) = await chain.tick()
            let reason = "\(row.prefix): tmux: server exited unexpectedly (injected)"
            #expect(tick.keys == reportKeys)
            #expect(tick["success"] == false && !tick.success)
            #expect(tick.errorKind == .restartFailed)
            #expect(tick.event == "supervisor_error" && tick.nextAction == "blocked")
            #expect(tick["acted"] == false && !tick.acted)
            #expect(tick["effective_status"] == .string(row.status))
            #expect(tick.refusedReason == reason)
            #expect(tick.summaryLine == summaryLine("supervisor_error", acted: false, "blocked", reason))
            #expect(commands == row.commands)
            #expect(chain.project.chainStarts().isEmpty)
            #expect(!chain.project.sessionAlive())
        }
    }

    @Test func unreachableHost() async throws {
        let host = try RunnerHost()
        defer { host.server.kill() }
        try await withChain("unreachable", host: host) { chain in
            try chain.writeState(["current_milestone_index": 1])
            host.server.stop()
            let (tick, commands) = await chain.tick()
            #expect(tick.keys == errorReportKeys)
            #expect(tick.event == "supervisor_error" && !tick.success && !tick.acted)
            #expect(tick.errorKind == .unreachable)
            #expect(tick.refusedReason?.hasPrefix("chain status read failed: ") == true)
            #expect(commands == 1)
            let error = await #expect(throws: FleetError.self) { try await chain.reader.read() }
            #expect(error?.kind == .unreachable)
        }
    }
}
