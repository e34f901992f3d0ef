import ArgumentParser
import BenchSupport
import Fleet
import FleetCore
import Foundation
import SSHClient
import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// Fleet tick benchmark: `tick --all` over N projects on 3 sshd hosts (loopback, and through a
/// relay adding 50 ms round trip), against the same supervise ticks done one project at a time,
/// each in a fresh `megaplan-fleet supervise --chain` process (a cron loop over the
/// single-project command). Run it with scripts/bench-fleet.sh (release build).
@main
struct FleetBench {
    struct Settings {
        var sizes = [10, 50, 200]
        var paths: [(label: String, rtt: Int)] = [("direct", 0), ("relay", 50)]
        /// The loop is measured on the first `loopSample` projects and extrapolated beyond.
        var loopSample = 50
        var fixtures = RunnerAccount.checkoutFixtures
        var library = true
        var runners = RunnerMode.replay
        var serviceMilliseconds = 100
        var workload = BenchFleet.Workload.running
        /// Fleet file defaults sized for 200 projects on 3 hosts (67 each): 6 connections x 8
        /// channels = 48 commands in flight per host, so the largest row runs in two waves.
        var concurrency = 144
        var perHost = 48
        var connections = 6
        /// CPU seconds an import of megaplan costs on the runners (the stand-in burns it).
        var importCPU = 0.0
        /// Chains and ticks of the comparison of the runner's probe modes.
        var compareCount = 10
        var compareTicks = 3
    }

    /// The command line (scripts/bench-fleet.sh passes it through).
    /// A command only for its parser and help (`run` is never called): main runs the benchmark.
    struct Arguments: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "fleet-bench")

        @Option(help: "How the runners answer.") var runners = Settings().runners
        @Option(help: "Milliseconds a replayed answer takes.") var serviceMs = Settings().serviceMilliseconds
        @Option(help: "What the live runners report (with --runners live).") var workload = Settings()
            .workload
        @Option(help: ArgumentHelp("Fleet sizes to measure.", valueName: "N,N,...")) var sizes = "10,50,200"
        @Option(help: "Projects in flight across the fleet.") var concurrency = Settings().concurrency
        @Option(help: "Projects in flight on one host.") var perHost = Settings().perHost
        @Option(help: "Connections per host (1 to 9).") var connections = Settings().connections
        @Option(help: "CPU seconds a megaplan import costs on the runners (below 60).") var importCPU =
            Settings().importCPU
        @Option(help: "Chains of the probe comparison.") var compare = Settings().compareCount
        @Option(help: "Ticks of the probe comparison.") var compareTicks = Settings().compareTicks
        @Option(help: "Projects the one-at-a-time loop is measured on.") var loopSample = Settings()
            .loopSample
        @Flag(help: "Only the loopback path, not the 50 ms relay.") var directOnly = false
        @Flag(help: "Skip the in-process library tick.") var noLibrary = false
        @Flag(help: "Sizes 10 and 50, a loop sample of 10.") var quick = false
        @Option(
            help: ArgumentHelp(
                "Only the jump-host comparison: N projects reached directly and through one bastion.",
                valueName: "N")) var bastion: Int?
        @Option(help: "The runner fixtures directory.") var fixtures = Settings().fixtures

        func validate() throws {
            guard parsedSizes != nil else {
                throw ValidationError("--sizes takes N,N,... (whole numbers above 0)")
            }
            if let bastion, bastion < 1 {
                throw ValidationError("--bastion takes a number of projects, at least 1")
            }
            guard importCPU >= 0, importCPU < 60 else {
                throw ValidationError("--import-cpu takes seconds below 60")
            }
            for (name, value) in [
                ("--service-ms", serviceMs), ("--concurrency", concurrency), ("--per-host", perHost),
                ("--connections", connections), ("--compare", compare), ("--compare-ticks", compareTicks),
                ("--loop-sample", loopSample),
            ] where value < 0 {
                throw ValidationError("\(name) takes a number, at least 0")
            }
            if runners == .replay, workload != .running {
                throw ValidationError("--workload applies to --runners live")
            }
        }

        private var parsedSizes: [Int]? {
            let values = sizes.split(separator: ",").map { Int($0) ?? 0 }
            return values.isEmpty || values.contains { $0 <= 0 } ? nil : values
        }

        var settings: Settings {
            var settings = Settings()
            settings.sizes = quick ? [10, 50] : parsedSizes ?? settings.sizes
            settings.loopSample = quick ? 10 : max(1, loopSample)
            settings.serviceMilliseconds = serviceMs
            settings.concurrency = max(1, concurrency)
            settings.perHost = max(1, perHost)
            settings.connections = min(9, max(1, connections))
            settings.runners = runners
            settings.workload = workload
            if directOnly { settings.paths = [("direct", 0)] }
            settings.importCPU = importCPU
            settings.compareCount = max(1, compare)
            settings.compareTicks = max(1, compareTicks)
            settings.library = !noLibrary
            settings.fixtures = fixtures
            return settings
        }
    }

    struct Row {
        var count: Int
        var rtt: Int
        var tickMs = 0.0
        var libraryMs: Double?
        var handshakes = 0
        var libraryHandshakes: Int?
        var commandsPerProject = 0.0
        var projectMs = (median: 0, slowest: 0)
        var tickCPU = 0.0
        var runnerCPU: Double?
        var peakRSS = 0.0
        var loopMs = 0.0
        var loopMeasured = 0
        var loopCPU = 0.0
        var loopRSS = 0.0
        var loopRunnerCPU: Double?
        var ratio: Double { loopMs / max(tickMs, 0.001) }
    }

    static func main() async {
        do {
            let arguments = Arguments.parseOrExit()
            if let count = arguments.bastion {
                try compareBastion(settings: arguments.settings, count: count)
            } else {
                try await run(arguments.settings)
            }
        } catch {
            FileHandle.standardError.write(Data("fleet-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run(_ settings: Settings) async throws {
        let started = ContinuousClock.now
        let (binary, replay) = try settings.setUpRunners(replayName: "replay")
        defer { replay?.remove() }
        let runnerCPU = CPUAccount(name: "mpf-fleet-bench-\(getpid())")
        let instruments = try RunnerInstruments(
            importCPUSeconds: settings.importCPU, fixtures: settings.fixtures)
        defer { instruments.remove() }
        let hosts = try (0..<3).map { _ in
            try SSHServer.runnerHost(replay: replay, instruments: instruments, cpu: runnerCPU)
        }
        defer { runnerCPU.remove() }
        defer { for host in hosts { host.stop() } }
        let relays = try hosts.map { try LatencyRelay(targetPort: $0.port, oneWayDelay: .milliseconds(25)) }
        defer { for relay in relays { relay.stop() } }
        var ports: [String: [Int]] = [:]
        for path in settings.paths {
            ports[path.label] = path.rtt == 0 ? hosts.map(\.port) : relays.map(\.port)
        }
        let largest = settings.sizes.max() ?? 10
        let fleet = try BenchFleet(
            hosts: hosts, ports: ports, count: max(largest, settings.loopSample), workload: settings.workload)
        defer { fleet.remove() }
        let environment = [
            "HOME": fleet.home, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "NO_COLOR": "1",
        ]
        let cores = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        print(
            "fleet-bench: \(fleet.projects.count) projects round-robin on 3 sshd hosts (127.0.0.1, account \(RunnerAccount.name)), \(cores) CPUs"
        )
        print("binary: \(binary)")
        print(
            "fleet.yaml defaults: concurrency \(settings.concurrency), per_host \(settings.perHost), connections_per_host \(settings.connections) (x 8 channels each)"
        )
        switch (settings.runners, settings.workload) {
        case (.replay, _):
            print(
                "Runners: replay. Every chain has an executing plan. Recording ticks run every command for real; then each runner answers a recorded command after \(settings.serviceMilliseconds) ms (sleep, no CPU), as a remote host with its own CPUs would. Client, network, SSH and sshd costs are real."
            )
        case (.live, .running):
            print(
                "Runners: live stand-ins on this machine (they compete with the client for its CPUs). Every chain has an executing plan: a tick reads it (state, spec, megaplan status, tmux, log, verify-human), refreshes sync state and re-reads, all in 1 command, and decides noop."
            )
        case (.live, .complete):
            print(
                "Runners: live stand-ins on this machine. Every chain is complete: a tick reads it, refreshes sync state and re-reads (1 command), decides done."
            )
        }

        // Warm-up (live) or recording (replay): every chain ticked for real twice, as cron would
        // have done before: the first tick of a chain validates its spec (two commands), the
        // second is the steady state that the measured ticks repeat (one command).
        let warmCount = fleet.projects.count
        let warmStarted = ContinuousClock.now
        // Each path has cloud.yaml files of its own (the relay's port), hence its own validated
        // specs; while recording, the second path's ticks are already answered from the record.
        for path in settings.paths {
            let file = try fleet.fleetFile(
                count: warmCount, label: path.label, concurrency: settings.concurrency,
                perHost: settings.perHost, connections: settings.connections)
            for _ in 0..<2 {
                let usage = try BenchProcess.measure(
                    [binary, "tick", "--all", "--fleet", file, "--known-hosts", fleet.knownHosts],
                    environment: environment)
                guard usage.status == 0 else { throw BenchError("warm-up tick exited \(usage.status)") }
            }
        }
        let comparison = try compareProbes(
            settings: settings, fleet: fleet, binary: binary, environment: environment, runnerCPU: runnerCPU,
            instruments: instruments)
        if let replay {
            try replay.replay()
            print(
                String(
                    format: "Recorded %d chains in %.1f s.", warmCount,
                    (ContinuousClock.now - warmStarted).secondsDouble))
        }

        var rows: [Row] = []
        print("")
        print(header)
        for path in settings.paths {
            var pathRows: [Row] = []
            for count in settings.sizes.sorted() {
                var row = Row(count: count, rtt: path.rtt)
                let file = try fleet.fleetFile(
                    count: count, label: path.label, concurrency: settings.concurrency,
                    perHost: settings.perHost, connections: settings.connections)

                // The product as cron runs it: one `tick --all` process.
                let output = fleet.directory + "/tick-\(count)-\(path.label).jsonl"
                let runnersBefore = runnerCPU.seconds
                let usage = try BenchProcess.measure(
                    [binary, "tick", "--all", "--fleet", file, "--known-hosts", fleet.knownHosts],
                    environment: environment, stdoutPath: output, stderrPath: output + ".err")
                row.runnerCPU = runnerCPU.seconds.flatMap { after in runnersBefore.map { after - $0 } }
                let summary = try check(
                    output: output, usage: usage, count: count, status: settings.workload.effectiveStatus)
                row.tickMs = usage.wallSeconds * 1000
                row.tickCPU = usage.cpuSeconds
                row.peakRSS = usage.peakRSSMiB
                row.handshakes = summary.handshakes
                row.commandsPerProject = Double(summary.commands) / Double(count)
                row.projectMs = (summary.medianProject, summary.slowestProject)

                // The same ticks in-process through the library (FleetRun, one pool); live
                // runners make large rows slow, so those skip it.
                if settings.library, replay != nil || count <= 50 {
                    let (ms, handshakes) = try await libraryTick(file: file, fleet: fleet, count: count)
                    row.libraryMs = ms
                    row.libraryHandshakes = handshakes
                }
                pathRows.append(row)
            }

            // The cron loop: one fresh `supervise --chain` process per project, one after another,
            // measured once on the first projects; a row of N sums the first N (or extrapolates).
            let measured = min(settings.loopSample, settings.sizes.max() ?? 0)
            var singles: [ChildUsage] = []
            var loopRunnerCPU: [Double] = []
            for project in fleet.projects.prefix(measured) {
                let runnersBefore = runnerCPU.seconds ?? 0
                let single = try BenchProcess.measure(
                    [
                        binary, "supervise", "--chain", "--cloud-yaml", project.cloudYAML[path.label]!,
                        "--known-hosts", fleet.knownHosts,
                    ], environment: environment)
                guard single.status == 0 else {
                    throw BenchError("supervise --chain for \(project.name) exited \(single.status)")
                }
                singles.append(single)
                loopRunnerCPU.append((runnerCPU.seconds ?? 0) - runnersBefore)
            }
            for index in pathRows.indices {
                let count = pathRows[index].count
                let used = singles.prefix(count)
                let scale = Double(count) / Double(used.count)
                pathRows[index].loopMeasured = used.count
                pathRows[index].loopMs = used.map(\.wallSeconds).reduce(0, +) * 1000 * scale
                pathRows[index].loopCPU = used.map(\.cpuSeconds).reduce(0, +) * scale
                pathRows[index].loopRSS = used.map(\.peakRSSMiB).max() ?? 0
                pathRows[index].loopRunnerCPU =
                    runnerCPU.seconds == nil ? nil : loopRunnerCPU.prefix(count).reduce(0, +) * scale
                print(line(pathRows[index]))
            }
            rows += pathRows
        }
        print(legend)
        if let replay {
            print("Replay misses (commands answered live while replaying): \(replay.misses)")
        }
        print(String(format: "Benchmark wall time: %.0f s", (ContinuousClock.now - started).secondsDouble))
        print("")
        targets(rows, settings: settings)
        comparison.targets()
    }

    struct SummaryFigures {
        var handshakes: Int
        /// Of `handshakes`, the inner sessions opened through a jump host.
        var tunnelledHandshakes: Int
        var commands: Int
        /// Median and largest duration_ms of the project lines.
        var medianProject: Int
        var slowestProject: Int
    }

    /// Every project line is ok and there is exactly one per project; returns the summary figures.
    static func check(output: String, usage: ChildUsage, count: Int, status: EffectiveStatus) throws
        -> SummaryFigures
    {
        let text = FileSystem.readText(output) ?? ""
        guard usage.status == 0 else {
            throw BenchError(
                "tick --all exited \(usage.status): \(text.suffix(2000)) \(FileSystem.readText(output + ".err") ?? "")"
            )
        }
        let lines = try text.split(separator: "\n").map { try JSONValue.parse(String($0)) }
        let projects = lines.filter { $0["summary"] == nil }
        guard projects.count == count, Set(projects.compactMap { $0["project"]?.stringValue }).count == count
        else {
            throw BenchError("tick --all printed \(projects.count) project lines for \(count) projects")
        }
        if let bad = projects.first(where: {
            $0["outcome"]?.stringValue.flatMap(FleetLine.Outcome.init(rawValue:)) != .ok
                || $0["report"]?["effective_status"]?.stringValue.flatMap(EffectiveStatus.init(rawValue:))
                    != status
        }) {
            throw BenchError("a project did not tick cleanly: \(bad.serialized())")
        }
        guard let summary = lines.last?["summary"], case .int(let handshakes)? = summary["ssh_handshakes"],
            case .int(let tunnelled)? = summary["ssh_handshakes_through_jump_hosts"],
            case .int(let commands)? = summary["remote_commands"]
        else { throw BenchError("no summary line") }
        let durations = projects.compactMap { line -> Int? in
            if case .int(let value)? = line["duration_ms"] { return value }
            return nil
        }.sorted()
        return SummaryFigures(
            handshakes: handshakes, tunnelledHandshakes: tunnelled, commands: commands,
            medianProject: durations[durations.count / 2],
            slowestProject: durations.last ?? 0)
    }

    static func libraryTick(file: String, fleet: BenchFleet, count: Int) async throws -> (Double, Int) {
        let run = try FleetRun.load(
            path: file, operation: .supervise, ssh: SSHConfiguration(knownHostsPath: fleet.knownHosts),
            home: fleet.home)
        let result = await run.run()
        let summary = result.summary
        // The tick itself: the pool's shutdown is not part of it.
        let wall = Double(summary.wallMilliseconds) - result.shutdown.secondsDouble * 1000
        guard summary.projects == count, summary.outcomes[.ok] == count else {
            throw BenchError("library tick: \(summary.json.serialized())")
        }
        return (wall, result.statistics.handshakes)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    static let widths = [4, 4, 8, 8, 12, 10, 9, 10, 12, 11, 13, 10, 12, 11, 8]

    static var header: String {
        let names = [
            "N", "RTT", "tick ms", "lib ms", "project ms", "handshakes", "cmds/proj", "tick CPU s",
            "sshd CPU s",
            "peak RSS MB", "loop ms", "loop CPU s", "loop sshd CPU", "loop RSS MB", "speed-up",
        ]
        return zip(names, widths).map { pad($0, $1) }.joined(separator: "  ")
    }

    static func line(_ row: Row) -> String {
        let loop =
            row.loopMeasured < row.count
            ? String(format: "%.0f*%d", row.loopMs, row.loopMeasured) : String(format: "%.0f", row.loopMs)
        func figure(_ value: Double?, _ format: String) -> String {
            guard let value else { return "-" }
            return String(format: format, value)
        }
        let handshakes: String =
            row.libraryHandshakes.map { "\(row.handshakes)/\($0)" } ?? String(row.handshakes)
        var cells: [String] = [String(row.count), String(row.rtt), figure(row.tickMs, "%.0f")]
        cells.append(figure(row.libraryMs, "%.0f"))
        cells.append("\(row.projectMs.median)/\(row.projectMs.slowest)")
        cells.append(handshakes)
        cells.append(figure(row.commandsPerProject, "%.1f"))
        cells.append(figure(row.tickCPU, "%.2f"))
        cells.append(figure(row.runnerCPU, "%.2f"))
        cells.append(figure(row.peakRSS, "%.1f"))
        cells.append(loop)
        cells.append(figure(row.loopCPU, "%.2f"))
        cells.append(figure(row.loopRunnerCPU, "%.2f"))
        cells.append(figure(row.loopRSS, "%.1f"))
        cells.append(figure(row.ratio, "%.1fx"))
        return zip(cells, widths).map { pad($0, $1) }.joined(separator: "  ")
    }

    static let legend = """
        tick ms: wall time of one `megaplan-fleet tick --all` process (what cron runs); lib ms: the
        same ticks in-process through FleetRun. project ms: median/slowest duration_ms of the
        project lines. handshakes: SSH sessions opened by the tick
        process (/ in-process). cmds/proj: remote commands per project. tick CPU s and peak RSS MB:
        the tick process (wait4). sshd CPU s: the three sshd hosts and every command they ran during
        the tick (the runner side, on this machine's CPUs too). loop: one fresh `megaplan-fleet
        supervise --chain` process per project, one after another, measured in this run;
        *K = extrapolated to N from the first K projects.
        """

    static func targets(_ rows: [Row], settings: Settings) {
        func verdict(_ met: Bool) -> String { met ? "MET" : "NOT MET" }
        print("Targets")
        if let row = rows.first(where: { $0.count == 50 && $0.rtt == 50 }) {
            print(
                String(
                    format:
                        "  50 projects at 50 ms RTT: %.1fx faster than the one-at-a-time loop (target >= 15x): %@",
                    row.ratio, verdict(row.ratio >= 15)))
        }
        for rtt in Set(rows.map(\.rtt)).sorted() {
            let byCount = rows.filter { $0.rtt == rtt }
            if let small = byCount.first(where: { $0.count == 10 }),
                let large = byCount.first(where: { $0.count == 200 })
            {
                let factor = large.tickMs / small.tickMs
                var text = String(
                    format:
                        "  200 vs 10 projects at %d ms RTT: %.0f ms vs %.0f ms = %.1fx (target <= 2x): %@",
                    rtt, large.tickMs, small.tickMs, factor, verdict(factor <= 2))
                text += "; median project \(large.projectMs.median) ms vs \(small.projectMs.median) ms"
                if let largeCPU = large.runnerCPU, let smallCPU = small.runnerCPU {
                    text += String(format: "; runner side CPU %.2f s vs %.2f s", largeCPU, smallCPU)
                }
                print(text)
            }
        }
        let peak = rows.map(\.peakRSS).max() ?? 0
        print(
            String(
                format: "  peak RSS of tick --all: %.1f MB (target < 100 MB): %@", peak, verdict(peak < 100)))
        let maxHandshakes = rows.map(\.handshakes).max() ?? 0
        print(
            "  SSH handshakes per tick: at most \(maxHandshakes) (3 hosts x at most \(settings.connections) pooled connections = \(3 * settings.connections), whatever N): \(verdict(maxHandshakes <= 3 * settings.connections))"
        )
    }
}

extension FleetBench.Settings {
    /// The release binary, and the replay (nil for live runners) on a prepared runner account.
    func setUpRunners(replayName: String) throws -> (binary: String, replay: RunnerReplay?) {
        let runners = try BenchRunners(
            mode: runners, serviceMilliseconds: serviceMilliseconds, fixtures: fixtures,
            replayName: replayName)
        return (runners.binary, runners.replay)
    }
}
