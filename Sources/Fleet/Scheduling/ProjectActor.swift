import FleetCore
import Transport

/// One project of a fleet run: runs its `ProjectOperation` one at a time (a second request while
/// one runs is refused as `locked`) and turns the result into a fleet line with its status history.
actor ProjectActor {
    private enum State {
        case idle
        case running(String)
    }

    nonisolated let project: FleetFile.Project
    nonisolated let cloud: Result<CloudSpec, FleetError>
    private let makeRunner: FleetRunners.Make
    /// Where the project's marker, lock, validated spec and status history are kept.
    private let stateDirectory: StateDirectory
    private var state = State.idle

    /// `cloud` is the project's cloud.yaml as `FleetRun` loaded it (`FleetFile.loadClouds`);
    /// `makeRunner` makes its runner for each operation (see `FleetRunners`).
    init(
        project: FleetFile.Project, makeRunner: @escaping FleetRunners.Make, stateDirectory: StateDirectory,
        cloud: Result<CloudSpec, FleetError>
    ) {
        self.project = project
        self.makeRunner = makeRunner
        self.stateDirectory = stateDirectory
        self.cloud = cloud
    }

    /// The host this project's runner is reached through (the per-host limit's key).
    nonisolated var hostKey: String {
        guard case .success(let spec) = cloud else { return "invalid" }
        return spec.runnerLabel
    }

    /// One status read or supervise tick, reported as a fleet line. With a `deadline`, every
    /// remote command is bounded to end before it (see `ChainStatusReader.deadline`).
    func run(
        _ operation: FleetLine.Operation, dryRun: Bool, tick: String, deadline: ContinuousClock.Instant? = nil
    ) async -> FleetLine {
        let started = ContinuousClock.now
        var line = FleetLine(
            tick: tick, timestamp: Timestamp.now(), project: project.name, provider: nil, host: nil,
            operation: operation, durationMilliseconds: 0, outcome: .error, errorKind: nil, report: [:],
            effectiveStatus: nil)
        if case .running = state {
            line.outcome = .skipped
            line.errorKind = .locked
            line.report = ["reason": "another operation on this project is running in this process"]
            return line
        }
        state = .running(tick)
        defer { state = .idle }

        let result = await ProjectOperation(
            fleet: operation, dryRun: dryRun, remoteSpecOverride: project.remoteSpec, state: stateDirectory,
            deadline: deadline
        ).run(cloud: cloud, makeRunner: makeRunner)
        lastCommandCount = result.remoteCommands
        line.outcome = result.outcome
        line.errorKind = result.errorKind
        line.report = .object(result.report)
        line.effectiveStatus = result.effectiveStatus
        if case .success(let spec) = cloud {
            line.provider = spec.provider
            line.host = hostKey
            recordHistory(spec: spec, into: &line)
        }
        line.durationMilliseconds = Int((ContinuousClock.now - started) / .milliseconds(1))
        return line
    }

    /// Remote commands issued by the last run (for the summary and benchmarks).
    private(set) var lastCommandCount = 0

    /// Adds the status history to the line and records an observed status. The write happens under
    /// the chain's lock, so it never races a tick of another process; when another holds it, that
    /// run records instead. A line that observed nothing reports the last known status's history.
    private func recordHistory(spec: CloudSpec, into line: inout FleetLine) {
        let directory = stateDirectory.markerDirectory(forCloudYAML: spec.path)
        let recorded = StatusHistory.read(in: directory)
        guard let status = line.effectiveStatus, line.outcome == .ok || line.outcome == .blocked,
            status != .unknown
        else {
            line.knownStatus = recorded?.status
            line.statusSince = recorded?.since
            line.previousStatus = recorded?.previousStatus
            return
        }
        let (history, changed) = StatusHistory.next(after: recorded, status: status, at: line.timestamp)
        line.knownStatus = history.status
        line.statusSince = history.since
        line.previousStatus = history.previousStatus
        line.changed = changed
        guard history != recorded,
            let lock = try? FileLock.tryAcquire(
                stateDirectory.chainLock(forCloudYAML: spec.path), stateRoot: stateDirectory.checkedBelow)
        else { return }
        defer { lock.release() }
        try? history.write(in: directory, below: stateDirectory.checkedBelow)
    }
}
