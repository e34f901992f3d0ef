import FleetCore
import Supervisor
import Transport

/// One operation on one project: the single place a status read or a supervise tick is assembled
/// and its outcome decided, for `status --chain`, `supervise --chain`, every fleet line, the
/// benchmarks and the load run alike.
public struct ProjectOperation: Sendable {
    public enum Kind: Sendable, Equatable {
        /// The chain status, read-only.
        case statusRead
        /// A supervise tick: observe, decide, at most one restart.
        case tick
        /// A supervise tick that decides but changes nothing on the runner.
        case dryRun
    }

    public var kind: Kind
    /// `--remote-spec`, or the fleet file's `remote_spec:`.
    public var remoteSpecOverride: String?
    /// Where the chain's marker, lock and validated spec are kept.
    public var state: StateDirectory
    /// When the caller stops waiting (a fleet project's deadline); see `ChainStatusReader.deadline`.
    public var deadline: ContinuousClock.Instant?

    public init(
        _ kind: Kind, remoteSpecOverride: String? = nil, state: StateDirectory = StateDirectory(),
        deadline: ContinuousClock.Instant? = nil
    ) {
        self.kind = kind
        self.remoteSpecOverride = remoteSpecOverride
        self.state = state
        self.deadline = deadline
    }

    /// The kind a fleet line's operation stands for.
    public init(
        fleet operation: FleetLine.Operation, dryRun: Bool, remoteSpecOverride: String?,
        state: StateDirectory,
        deadline: ContinuousClock.Instant?
    ) {
        let kind: Kind =
            switch operation {
            case .status: .statusRead
            case .supervise: dryRun ? .dryRun : .tick
            }
        self.init(kind, remoteSpecOverride: remoteSpecOverride, state: state, deadline: deadline)
    }

    /// Runs the operation with the project's runner, made by `makeRunner`; a cloud.yaml or runner
    /// that cannot be used is an `invalid_config` result, so a fleet reports it as a line.
    func run(cloud: Result<CloudSpec, FleetError>, makeRunner: FleetRunners.Make) async -> ProjectResult {
        let spec: CloudSpec
        let runner: any CommandRunner
        do {
            spec = try cloud.get()
            runner = try makeRunner(spec)
        } catch {
            return ProjectResult(failure: error, kind: .invalidConfig)
        }
        return await run(cloud: spec, runner: runner)
    }

    /// Runs the operation through `runner`.
    public func run(cloud: CloudSpec, runner: any CommandRunner) async -> ProjectResult {
        var reader = ChainStatusReader(
            cloud: cloud, runner: runner, remoteSpecOverride: remoteSpecOverride, state: state)
        reader.deadline = deadline
        var result: ProjectResult
        switch kind {
        case .statusRead:
            do {
                result = ProjectResult(status: try await reader.read())
            } catch {
                result = ProjectResult(failure: error, kind: error.lineKind)
            }
        case .tick, .dryRun:
            result = ProjectResult(tick: await SupervisorTick(reader: reader, dryRun: kind == .dryRun).run())
        }
        result.remoteCommands = runner.commandCount
        return result
    }

    /// Statuses that wait for a person: observed, yet reported `blocked`.
    static let blockedStatuses: Set<EffectiveStatus> = [
        .humanPrerequisite, .qualityGate, .awaitingPRMerge, .awaitingHumanVerify,
    ]
}

/// What one project operation found and did.
public struct ProjectResult: Sendable {
    public var outcome: FleetLine.Outcome
    public var errorKind: FleetError.Kind?
    /// The status observed; nil when nothing was.
    public var effectiveStatus: EffectiveStatus?
    /// The tick's event; nil for a status read and for a project that could not run.
    public var supervisorEvent: SupervisorEvent?
    /// A restart ran (then the line is kept even when the run is interrupted).
    public var acted = false
    /// The status payload, the tick's report, or `error` and `message`.
    public var report: JSONObject
    /// Remote commands issued.
    public var remoteCommands = 0
    /// The failure a status read raised; single-project commands report it as an error.
    public var failure: FleetError?
    /// What was read or ticked, kept for `summary`: rendered only when a command prints it.
    private var status: ChainStatus?
    private var tick: TickReport?

    /// What a single-project command prints on stderr: the chain summary or the tick's line.
    public var summary: String {
        if let status { return ChainSummaryText.render(status) }
        return tick.map { $0.summaryLine + "\n" } ?? ""
    }

    init(status: ChainStatus) {
        outcome = ProjectOperation.blockedStatuses.contains(status.effectiveStatus) ? .blocked : .ok
        effectiveStatus = status.effectiveStatus
        report = status.payload
        self.status = status
    }

    init(tick: TickReport) {
        outcome =
            tick.skipped
            ? .skipped : !tick.success ? .error : tick.supervisorEvent == .blocked ? .blocked : .ok
        errorKind = tick.errorKind
        effectiveStatus = tick.effectiveStatus
        supervisorEvent = tick.supervisorEvent
        acted = tick.acted
        report = tick.report
        self.tick = tick
    }

    init(failure error: FleetError, kind: FleetError.Kind) {
        outcome = .error
        errorKind = kind
        report = ["error": .string(error.code.rawValue), "message": .string(error.message)]
        failure = error
    }
}
