import FleetCore
import RunnerProtocol
import Testing
import Transport

@testable import Supervisor

/// One row of the §6.2 table: the decision and the report fields for a successful mutation and,
/// when the row mutates, for a failed one.
struct DecideCase: Sendable, CustomTestStringConvertible {
    let name: String
    let input: DecisionInput
    let mutation: Mutation?
    let ok: DecisionOutcome
    /// The outcome when the restart raises `boom`; nil for rows without a mutation.
    let failed: DecisionOutcome?
    var testDescription: String { name }
}

private func outcome(
    _ event: SupervisorEvent, _ action: String, acted: Bool = false, success: Bool = true,
    _ reason: String? = nil
) -> DecisionOutcome {
    DecisionOutcome(event: event, nextAction: action, acted: acted, success: success, reason: reason)
}

private func row(_ name: String, _ input: DecisionInput, _ ok: DecisionOutcome) -> DecideCase {
    DecideCase(name: name, input: input, mutation: nil, ok: ok, failed: nil)
}

private func blocked(_ name: String, _ input: DecisionInput, _ reason: String) -> DecideCase {
    row(name, input, outcome(.blocked, "blocked", reason))
}

private let restarted = outcome(.restarted, "restart", acted: true)
private let advanced = outcome(.advanced, "advance", acted: true)
private func restartFailed(_ reason: String) -> DecisionOutcome {
    outcome(.error, "blocked", success: false, reason)
}

private let prWait = "supervisor will not advance until PR is merged"
private let wakeRule =
    "latest-verdict semantics require a 'pass' verdict on every criterion before the chain can wake"
private let allVerified = facts(all: true, pending: 0, verified: 2)

@Suite("§6.2 decision table")
struct DecisionTests {
    static let cases: [DecideCase] = [
        // Provider mismatch gate, whatever the status.
        blocked(
            "mismatch while running",
            DecisionInput(
                status: .running, consistencyStatus: "mismatch", consistencyReason: "why",
                runnerStatus: "alive"),
            "provider consistency mismatch: why"),
        blocked(
            "mismatch beats a restart",
            DecisionInput(
                status: .staleBookkeeping, consistencyStatus: "mismatch",
                consistencyReason: "marker was written for provider 'ssh' but spec declares 'railway'",
                runnerStatus: "dead"),
            "provider consistency mismatch: marker was written for provider 'ssh' but spec declares 'railway'"
        ),
        blocked(
            "mismatch beats complete",
            DecisionInput(status: .complete, consistencyStatus: "mismatch", consistencyReason: "x"),
            "provider consistency mismatch: x"),
        row(
            "consistent running", DecisionInput(status: .running, consistencyStatus: "consistent"),
            outcome(.tick, "noop")),
        row(
            "not_applicable running", DecisionInput(status: .running, consistencyStatus: "not_applicable"),
            outcome(.tick, "noop")),
        // running / complete.
        row(
            "running", DecisionInput(status: .running, runnerStatus: "dead"),
            outcome(.tick, "noop")),
        row(
            "complete", DecisionInput(status: .complete, runnerStatus: "dead"),
            outcome(.tick, "done")),
        // Policies.
        blocked(
            "human_prerequisite", DecisionInput(status: .humanPrerequisite, runnerStatus: "dead"),
            humanPrerequisiteReason),
        blocked("quality_gate", DecisionInput(status: .qualityGate, runnerStatus: "dead"), qualityGateReason),
        // awaiting_pr_merge.
        DecideCase(
            name: "PR merged → advance",
            input: DecisionInput(status: .awaitingPRMerge, prNumber: 42, prProbe: "merged"),
            mutation: .advance, ok: advanced, failed: restartFailed("PR merged but restart failed: boom")),
        blocked(
            "PR open",
            DecisionInput(status: .awaitingPRMerge, runnerStatus: "alive", prNumber: 42, prProbe: "open"),
            "awaiting PR merge (PR #42 state=open); \(prWait)"),
        blocked(
            "PR closed", DecisionInput(status: .awaitingPRMerge, prNumber: 7, prProbe: "closed"),
            "awaiting PR merge (PR #7 state=closed); \(prWait)"),
        blocked(
            "PR probe raised", DecisionInput(status: .awaitingPRMerge, prNumber: 42, prProbe: nil),
            "awaiting PR merge (PR #42 state=unknown); \(prWait)"),
        blocked(
            "PR probe said unknown",
            DecisionInput(status: .awaitingPRMerge, prNumber: 42, prProbe: "unknown"),
            "awaiting PR merge (PR #42 state=unknown); \(prWait)"),
        blocked(
            "no PR number", DecisionInput(status: .awaitingPRMerge, prNumber: nil, prProbe: "merged"),
            "awaiting PR merge (PR #None state=unknown); \(prWait)"),
        blocked(
            "PR merged but no exec",
            DecisionInput(status: .awaitingPRMerge, canExec: false, prNumber: 42, prProbe: "merged"),
            "awaiting PR merge (PR #42 state=unknown); \(prWait)"),
        // stale_bookkeeping.
        DecideCase(
            name: "stale, runner dead → restart",
            input: DecisionInput(status: .staleBookkeeping, runnerStatus: "dead"),
            mutation: .restart, ok: restarted, failed: restartFailed("stale bookkeeping restart failed: boom")
        ),
        DecideCase(
            name: "stale, runner unavailable → restart",
            input: DecisionInput(status: .staleBookkeeping, runnerStatus: "unavailable"),
            mutation: .restart, ok: restarted, failed: restartFailed("stale bookkeeping restart failed: boom")
        ),
        DecideCase(
            name: "stale, runner status missing → restart",
            input: DecisionInput(status: .staleBookkeeping, runnerStatus: nil),
            mutation: .restart, ok: restarted, failed: restartFailed("stale bookkeeping restart failed: boom")
        ),
        blocked(
            "stale, no exec", DecisionInput(status: .staleBookkeeping, runnerStatus: "dead", canExec: false),
            "stale bookkeeping but provider lacks ssh_exec; cannot restart runner"),
        blocked(
            "stale, no exec, alive",
            DecisionInput(status: .staleBookkeeping, runnerStatus: "alive", canExec: false),
            "stale bookkeeping but provider lacks ssh_exec; cannot restart runner"),
        blocked(
            "stale, runner alive", DecisionInput(status: .staleBookkeeping, runnerStatus: "alive"),
            "stale bookkeeping but runner status is 'alive'; supervisor will not force-restart a live runner"),
        blocked(
            "stale, runner unknown", DecisionInput(status: .staleBookkeeping, runnerStatus: "unknown"),
            "stale bookkeeping but runner status is 'unknown'; supervisor will not force-restart a live runner"
        ),
        // awaiting_human_verify.
        blocked(
            "HV facts missing",
            DecisionInput(status: .awaitingHumanVerify, runnerStatus: "dead", humanVerification: nil),
            "awaiting human verification but verification facts are unavailable: unknown"),
        blocked(
            "HV facts unavailable with a reason",
            DecisionInput(
                status: .awaitingHumanVerify, runnerStatus: "dead",
                humanVerification: facts("unavailable", semantics: nil, reason: "empty stdout")),
            "awaiting human verification but verification facts are unavailable: empty stdout"),
        blocked(
            "HV facts unavailable without a reason",
            DecisionInput(
                status: .awaitingHumanVerify,
                humanVerification: facts("unavailable", semantics: nil, reason: nil)),
            "awaiting human verification but verification facts are unavailable: unknown"),
        blocked(
            "HV criteria pending",
            DecisionInput(
                status: .awaitingHumanVerify, runnerStatus: "dead",
                humanVerification: facts(all: false, pending: 2, verified: 1)),
            "awaiting human verification: 2 pending, 1 verified of deferred-must criteria; \(wakeRule)"),
        blocked(
            "HV counts default to 0",
            DecisionInput(
                status: .awaitingHumanVerify, runnerStatus: "alive", humanVerification: facts(all: false)),
            "awaiting human verification: 0 pending, 0 verified of deferred-must criteria; \(wakeRule)"),
        DecideCase(
            name: "HV all verified, runner dead → wake",
            input: DecisionInput(
                status: .awaitingHumanVerify, runnerStatus: "dead", humanVerification: allVerified),
            mutation: .wake, ok: restarted,
            failed: restartFailed(
                "all human-verification criteria satisfied but wake restart failed: boom")),
        DecideCase(
            name: "HV all verified, runner unavailable → wake",
            input: DecisionInput(
                status: .awaitingHumanVerify, runnerStatus: "unavailable", humanVerification: allVerified),
            mutation: .wake, ok: restarted,
            failed: restartFailed(
                "all human-verification criteria satisfied but wake restart failed: boom")),
        blocked(
            "HV all verified, no exec",
            DecisionInput(
                status: .awaitingHumanVerify, runnerStatus: "dead", canExec: false,
                humanVerification: allVerified),
            "all human-verification criteria satisfied but provider lacks ssh_exec; cannot wake runner"),
        row(
            "HV all verified, runner alive",
            DecisionInput(
                status: .awaitingHumanVerify, runnerStatus: "alive", humanVerification: allVerified),
            outcome(.tick, "noop")),
        row(
            "HV all verified, runner unknown",
            DecisionInput(
                status: .awaitingHumanVerify, runnerStatus: "unknown", humanVerification: allVerified),
            outcome(.tick, "noop")),
        // Anything else.
        row(
            "unknown effective status", DecisionInput(status: .unknown, runnerStatus: "dead"),
            outcome(.tick, "noop", "unknown effective_status: unknown")),
    ]

    @Test(arguments: cases)
    func decide(_ row: DecideCase) {
        let decision = DecisionTable.decide(row.input)
        #expect(decision.mutation == row.mutation)
        #expect(decision.outcome(restartError: nil) == row.ok)
        if let failed = row.failed {
            #expect(decision.outcome(restartError: "boom") == failed)
            // Before the mutation ran (dry run): a dry-run event with the decided action, not acted.
            #expect(decision.unperformed == outcome(.dryRun, row.ok.nextAction, acted: false))
        } else {
            // Without a mutation a restart error cannot change anything.
            #expect(decision.outcome(restartError: "boom") == row.ok)
            #expect(decision.unperformed == row.ok)
        }
    }

    @Test func everyEffectiveStatusHasARow() {
        for status in EffectiveStatus.allCases {
            let decision = DecisionTable.decide(DecisionInput(status: status, runnerStatus: "dead"))
            #expect(!decision.nextAction.isEmpty)
        }
    }
}

@Suite("§6.4/§6.5 the supervisor's remote mutations")
struct SupervisorCommandTests {
    @Test func syncRefreshExample() {
        #expect(
            RemoteCommands.syncRefresh(
                workspace: "/workspace/app", spec: "/workspace/app/chain.yaml", branch: nil, prNumber: nil,
                extraRepos: nil, resolvedWorkspace: "/workspace/app", session: "megaplan-chain")
                == #"cd /workspace/app && python3 -c 'from megaplan.chain import _capture_sync_state, ChainState, save_chain_state, load_chain_state; from pathlib import Path; _capture_sync_state(Path("/workspace/app"), Path("/workspace/app/chain.yaml"), branch=None, pr_number=None, extra_repos=None); s = load_chain_state(Path("/workspace/app/chain.yaml")); s.resolved_workspace = "/workspace/app"; s.chain_session = "megaplan-chain"; save_chain_state(Path("/workspace/app/chain.yaml"), s)'"#
        )
        #expect(
            RemoteCommands.syncRefresh(
                workspace: "/w", spec: "/w/c.yaml", branch: nil, prNumber: 42, extraRepos: ["/a", "/b c"],
                resolvedWorkspace: "/w", session: "s"
            )
            .contains(#"pr_number=42, extra_repos=["/a", "/b c"]); s = load_chain_state"#))
    }

    @Test func restartExample() {
        #expect(
            RemoteCommands.tmuxRestart(
                workspace: "/workspace/app", spec: "/workspace/app/chain.yaml", session: "megaplan-chain")
                == "mkdir -p /workspace/app/.megaplan && tmux kill-session -t megaplan-chain 2>/dev/null; tmux new-session -d -s megaplan-chain -c /workspace/app 'MEGAPLAN_TRUSTED_CONTAINER=1 megaplan chain start --spec /workspace/app/chain.yaml --one >> .megaplan/cloud-chain.log 2>&1'; echo 'restarted megaplan-chain session'"
        )
    }
}
