import BenchSupport
import FleetCore
import Foundation
import RunnerProtocol
import TestSupport
import Testing
import Transport

@testable import Supervisor

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Supervisor tick: dry run and the per-chain lock", .supervisorRunnerHost)
struct DryRunAndLockTests {
    @Test func dryRunOnAStaleChainChangesNothing() async throws {
        try await withChain("dry-stale") { chain in
            try chain.writeState(["current_milestone_index": 1])
            let before = try #require(chain.stateText())
            let (tick, commands) = await chain.tick(dryRun: true)
            #expect(tick.keys == reportKeys + ["dry_run", "would_act", "would_run"])
            #expect(tick["acted"] == false && !tick.acted && tick.success)
            #expect(tick.event == "supervisor_dry_run" && tick.nextAction == "restart")
            #expect(tick["effective_status"] == "stale_bookkeeping")
            #expect(tick["refused_reason"] == .null)
            #expect(tick["dry_run"] == true)
            #expect(tick["would_act"] == true)
            #expect(
                tick["would_run"]
                    == .string(
                        RemoteCommands.tmuxRestart(
                            workspace: chain.workspace, spec: chain.spec, session: chain.session)))
            #expect(
                tick["would_run"]?.stringValue
                    == "mkdir -p \(chain.workspace)/.megaplan && tmux kill-session -t \(chain.session) 2>/dev/null; tmux new-session -d -s \(chain.session) -c \(chain.workspace) 'MEGAPLAN_TRUSTED_CONTAINER=1 megaplan chain start --spec \(chain.spec) --one >> .megaplan/cloud-chain.log 2>&1'; echo 'restarted \(chain.session) session'"
            )
            #expect(tick["sync_refresh"] == ["status": "skipped", "reason": "dry run"])
            #expect(
                tick.summaryLine
                    == "supervisor tick: supervisor_dry_run | acted=False | next_action=restart")
            #expect(commands == 1)
            // Nothing reached the runner but the read.
            try await Task.sleep(for: .milliseconds(300))
            #expect(chain.project.chainStarts().isEmpty)
            #expect(chain.syncRefreshCalls().isEmpty)
            #expect(!chain.project.sessionAlive())
            #expect(chain.stateText() == before)
        }
    }

    @Test func dryRunOnARunningChainWouldNotAct() async throws {
        try await withChain("dry-running") { chain in
            try chain.project.startSession()
            try chain.writeState(["current_milestone_index": 0, "current_plan_name": "plan-m1"])
            let (tick, commands) = await chain.tick(dryRun: true)
            #expect(tick.event == "supervisor_tick" && tick.nextAction == "noop" && !tick.acted)
            #expect(tick["would_act"] == false && tick["would_run"] == .null && tick["dry_run"] == true)
            #expect(commands == 1)
            #expect(chain.syncRefreshCalls().isEmpty)
        }
    }

    @Test func dryRunProbesTheMergedPullRequestButDoesNotAdvance() async throws {
        try await withChain("dry-merged") { chain in
            try chain.writeState(TickEndToEndTests.awaitingMerge)
            try chain.project.stub("pr_state", "MERGED\n")
            let (tick, commands) = await chain.tick(dryRun: true)
            #expect(tick.event == "supervisor_dry_run" && tick.nextAction == "advance" && !tick.acted)
            #expect(tick["would_act"] == true)
            // Read + PR probe; both read-only.
            #expect(commands == 2)
            #expect(chain.project.chainStarts().isEmpty)
            #expect(chain.syncRefreshCalls().isEmpty)
        }
    }

    @Test func concurrentTicksActOnce() async throws {
        try await withChain("lock-race") { chain in
            try chain.writeState(["current_milestone_index": 1])
            async let first = SupervisorTick(reader: chain.reader).run()
            async let second = SupervisorTick(reader: chain.reader).run()
            let reports = await [first, second]
            let skipped = reports.filter(\.skipped)
            let acted = reports.filter(\.acted)
            #expect(skipped.count == 1)
            #expect(acted.count == 1)
            #expect(skipped.first?.event == "supervisor_skipped")
            #expect(skipped.first?["event"] == "supervisor_skipped")
            #expect(skipped.first?.success == true)
            #expect(acted.first?.event == "supervisor_restarted")
            #expect(await chain.chainStarts() == [chain.expectedChainStart])
            try await Task.sleep(for: .milliseconds(300))
            #expect(chain.project.chainStarts().count == 1)
            // The lock was released: the next tick runs (and finds the new runner alive).
            let (next, _) = await chain.tick()
            #expect(!next.skipped)
            #expect(next.event == "supervisor_tick" && next["runner"]?["status"] == "alive")
        }
    }

    @Test func aKilledHolderLeavesNoLock() async throws {
        try await withChain("lock-kill") { chain in
            try chain.writeState(["current_milestone_index": 1])
            let tick = SupervisorTick(reader: chain.reader)
            try FileSystem.makeDirectories(PosixPath.dirname(tick.lockPath), mode: 0o700)
            let ready = chain.project.localDirectory + "/holder-ready"
            let holder = try SSHServer.spawn([
                "/usr/bin/python3", "-c",
                "import fcntl, signal, sys\nf = open(sys.argv[1], 'w')\nfcntl.flock(f, fcntl.LOCK_EX)\nopen(sys.argv[2], 'w').close()\nsignal.pause()\n",
                tick.lockPath, ready,
            ])
            var reaped = false
            defer {
                if !reaped {
                    kill(holder, SIGKILL)
                    var status: Int32 = 0
                    waitpid(holder, &status, 0)
                }
            }
            let deadline = Date().addingTimeInterval(10)
            while !FileSystem.exists(ready), Date() < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            try #require(FileSystem.exists(ready), "the holder took the lock")

            let before = chain.runner.commandCount
            let blocked = await tick.run()
            #expect(blocked.skipped && blocked.event == "supervisor_skipped" && !blocked.acted)
            #expect(chain.runner.commandCount == before, "a skipped tick issues no remote command")

            kill(holder, SIGKILL)
            var status: Int32 = 0
            waitpid(holder, &status, 0)
            reaped = true
            #expect(status & 0x7f == SIGKILL)

            let next = await tick.run()
            #expect(!next.skipped)
            #expect(next.event == "supervisor_restarted" && next.acted)
            #expect(await chain.chainStarts() == [chain.expectedChainStart])
        }
    }
}
