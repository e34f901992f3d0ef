import FleetCore
import RunnerProtocol
import SSHClient
import Transport

/// Reads a chain's status from its runner with one remote command (§5, batched).
public struct ChainStatusReader: Sendable {
    public let cloud: CloudSpec
    public let runner: any CommandRunner
    public let remoteSpecOverride: String?
    /// Where this chain's marker, lock, validated spec and status history are kept.
    public let state: StateDirectory
    /// Seconds a single probe (megaplan status, verify-human, gh) may run on the runner.
    public var probeTimeout = 120
    /// When the caller stops waiting (a fleet project's deadline), or nil. Every remote command
    /// then ends by it: `timeout` on the host stops the command there, and the status read's own
    /// program stops its probes sooner (see `deadlineMargin`).
    public var deadline: ContinuousClock.Instant?

    /// How much sooner than the deadline the status read's program on the runner stops its
    /// probes and declines to start a refresh: its answer still has to travel back, and its
    /// clock may disagree a little with ours, but a refresh must never start after we stopped
    /// waiting (and released the chain lock).
    static let deadlineMargin = Duration.seconds(1)
    /// How the runner gets megaplan's answers (see `RunnerProbes`).
    public var runnerProbes = RunnerProbes.configured

    public init(
        cloud: CloudSpec, runner: any CommandRunner, remoteSpecOverride: String? = nil,
        home: String = FileSystem.homeDirectory()
    ) {
        self.init(
            cloud: cloud, runner: runner, remoteSpecOverride: remoteSpecOverride,
            state: StateDirectory(home: home))
    }

    public init(
        cloud: CloudSpec, runner: any CommandRunner, remoteSpecOverride: String? = nil, state: StateDirectory
    ) {
        self.cloud = cloud
        self.runner = runner
        self.remoteSpecOverride = remoteSpecOverride
        self.state = state
    }

    /// This chain's directory in the state directory.
    public var markerDirectory: String { state.markerDirectory(forCloudYAML: cloud.path) }

    /// The marker `chain` wrote: from the state directory, else from `~/.megaplan`, where `chain`
    /// (a single-project command) writes it.
    public var marker: Marker? {
        Marker.read(forCloudYAML: cloud.path, state: state)
            ?? (state == StateDirectory() ? nil : Marker.read(forCloudYAML: cloud.path))
    }

    /// The remote spec path (§5.1) given the marker (read once per operation: see `marker`).
    public func remoteSpec(marker: Marker?) throws(FleetError) -> String {
        try ChainContext.remoteSpec(override: remoteSpecOverride, marker: marker, cloud: cloud)
    }

    public func read() async throws(FleetError) -> ChainStatus {
        let marker = self.marker
        let spec = try remoteSpec(marker: marker)
        let result = try await run(request(spec: spec, marker: marker, mode: .observe))
        return try status(of: result.observation, spec: spec, marker: marker)
    }

    /// The status built from a run's first observation.
    func status(of observation: Observation?, spec: String, marker: Marker?) throws(FleetError) -> ChainStatus
    {
        guard let observation else {
            throw FleetError(
                .providerFailed, "runner \(runner.hostLabel) returned no observation", kind: .remoteError)
        }
        return try ChainStatus.build(observation: observation, specPath: spec, marker: marker, cloud: cloud)
    }

    func request(spec: String, marker: Marker?, mode: ObservationScript.Mode) -> ObservationScript.Request {
        ObservationScript.Request(
            spec: spec,
            fallbackWorkspace: ChainContext.fallbackWorkspace(spec: spec, marker: marker, cloud: cloud).0,
            fallbackSession: ChainContext.fallbackSession(marker: marker, cloud: cloud).0,
            mode: mode, probeTimeout: probeTimeout, outputLimit: OutputLimits.remoteText, probes: runnerProbes
        )
    }

    /// The time a remote command may take now (until the deadline), or nil without a deadline;
    /// throws `timeout` when nothing is left.
    public func remoteBudget() throws(FleetError) -> Duration? {
        guard let deadline else { return nil }
        let budget = deadline - .now
        guard budget > .milliseconds(100) else {
            throw FleetError(
                .providerFailed, "the project's deadline leaves no time for a command on \(runner.hostLabel)",
                kind: .timeout)
        }
        return budget
    }

    /// One run of the status-read script. Its reply is bounded by `OutputLimits.statusReply`: a
    /// runner sending more gets `remote_error` and costs no more than that.
    func run(_ request: ObservationScript.Request) async throws(FleetError) -> ObservationResult {
        var request = request
        let budget = try remoteBudget()
        if let budget {
            let own = budget - Self.deadlineMargin
            let seconds = max(0, own.secondsDouble)
            request.deadline = .init(budget: seconds, until: Timestamp.wallClock() + seconds)
        }
        let output = try await runner.run(
            ObservationScript.command(request), stdin: nil, deadline: budget,
            outputLimit: OutputLimits.statusReply)
        if budget != nil, output.status == 124 {
            throw FleetError(
                .providerFailed,
                "the status read on \(runner.hostLabel) was stopped at the project's deadline",
                kind: .timeout)
        }
        return try ObservationResult.decode(output, host: runner.hostLabel)
    }
}

/// The human-readable summary block of §5.8, written to stderr by `status --chain`.
public enum ChainSummaryText {
    public static func render(_ status: ChainStatus) -> String {
        guard case .object(let summary)? = status.payload["summary"] else { return "" }
        var lines: [String] = []
        if let current = summary["current_milestone"], let label = current["label"]?.stringValue,
            case .int(let index)? = current["index"]
        {
            lines.append("Current milestone: \(label) (index \(index))")
        } else {
            lines.append("Current milestone: none")
        }
        func labels(_ key: String) -> String {
            let names = summary[key]?.arrayValue?.compactMap { $0["label"]?.stringValue } ?? []
            return names.isEmpty ? "none" : names.joined(separator: ", ")
        }
        lines.append("Completed: \(labels("completed"))")
        lines.append("Remaining: \(labels("remaining"))")
        let state = status.state
        if let seed = status.spec.seedPlan, !seed.isEmpty { lines.append("Seed plan: \(seed)") }
        lines.append("Base branch: \(status.spec.baseBranch.isEmpty ? "main" : status.spec.baseBranch)")
        if let plan = state.currentPlanName, !plan.isEmpty { lines.append("Current plan: \(plan)") }
        if let last = state.lastState, !last.isEmpty { lines.append("Last state: \(last)") }
        if let number = state.prNumber, number != 0 {
            let prState = state.prState.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown"
            lines.append("Current PR: #\(number) (\(prState))")
        }
        lines.append("Sync:")
        if let value = state.branchHead, !value.isEmpty { lines.append("  Branch head: \(value)") }
        if let value = state.prHead, !value.isEmpty { lines.append("  PR head: \(value)") }
        if let value = state.lastPushedCommit, !value.isEmpty { lines.append("  Last pushed: \(value)") }
        if state.dirtyFlag { lines.append("  Dirty: yes") }
        if let value = state.syncState, !value.isEmpty { lines.append("  Sync state: \(value)") }
        lines.append("Policy:")
        lines.append("  Prerequisite: \(status.spec.prerequisitePolicy)")
        lines.append("  Validation: \(status.spec.validationPolicy)")
        lines.append("  Review (clean_milestone_pr): \(status.spec.cleanMilestonePR)")
        lines.append("Per-milestone:")
        for entry in summary["per_milestone"]?.arrayValue ?? [] {
            let label = entry["label"]?.stringValue ?? ""
            let index = entry["index"].flatMap { if case .int(let value) = $0 { value } else { nil } } ?? 0
            lines.append("  - [\(entry["status"]?.stringValue ?? "pending")] \(label) (index \(index))")
        }
        return lines.map { $0 + "\n" }.joined()
    }
}

extension ObservationResult {
    /// Decodes a run of the status program from the runner's output.
    static func decode(_ output: RunnerOutput, host: String) throws(FleetError) -> ObservationResult {
        try decode(status: output.status, stdout: output.stdout, stderr: output.stderr, host: host)
    }
}
