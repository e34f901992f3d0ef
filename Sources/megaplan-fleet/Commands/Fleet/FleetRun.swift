import ArgumentParser
import Fleet
import FleetCore
import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a fleet operation from the command line: selection, the fleet lock, signals, output
/// (JSON lines or a table), the Prometheus file, and the exit status cron reads.
enum FleetRun {
    /// Exit statuses, documented in the README.
    enum ExitStatus {
        static let observed: Int32 = 0
        static let projectErrors: Int32 = 1
        static let invalidFleet: Int32 = 2
        static let locked: Int32 = 75
    }

    static func execute(
        _ operation: FleetLine.Operation, options: FleetOptions, hostKeys: HostKeyOptions, dryRun: Bool,
        takesLock: Bool
    ) async -> Int32 {
        Output.ignoreBrokenPipes()
        let file: FleetFile
        let clouds: [String: Result<CloudSpec, FleetError>]
        let projects: [FleetFile.Project]
        let shard: FleetSelection.Shard?
        let configuration: SSHConfiguration
        do {
            file = try options.loadFleet()
            clouds = file.loadClouds()
            try file.checkDistinctRunners(clouds)
            shard = try options.shard.map { (text) throws(FleetError) in
                try FleetSelection.Shard(parsing: text)
            }
            projects = try FleetSelection(names: options.project, tags: options.tag, shard: shard).apply(
                to: file)
            configuration = hostKeys.configuration(fleetDefaults: file.defaults)
        } catch {
            Output.stderr("megaplan-fleet: \(Redactor.shapesOnly.redact(error.message))\n")
            return ExitStatus.invalidFleet
        }

        // Nothing selected is a mistake in the invocation: say so before taking the lock, and
        // print no summary line that a consumer could take for a tick of an empty fleet.
        if projects.isEmpty {
            Output.stderr("megaplan-fleet: no project of \(file.path) matches the selection\n")
            return ExitStatus.invalidFleet
        }

        let stateDirectory = options.stateDirectory(file)
        var lock: FileLock?
        if takesLock {
            let path = FleetLockPath.path(fleetFile: file.path, shard: shard, state: stateDirectory)
            do {
                guard let acquired = try FileLock.tryAcquire(path, stateRoot: stateDirectory.checkedBelow)
                else {
                    Output.stderr(
                        "megaplan-fleet: another tick on \(file.path) is running (lock \(path)); nothing done\n"
                    )
                    return ExitStatus.locked
                }
                lock = acquired
            } catch {
                Output.stderr("megaplan-fleet: \(error.message)\n")
                return ExitStatus.invalidFleet
            }
        }
        defer { lock?.release() }

        var run = FleetRunOptions(operation: operation)
        run.dryRun = dryRun
        run.concurrency = options.concurrency ?? file.defaults.concurrency
        run.perHost = options.perHost ?? file.defaults.perHost
        run.deadline = .milliseconds(Int((options.deadline ?? file.defaults.deadlineSeconds) * 1000))

        let terminal = TerminalOutput(format: options.format, filter: options.filter, dryRun: dryRun)
        let pool = SSHPool(configuration: configuration)
        let actors = projects.map {
            ProjectActor(project: $0, pool: pool, stateDirectory: stateDirectory, cloud: clouds[$0.name])
        }
        let redactors = Dictionary(uniqueKeysWithValues: actors.map { ($0.project.name, $0.redactor) })
        let tick = TickID.make()
        let total = actors.count
        let collected = LineCollector()
        let settings = run

        let started = ContinuousClock.now
        var summary: FleetSummary
        do {
            summary = try await Interrupts.cancellable {
                var finished = 0
                var result = await FleetScheduler(actors: actors).run(settings, tick: tick) { line, _ in
                    finished += 1
                    await collected.append(line)
                    let redactor = redactors[line.project] ?? .shapesOnly
                    terminal.emit(line, redactor: redactor, finished: finished, total: total)
                }
                result.handshakes = pool.statistics.handshakes
                return result
            }
        } catch {
            summary = FleetSummary(tick: tick, operation: operation)
        }
        await pool.shutdown()
        // The wall time of the whole run, connections closed included.
        summary.wallMilliseconds = Int((ContinuousClock.now - started) / .milliseconds(1))
        let lines = await collected.lines
        if operation == .supervise, !dryRun, !file.notify.isEmpty, Interrupts.exitStatus == nil {
            // After the lines, before the summary that counts them; bounded by the tick's deadline.
            let report = await Notifier(
                targets: file.notify, stateDirectory: stateDirectory, environment: ProcessEnvironment.current
            ).deliver(lines, projects: projects, redactors: redactors, until: .now + settings.deadline)
            for failure in report.failures { Output.stderr("megaplan-fleet: \(failure)\n") }
            summary.notificationsSent = report.sent
            summary.notificationsFailed = report.failed
        }
        terminal.finish(summary, lines: lines, redactors: redactors)
        if let promFile = options.promFile {
            do {
                try PromFile.write(promFile, lines: lines, summary: summary, shard: shard)
            } catch {
                Output.stderr("megaplan-fleet: \(error.message)\n")
            }
        }
        if let status = Interrupts.exitStatus { return status }
        return lines.contains { $0.outcome == .error } ? ExitStatus.projectErrors : ExitStatus.observed
    }
}

/// Collects the lines of a run for the table and the Prometheus file.
actor LineCollector {
    private(set) var lines: [FleetLine] = []
    func append(_ line: FleetLine) { lines.append(line) }
}

struct Tick: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Supervise every selected chain of a fleet in parallel: one JSON line per project.",
        usage: """
            megaplan-fleet tick (--all | --project <name>... | --tag <tag>... | --shard <K/N>) [--dry-run] [--format jsonl|table] [--outcome <outcome>...] [--status <status>...] [--quiet] [--fleet <path>] [<fleet-options>]
            """,
        discussion: """
            Meant for cron: `megaplan-fleet tick --all`. Each line is printed as soon as its \
            project finishes, then a summary line. Exit status: 0 when every project was observed \
            (a blocked chain is a state, not a failure), 1 when any project errored, 2 when the \
            fleet file is invalid or nothing matched, 75 when another tick on the same fleet file \
            (and shard) holds the fleet lock, 128+N after signal N. A closed stdout (`| head -1`) \
            does not stop the run: every project is still ticked, the Prometheus file is written, \
            and the exit status is the same. On a terminal (or with --format table): a table \
            instead, errors first, then blocked chains oldest first, with what each tick did \
            (under --dry-run, what it would do) and why. --outcome, --status and --quiet choose \
            the project lines printed in either format; the summary counts every project.
            """)

    @OptionGroup var fleet: FleetOptions
    @OptionGroup var hostKeys: HostKeyOptions

    @Flag(help: "Observe and decide only: print what each tick would run, change nothing.")
    var dryRun = false

    func validate() throws {
        guard fleet.selectsFleet else {
            throw ValidationError("choose projects: --all, or --project/--tag/--shard")
        }
    }

    func run() async throws {
        throw ExitCode(
            await FleetRun.execute(
                .supervise, options: fleet, hostKeys: hostKeys, dryRun: dryRun, takesLock: true))
    }
}
