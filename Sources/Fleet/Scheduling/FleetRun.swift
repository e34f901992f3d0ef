import FleetCore
import SSHClient
import Transport

/// The fleet wiring, written once for `tick`, `status --all`, the benchmarks, the load run and the
/// tests: a checked fleet file, one SSH pool, one actor per project, the scheduler, and the
/// pool's shutdown, so no I/O thread is inside libssh2 when the caller goes on.
public struct FleetRun: Sendable {
    public let file: FleetFile
    /// Every project's cloud.yaml, loaded once.
    public let clouds: [String: Result<CloudSpec, FleetError>]
    /// The projects run: every project of the file unless the caller selects fewer.
    public var projects: [FleetFile.Project]
    /// The operation and the limits, from the fleet file's defaults unless the caller overrides.
    public var options: FleetRunOptions
    public var ssh: SSHConfiguration
    /// Where SSH keys and the default state directory are found.
    public let home: String
    public var stateDirectory: StateDirectory
    /// Where the projects' runners come from: the providers' own unless a test runs the fleet in
    /// memory.
    public var runners: FleetRunners

    /// Loads every project's cloud.yaml and refuses a fleet whose projects share a runner.
    public init(
        file: FleetFile, operation: FleetLine.Operation, ssh: SSHConfiguration = SSHConfiguration(),
        home: String = FileSystem.homeDirectory(), stateDirectory: StateDirectory? = nil
    ) throws(FleetError) {
        self.file = file
        clouds = file.loadClouds()
        try file.checkDistinctRunners(clouds)
        projects = file.projects
        options = FleetRunOptions(operation: operation)
        options.concurrency = file.defaults.concurrency
        options.perHost = file.defaults.perHost
        options.deadline = .milliseconds(Int(file.defaults.deadlineSeconds * 1000))
        self.ssh = ssh
        self.ssh.connectionsPerHost = file.defaults.connectionsPerHost
        self.home = home
        self.stateDirectory = stateDirectory ?? StateDirectory(home: home)
        runners = .providers(home: home)
    }

    /// Loads the fleet file at `path` and checks it (see `init`).
    public static func load(
        path: String, operation: FleetLine.Operation, ssh: SSHConfiguration = SSHConfiguration(),
        home: String = FileSystem.homeDirectory()
    ) throws(FleetError) -> FleetRun {
        try FleetRun(file: FleetFile.load(path: path), operation: operation, ssh: ssh, home: home)
    }

    /// Each project's redactor, by name (shape-only for a cloud.yaml that did not load).
    public var redactors: [String: Redactor] {
        Dictionary(
            uniqueKeysWithValues: projects.map { project in
                guard case .success(let spec) = clouds[project.name] else {
                    return (project.name, .shapesOnly)
                }
                return (
                    project.name, Redactor(secretNames: spec.secrets, environment: ProcessEnvironment.current)
                )
            })
    }

    /// Runs every selected project once and shuts the pool down. `emit` sees each line as it
    /// finishes (with how many have), from one task at a time. `cancellable` runs the scheduling,
    /// so the command line can cancel it on a signal (see `FleetScheduler.run` for what that does).
    public func run(
        tick: String = TickID.make(),
        emit: @escaping @Sendable (FleetLine, _ remoteCommands: Int, _ finished: Int) async -> Void = {
            _, _, _ in
        },
        cancellable: @Sendable (_ run: @escaping @Sendable () async -> FleetSummary) async -> FleetSummary = {
            await $0()
        }
    ) async -> FleetRunResult {
        let started = ContinuousClock.now
        let pool = SSHPool(configuration: ssh)
        let runners = runners
        let makeRunner: FleetRunners.Make = { cloud throws(FleetError) in try runners.make(cloud, pool) }
        let actors = projects.map { project in
            ProjectActor(
                project: project, makeRunner: makeRunner, stateDirectory: stateDirectory,
                cloud: clouds[project.name]
                    ?? Result { () throws(FleetError) in try CloudSpec.load(path: project.cloudYAML) })
        }
        let scheduler = FleetScheduler(actors: actors)
        let collected = LineCollector()
        let options = options
        var summary = await cancellable {
            await scheduler.run(options, tick: tick) { line, commands in
                await emit(line, commands, await collected.append(line))
            }
        }
        let statistics = pool.statistics
        let shutdownStarted = ContinuousClock.now
        await pool.shutdown()
        let now = ContinuousClock.now
        summary.handshakes = statistics.handshakes
        summary.tunnelledHandshakes = statistics.tunnelledHandshakes
        summary.wallMilliseconds = Int((now - started) / .milliseconds(1))
        return FleetRunResult(
            summary: summary, lines: await collected.lines, statistics: statistics,
            shutdown: now - shutdownStarted)
    }
}

/// Makes each project's runner for a fleet run. The providers' runners are the default; tests
/// hand in runners in memory, so the fleet's limits, deadlines, outcomes and lines are checked in
/// milliseconds and the same scenarios against real hosts.
public struct FleetRunners: Sendable {
    /// A project's runner from its cloud.yaml; failing makes the project an `invalid_config` line.
    public typealias Make = @Sendable (CloudSpec) throws(FleetError) -> any CommandRunner

    /// Called once per project operation with the run's SSH pool, so projects on one host share
    /// its connections.
    let make: @Sendable (CloudSpec, SSHPool) throws(FleetError) -> any CommandRunner

    public init(
        _ make:
            @escaping @Sendable (_ cloud: CloudSpec, _ pool: SSHPool) throws(FleetError) -> any CommandRunner
    ) {
        self.make = make
    }

    /// The runner of the project's provider (`RunnerFactory`); `home` holds the SSH keys.
    public static func providers(home: String) -> FleetRunners {
        FleetRunners { cloud, pool throws(FleetError) in
            try RunnerFactory.make(for: cloud, pool: pool, home: home)
        }
    }
}

/// The exit status cron reads (README, "Exit status"); here rather than in the command line so
/// the fleet tests check the mapping from lines too.
public enum FleetExitStatus {
    public static let observed: Int32 = 0
    public static let projectErrors: Int32 = 1
    public static let invalidFleet: Int32 = 2
    public static let locked: Int32 = 75

    /// 1 when any project's line is an error, else 0: a blocked or skipped chain is a state.
    public static func of(_ lines: [FleetLine]) -> Int32 {
        lines.contains { $0.outcome == .error } ? projectErrors : observed
    }
}

/// What a fleet run did.
public struct FleetRunResult: Sendable {
    /// The wall time includes closing the connections.
    public var summary: FleetSummary
    /// In completion order.
    public var lines: [FleetLine]
    /// The pool's figures at the end of the run, before its shutdown.
    public var statistics: SSHStatistics
    /// How long the pool's shutdown took.
    public var shutdown: Duration
}

/// Collects the lines of a run for the table, the Prometheus file and the notifications.
private actor LineCollector {
    private(set) var lines: [FleetLine] = []

    /// Returns how many lines there are now.
    func append(_ line: FleetLine) -> Int {
        lines.append(line)
        return lines.count
    }
}
