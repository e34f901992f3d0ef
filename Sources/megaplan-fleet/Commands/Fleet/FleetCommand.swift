import ArgumentParser
import Fleet
import FleetCore

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a fleet operation from the command line: selection, the fleet lock, signals, output
/// (JSON lines or a table), notifications, the Prometheus file, and the exit status cron reads.
/// The wiring itself (pool, actors, scheduler, shutdown) is `FleetRun`'s.
enum FleetCommand {
    static func execute(
        _ operation: FleetLine.Operation, options: FleetOptions, hostKeys: HostKeyOptions, dryRun: Bool,
        takesLock: Bool
    ) async -> Int32 {
        Output.ignoreBrokenPipes()
        var run: FleetRun
        let shard: FleetSelection.Shard?
        do {
            let file = try options.loadFleet()
            run = try FleetRun(
                file: file, operation: operation,
                ssh: hostKeys.choice.configuration(fleetDefaults: file.defaults),
                stateDirectory: options.stateDirectory(file))
            shard = try options.shard.map { (text) throws(FleetError) in
                try FleetSelection.Shard(parsing: text)
            }
            run.projects = try FleetSelection(names: options.project, tags: options.tag, shard: shard).apply(
                to: file)
        } catch {
            Output.stderr("megaplan-fleet: \(Redactor.shapesOnly.redact(error.message))\n")
            return FleetExitStatus.invalidFleet
        }
        let file = run.file

        // Nothing selected is a mistake in the invocation: say so before taking the lock, and
        // print no summary line that a consumer could take for a tick of an empty fleet.
        if run.projects.isEmpty {
            Output.stderr("megaplan-fleet: no project of \(file.path) matches the selection\n")
            return FleetExitStatus.invalidFleet
        }

        let stateDirectory = run.stateDirectory
        var lock: FileLock?
        if takesLock {
            let path = FleetLockPath.path(fleetFile: file.path, shard: shard, state: stateDirectory)
            do {
                guard let acquired = try FileLock.tryAcquire(path, stateRoot: stateDirectory.checkedBelow)
                else {
                    Output.stderr(
                        "megaplan-fleet: another tick on \(file.path) is running (lock \(path)); nothing done\n"
                    )
                    return FleetExitStatus.locked
                }
                lock = acquired
            } catch {
                Output.stderr("megaplan-fleet: \(error.message)\n")
                return FleetExitStatus.invalidFleet
            }
        }
        defer { lock?.release() }

        run.options.dryRun = dryRun
        if let concurrency = options.concurrency { run.options.concurrency = concurrency }
        if let perHost = options.perHost { run.options.perHost = perHost }
        if let deadline = options.deadline { run.options.deadline = .milliseconds(Int(deadline * 1000)) }

        let terminal = TerminalOutput(format: options.format, filter: options.filter, dryRun: dryRun)
        let redactors = run.redactors
        let total = run.projects.count
        let tick = TickID.make()
        let result = await run.run(
            tick: tick,
            emit: { line, _, finished in
                terminal.emit(
                    line, redactor: redactors[line.project] ?? .shapesOnly, finished: finished, total: total)
            },
            cancellable: { body in
                (try? await Interrupts.cancellable(body)) ?? FleetSummary(tick: tick, operation: operation)
            })
        var summary = result.summary
        let lines = result.lines
        if operation == .supervise, !dryRun, !file.notify.isEmpty, Interrupts.exitStatus == nil {
            // After the lines, before the summary that counts them; bounded by the tick's deadline.
            let report = await Notifier(
                targets: file.notify, stateDirectory: stateDirectory, environment: ProcessEnvironment.current
            ).deliver(lines, projects: run.projects, redactors: redactors, until: .now + run.options.deadline)
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
        return FleetExitStatus.of(lines)
    }
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
            await FleetCommand.execute(
                .supervise, options: fleet, hostKeys: hostKeys, dryRun: dryRun, takesLock: true))
    }
}
