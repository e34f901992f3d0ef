import FleetCore
import RunnerProtocol
import Transport

/// The outcome of one supervise tick: the report of §6.3 and what the tick did.
public struct TickReport: Sendable, Equatable {
    public var report: JSONObject
    /// The report's `event`, typed.
    public var supervisorEvent: SupervisorEvent
    public var success: Bool
    public var acted: Bool
    public var skipped: Bool
    public var effectiveStatus: EffectiveStatus
    /// For fleet lines: the failure kind when the status read failed.
    public var errorKind: FleetError.Kind?

    /// `supervisor tick: <event> | acted=<True|False> | next_action=<a>[ | refused_reason=<r>]`.
    public var summaryLine: String {
        var line =
            "supervisor tick: \(supervisorEvent.rawValue) | acted=\(acted ? "True" : "False") | next_action=\(report["next_action"]?.stringValue ?? "")"
        if let reason = report["refused_reason"]?.stringValue, !reason.isEmpty {
            line += " | refused_reason=\(reason)"
        }
        return line
    }
}

/// One observation and at most one safe decision for one chain (§6). Never merges, resets,
/// force-pushes or deletes: the only mutation is the tmux restart of §6.5.
public struct SupervisorTick: Sendable {
    public let reader: ChainStatusReader
    public let dryRun: Bool

    public init(reader: ChainStatusReader, dryRun: Bool = false) {
        self.reader = reader
        self.dryRun = dryRun
    }

    /// The per-chain lock next to the marker, so overlapping cron runs never act twice.
    public var lockPath: String { reader.state.chainLock(forCloudYAML: reader.cloud.path) }

    /// Where the digest of the last spec this chain's ticks parsed is kept (see `ValidatedSpec`).
    var validatedSpecPath: String { reader.markerDirectory + "/supervise-spec.json" }

    public func run() async -> TickReport {
        do {
            guard let lock = try FileLock.tryAcquire(lockPath, stateRoot: reader.state.checkedBelow) else {
                return skippedReport()
            }
            defer { lock.release() }
            return await tick()
        } catch {
            return errorReport(error)
        }
    }

    /// Observe, refresh and re-read in one remote command when the runner can build the refresh
    /// (§6.4) exactly as we do; otherwise the refresh and re-read are a second command.
    private func tick() async -> TickReport {
        let marker = reader.marker
        let spec: String
        let first: ObservationResult
        var status: ChainStatus
        do {
            spec = try reader.remoteSpec(marker: marker)
            let validated = ValidatedSpec.digest(at: validatedSpecPath, spec: spec)
            let mode: ObservationScript.Mode =
                dryRun
                ? .observe
                : .observeAndRefresh(
                    RepoCandidates(cloud: reader.cloud, marker: marker), specDigest: validated)
            first = try await reader.run(reader.request(spec: spec, marker: marker, mode: mode))
            status = try reader.status(of: first.observation, spec: spec, marker: marker)
            if let text = first.observation?.spec.text {
                let parsed = ValidatedSpec(spec: spec, text: text)
                if parsed.sha256 != validated { parsed.save(at: validatedSpecPath) }
            }
        } catch {
            return errorReport(error)
        }
        var syncRefresh: JSONObject
        var prProbe: String?
        var humanRefreshed = false

        if dryRun {
            syncRefresh = ["status": "skipped", "reason": "dry run"]
        } else {
            let refresh = status.syncRefreshCommand
            do {
                let result =
                    first.refresh == nil && first.refreshSkipped == nil
                    ? try await reader.run(
                        reader.request(spec: spec, marker: marker, mode: .refresh(refresh)))
                    : first
                if let skipped = result.refreshSkipped {
                    syncRefresh = [
                        "status": "failed", "reason": .string("skipped on the runner: \(skipped)"),
                    ]
                } else if let ran = result.refresh, ran.command != refresh {
                    syncRefresh = [
                        "status": "failed",
                        "reason": "the runner ran a sync refresh other than the one resolved from its state",
                    ]
                } else if let failure = result.refresh?.outcome.failureMessage
                    ?? (result.refresh == nil ? "sync refresh did not run" : nil)
                {
                    syncRefresh = ["status": "failed", "reason": .string(failure)]
                } else {
                    syncRefresh = ["status": "ok"]
                    do {
                        guard let observation = result.reread else {
                            throw FleetError(.providerFailed, "re-read returned nothing")
                        }
                        status = try ChainStatus.build(
                            observation: observation, specPath: spec, marker: marker, cloud: reader.cloud)
                        humanRefreshed = true
                        prProbe = observation.pullRequest.map {
                            $0.status == 0 ? $0.stdout.trimmed.lowercased() : "unknown"
                        }
                    } catch {
                        syncRefresh["re_read"] = "failed"
                    }
                }
            } catch {
                syncRefresh = ["status": "failed", "reason": .string(error.message)]
            }
        }

        // §6.1d: fresh verification facts when they decide the outcome (the re-read has them).
        if !humanRefreshed, status.hasCurrentPlan,
            [.awaitingHumanVerify, .humanPrerequisite].contains(status.effectiveStatus),
            let plan = status.state.currentPlanName
        {
            let probe = await probe(
                RemoteCommands.verifyHuman(workspace: status.context.workspace, plan: plan))
            status.humanVerification = HumanVerificationFacts.parse(probe)
            status.payload["human_verification"] = HumanVerificationFacts.json(status.humanVerification)
        }

        if status.effectiveStatus == .awaitingPRMerge, let number = status.prNumber, prProbe == nil {
            let outcome = await probe(
                RemoteCommands.prProbe(workspace: status.context.workspace, number: number))
            prProbe = outcome.status == 0 ? outcome.stdout.trimmed.lowercased() : "unknown"
        }

        let decision = DecisionTable.decide(
            DecisionInput(
                status: status.effectiveStatus, consistencyStatus: status.consistencyStatus,
                consistencyReason: status.consistencyReason, runnerStatus: status.runnerStatus, canExec: true,
                prNumber: status.prNumber, prProbe: prProbe, humanVerification: status.humanVerification))

        let restart = RemoteCommands.tmuxRestart(
            workspace: status.context.workspace, spec: spec, session: status.context.session)
        var restartError: FleetError?
        if decision.mutation != nil, !dryRun {
            restartError = await performRestart(restart)
        }
        let outcome =
            dryRun ? decision.unperformed : decision.outcome(restartError: restartError?.message)

        var report: JSONObject = [
            "success": .bool(outcome.success),
            "event": .string(outcome.event.rawValue),
            "spec": .string(spec),
            "effective_status": .string(status.effectiveStatus.rawValue),
            "next_action": .string(outcome.nextAction),
            "acted": .bool(outcome.acted),
            "refused_reason": .optional(outcome.reason),
            "runner": status.payload["runner"] ?? [:],
            "sync": status.payload["sync"] ?? [:],
            "pr": status.payload["pr"] ?? [:],
            "logs": status.payload["logs"] ?? [:],
            "sync_refresh": .object(syncRefresh),
            "provider_consistency": status.payload["provider_consistency"] ?? [:],
            "extra_repo_sync": .array(status.state.extraRepoSync),
            "human_verification": status.payload["human_verification"] ?? [:],
        ]
        if dryRun {
            report["dry_run"] = true
            report["would_act"] = .bool(decision.mutation != nil)
            report["would_run"] = decision.mutation != nil ? .string(restart) : .null
        }
        // A restart that failed is an error line like any other, so it needs a kind: the
        // transport's when the runner could not be reached, else `restart_failed`.
        return TickReport(
            report: report, supervisorEvent: outcome.event, success: outcome.success, acted: outcome.acted,
            skipped: false,
            effectiveStatus: status.effectiveStatus,
            errorKind: outcome.success ? nil : restartError?.kind ?? .restartFailed)
    }

    /// Runs the restart to its end even when the tick is cancelled (SIGTERM): once sent, the
    /// mutation happens on the runner anyway, so the tick waits for its outcome (bounded by the
    /// deadline) and reports it. Returns the failure, or nil when it succeeded.
    private func performRestart(_ command: String) async -> FleetError? {
        let runner = reader.runner
        let budget: Duration?
        do {
            budget = try reader.remoteBudget()
        } catch {
            return error
        }
        let restart = Task { () async -> FleetError? in
            do throws(FleetError) {
                _ = try await runner.exec(command, deadline: budget)
                return nil
            } catch {
                return error
            }
        }
        return await restart.value
    }

    /// Runs one probe; a failure to reach the runner becomes a failed probe, as the reference's
    /// provider errors do.
    private func probe(_ command: String) async -> ProbeOutcome {
        do {
            let budget = try reader.remoteBudget()
            let output = try await reader.runner.run(command, stdin: nil, deadline: budget)
            return ProbeOutcome(status: output.status, stdout: output.stdout, stderr: output.stderr)
        } catch {
            return ProbeOutcome(status: 255, stdout: "", stderr: error.message)
        }
    }

    /// §6.1a: the report when the initial read fails; it has exactly these keys.
    func errorReport(_ error: FleetError) -> TickReport {
        let report: JSONObject = [
            "success": false, "event": .string(SupervisorEvent.error.rawValue), "spec": "",
            "effective_status": .string(EffectiveStatus.unknown.rawValue),
            "next_action": "none", "acted": false,
            "refused_reason": .string("chain status read failed: \(error.message)"),
            "runner": [:], "sync": [:], "pr": [:], "logs": [:],
        ]
        return TickReport(
            report: report, supervisorEvent: .error, success: false, acted: false, skipped: false,
            effectiveStatus: .unknown,
            errorKind: error.lineKind)
    }

    func skippedReport() -> TickReport {
        let report: JSONObject = [
            "success": true, "event": .string(SupervisorEvent.skipped.rawValue), "spec": "",
            "effective_status": .string(EffectiveStatus.unknown.rawValue),
            "next_action": "none", "acted": false,
            "refused_reason": .string("skipped: locked (another tick holds \(lockPath))"),
            "runner": [:], "sync": [:], "pr": [:], "logs": [:],
        ]
        return TickReport(
            report: report, supervisorEvent: .skipped, success: true, acted: false, skipped: true,
            effectiveStatus: .unknown,
            errorKind: .locked)
    }
}
