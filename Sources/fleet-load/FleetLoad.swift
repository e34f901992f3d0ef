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

/// Load run (issue 7): 500 projects on 5 sshd hosts, ticked 20 times in a row in this process
/// (`FleetRun`: a fresh pool per tick shut down afterwards, as `tick --all`
/// does) and then in 20 separate `megaplan-fleet tick --all` processes. Reports wall time per
/// tick, RSS and peak RSS, and descriptor and thread counts after each tick, and fails when the
/// descriptors or threads grow from tick to tick. Run it with scripts/load.sh (release build).
@main
struct FleetLoad {
    struct Settings {
        var projects = 500
        var hosts = 5
        var ticks = 20
        var runners = RunnerMode.replay
        var serviceMilliseconds = 50
        /// The product's defaults (fleet.yaml `defaults`).
        var concurrency = 16
        var perHost = 8
        var inProcess = true
        var processes = true
        /// Instead of the load ticks: a healthy tick against ticks where every runner is hostile.
        var hostile = false
        var fixtures = RunnerAccount.checkoutFixtures
    }

    /// The command line (scripts/load.sh passes it through).
    /// A command only for its parser and help (`run` is never called): main runs the benchmark.
    struct Arguments: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "fleet-load")

        @Option(help: "Projects in the fleet.") var projects = Settings().projects
        @Option(help: "sshd hosts they share.") var hosts = Settings().hosts
        @Option(help: "Ticks in a row (at least 2).") var ticks = Settings().ticks
        @Option(help: "How the runners answer.") var runners = Settings().runners
        @Option(help: "Milliseconds a replayed answer takes.") var serviceMs = Settings().serviceMilliseconds
        @Option(help: "Projects in flight across the fleet.") var concurrency = Settings().concurrency
        @Option(help: "Projects in flight on one host.") var perHost = Settings().perHost
        @Flag(help: "Only the ticks in this process.") var inProcessOnly = false
        @Flag(help: "Only the ticks in separate processes.") var processesOnly = false
        @Flag(help: "A healthy tick against ticks where every runner is hostile.") var hostile = false
        @Option(help: "The runner fixtures directory.") var fixtures = Settings().fixtures

        func validate() throws {
            for (name, value) in [
                ("--projects", projects), ("--hosts", hosts), ("--ticks", ticks), ("--service-ms", serviceMs),
                ("--concurrency", concurrency), ("--per-host", perHost),
            ] where value < 0 {
                throw ValidationError("\(name) takes a number, at least 0")
            }
        }

        var settings: Settings {
            var settings = Settings()
            settings.projects = max(1, projects)
            settings.hosts = max(1, hosts)
            settings.ticks = max(2, ticks)
            settings.runners = runners
            settings.serviceMilliseconds = serviceMs
            settings.concurrency = max(1, concurrency)
            settings.perHost = max(1, perHost)
            settings.processes = !inProcessOnly
            settings.inProcess = !processesOnly
            settings.hostile = hostile
            settings.fixtures = fixtures
            return settings
        }
    }

    static func main() async {
        do {
            let healthy = try await run(Arguments.parseOrExit().settings)
            exit(healthy ? 0 : 1)
        } catch {
            FileHandle.standardError.write(Data("fleet-load: \(error)\n".utf8))
            exit(2)
        }
    }

    /// One measured tick.
    struct Sample {
        var wallMs: Double
        var rssMiB: Double
        var heapMiB: Double? = nil
        var peakRSSMiB: Double
        var descriptors: Int
        var threads: Int
        /// Threads waiting in poll (SSH I/O threads) after the tick.
        var pollThreads = 0
        var cpuSeconds: Double
        var handshakes: Int
        var commands: Int
        var status: Int32 = 0
    }

    static func run(_ settings: Settings) async throws -> Bool {
        let started = ContinuousClock.now
        let runners = try BenchRunners(
            mode: settings.runners, serviceMilliseconds: settings.serviceMilliseconds,
            fixtures: settings.fixtures, replayName: "load-replay")
        let binary = runners.binary
        let replay = runners.replay
        defer { replay?.remove() }
        let hosts = try (0..<settings.hosts).map { _ in try SSHServer.runnerHost(replay: replay) }
        defer { for host in hosts { host.stop() } }
        let setupStarted = ContinuousClock.now
        let fleet = try BenchFleet(
            hosts: hosts, ports: ["direct": hosts.map(\.port)], count: settings.projects, workload: .running)
        defer { fleet.remove() }
        let file = try fleet.fleetFile(
            count: settings.projects, label: "direct", concurrency: settings.concurrency,
            perHost: settings.perHost)
        let environment = [
            "HOME": fleet.home, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "NO_COLOR": "1",
        ]
        say(
            "fleet-load: \(settings.projects) projects round-robin on \(settings.hosts) sshd hosts (127.0.0.1, account \(RunnerAccount.name)), \(sysconf(Int32(_SC_NPROCESSORS_ONLN))) CPUs; set up in \(format((ContinuousClock.now - setupStarted).secondsDouble, "%.1f")) s"
        )
        say("binary: \(binary)")
        say(
            "fleet.yaml defaults: concurrency \(settings.concurrency), per_host \(settings.perHost), connections_per_host 3, deadline 60 s"
        )
        switch settings.runners {
        case .replay:
            say(
                "Runners: replay. Every chain has an executing plan (a tick: status read, sync refresh and re-read in one command, decision noop). Recording ticks run every command for real; afterwards each runner answers a recorded command after \(settings.serviceMilliseconds) ms (sleep, no CPU). Client, SSH and sshd costs are real."
            )
        case .live:
            say("Runners: live stand-ins on this machine (they share its CPUs with the client).")
        }

        // Recording (replay) or warm-up (live): two tick processes over the whole fleet, since
        // a chain's first tick validates its spec (two commands) and the second is the steady
        // state (one command) that the measured ticks repeat.
        let warmStarted = ContinuousClock.now
        for _ in 0..<2 {
            let warm = try measureProcess(
                binary: binary, file: file, knownHosts: fleet.knownHosts, environment: environment,
                output: fleet.directory + "/warm.jsonl")
            guard warm.status == 0 else { throw BenchError("warm-up tick exited \(warm.status)") }
            try check(output: fleet.directory + "/warm.jsonl", count: settings.projects)
        }
        if let replay { try replay.replay() }
        say(
            "\(replay == nil ? "Warm-up" : "Recording") ticks: \(format((ContinuousClock.now - warmStarted).secondsDouble, "%.1f")) s"
        )

        var healthy = true
        if settings.hostile {
            guard let replay else { throw BenchError("--hostile needs replayed runners") }
            healthy = try HostileRun.run(
                binary: binary, file: file, fleet: fleet, environment: environment, replay: replay,
                projects: settings.projects)
        } else if settings.inProcess {
            healthy = try await inProcess(settings, file: file, fleet: fleet) && healthy
        }
        if settings.processes && !settings.hostile {
            healthy =
                try processes(
                    settings, binary: binary, file: file, fleet: fleet, environment: environment) && healthy
        }
        if let replay { say("Replay misses (commands answered live while replaying): \(replay.misses)") }
        say("Load run wall time: \(format((ContinuousClock.now - started).secondsDouble, "%.0f")) s")
        say(healthy ? "RESULT: no growth" : "RESULT: GROWTH or failures (see above)")
        return healthy
    }

    // MARK: in process

    static func inProcess(_ settings: Settings, file: String, fleet: BenchFleet) async throws -> Bool {
        let run = try FleetRun.load(
            path: file, operation: .supervise, ssh: SSHConfiguration(knownHostsPath: fleet.knownHosts),
            home: fleet.home)
        let before = (descriptors: ProcessFigures.descriptors(), threads: ProcessFigures.threads())
        say("")
        say(
            "In process: \(settings.ticks) ticks in a row (a fresh SSHPool per tick, shut down after it, as `tick --all` does); before the first: \(before.descriptors) fds, \(before.threads) threads, RSS \(format(ProcessFigures.rssMiB(), "%.1f")) MiB"
        )
        say(
            header([
                "tick", "wall ms", "RSS MiB", "peak MiB", "heap MiB", "fds", "threads", "CPU s", "handshakes",
                "commands",
            ]))
        var samples: [Sample] = []
        for index in 1...settings.ticks {
            let cpuBefore = BenchProcess.selfCPUSeconds()
            let tickStarted = ContinuousClock.now
            let result = await run.run()
            let (summary, statistics) = (result.summary, result.statistics)
            let wall = (ContinuousClock.now - tickStarted).secondsDouble * 1000
            guard summary.projects == settings.projects, summary.outcomes[.ok] == settings.projects else {
                throw BenchError("in-process tick \(index): \(summary.json.serialized())")
            }
            let sample = Sample(
                wallMs: wall, rssMiB: ProcessFigures.rssMiB(), heapMiB: ProcessFigures.heapInUseMiB(),
                peakRSSMiB: ProcessFigures.peakRSSMiB(),
                descriptors: ProcessFigures.descriptors(), threads: ProcessFigures.threads(),
                cpuSeconds: BenchProcess.selfCPUSeconds() - cpuBefore, handshakes: statistics.handshakes,
                commands: summary.remoteCommands)
            var measured = sample
            let states = ProcessFigures.threadStates()
            measured.pollThreads = (states["poll"] ?? 0) + (states["ppoll"] ?? 0)
            if let previous = samples.last, previous.threads != sample.threads {
                say(
                    "       threads \(previous.threads) -> \(sample.threads): \(ProcessFigures.describe(states))"
                )
            }
            samples.append(measured)
            say(
                row([
                    String(index), format(sample.wallMs, "%.0f"), format(sample.rssMiB, "%.1f"),
                    format(sample.peakRSSMiB, "%.1f"), sample.heapMiB.map { format($0, "%.1f") } ?? "-",
                    String(sample.descriptors), String(sample.threads),
                    format(sample.cpuSeconds, "%.2f"), String(sample.handshakes), String(sample.commands),
                ]))
        }
        // Growth: the figures after the first tick are the steady state (the runtime's worker
        // threads and lazily opened files exist by then); later ticks must not exceed them.
        let first = samples[0]
        let later = samples.dropFirst()
        let fdGrowth = (later.map(\.descriptors).max() ?? 0) - first.descriptors
        let threadGrowth = (later.map(\.threads).max() ?? 0) - first.threads
        let rssGrowth = (samples.last?.rssMiB ?? 0) - (samples.count > 1 ? samples[1].rssMiB : first.rssMiB)
        var heapGrowth: Double?
        if let last = samples.last?.heapMiB, let second = samples[1].heapMiB { heapGrowth = last - second }
        let walls = samples.map(\.wallMs).sorted()
        say(
            "In process: wall per tick median \(format(walls[walls.count / 2], "%.0f")) ms (min \(format(walls.first!, "%.0f")), max \(format(walls.last!, "%.0f"))); peak RSS \(format(samples.map(\.peakRSSMiB).max() ?? 0, "%.1f")) MiB; fds after tick 1 \(first.descriptors), max after later ticks \(first.descriptors + fdGrowth) (growth \(fdGrowth)); threads after tick 1 \(first.threads), max later \(first.threads + threadGrowth) (growth \(threadGrowth)); RSS tick 2 -> tick \(samples.count): \(format(rssGrowth, "%+.1f")) MiB, heap in use \(heapGrowth.map { format($0, "%+.2f") } ?? "-") MiB"
        )
        // Every SSH I/O thread is joined at shutdown; the Swift runtime's and Dispatch's worker
        // threads may come and go, bounded by the CPU count.
        let leftover = samples.map(\.pollThreads).max() ?? 0
        let workerBound = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let ok = fdGrowth <= 0 && leftover == 0 && threadGrowth <= workerBound
        say(
            "In process: SSH I/O threads left after a tick's shutdown: at most \(leftover); descriptors \(fdGrowth <= 0 ? "do not grow" : "GROW"); threads \(threadGrowth <= 0 ? "do not grow" : threadGrowth <= workerBound ? "grew by \(threadGrowth) (runtime worker threads, within the \(workerBound)-CPU bound)" : "GROW")"
        )
        return ok
    }

    // MARK: separate processes

    static func processes(
        _ settings: Settings, binary: String, file: String, fleet: BenchFleet, environment: [String: String]
    ) throws -> Bool {
        say("")
        say(
            "Separate processes: \(settings.ticks) x `megaplan-fleet tick --all` (CPU from wait4; peak RSS (VmHWM), fds and threads sampled every 10 ms while it runs, the largest seen)"
        )
        say(
            header(["tick", "wall ms", "peak MiB", "max fds", "max thr", "CPU s", "handshakes", "commands"]))
        var samples: [Sample] = []
        for index in 1...settings.ticks {
            let output = fleet.directory + "/tick-\(index).jsonl"
            let sample = try measureProcess(
                binary: binary, file: file, knownHosts: fleet.knownHosts, environment: environment,
                output: output)
            guard sample.status == 0 else {
                throw BenchError(
                    "tick process \(index) exited \(sample.status): \(FileSystem.readText(output + ".err") ?? "")"
                )
            }
            let summary = try check(output: output, count: settings.projects)
            var measured = sample
            measured.handshakes = summary.handshakes
            measured.commands = summary.commands
            samples.append(measured)
            say(
                row([
                    String(index), format(measured.wallMs, "%.0f"), format(measured.peakRSSMiB, "%.1f"),
                    String(measured.descriptors), String(measured.threads),
                    format(measured.cpuSeconds, "%.2f"),
                    String(measured.handshakes), String(measured.commands),
                ]))
        }
        let walls = samples.map(\.wallMs).sorted()
        let peaks = samples.map(\.peakRSSMiB).sorted()
        say(
            "Separate processes: wall per tick median \(format(walls[walls.count / 2], "%.0f")) ms (min \(format(walls.first!, "%.0f")), max \(format(walls.last!, "%.0f"))); peak RSS median \(format(peaks[peaks.count / 2], "%.1f")) MiB (max \(format(peaks.last!, "%.1f"))); max fds \(samples.map(\.descriptors).max() ?? 0), max threads \(samples.map(\.threads).max() ?? 0)"
        )
        return true
    }

    /// Runs one `tick --all` process, sampling its descriptors and threads while it runs.
    static func measureProcess(
        binary: String, file: String, knownHosts: String, environment: [String: String], output: String
    ) throws -> Sample {
        let started = ContinuousClock.now
        let pid = try BenchProcess.spawn(
            [binary, "tick", "--all", "--fleet", file, "--known-hosts", knownHosts], environment: environment,
            stdoutPath: output, stderrPath: output + ".err")
        var maxDescriptors = 0
        var maxThreads = 0
        var peakRSS = 0.0
        var status: Int32 = 0
        var usage = rusage()
        while true {
            peakRSS = max(peakRSS, BenchProcess.peakRSSMiB(of: pid))
            let rc = wait4(pid, &status, WNOHANG, &usage)
            if rc == pid { break }
            if rc < 0 && errno != EINTR {
                throw BenchError("wait4 failed: \(String(cString: strerror(errno)))")
            }
            maxDescriptors = max(maxDescriptors, ProcessFigures.descriptors(of: "\(pid)"))
            maxThreads = max(maxThreads, ProcessFigures.threads(of: "\(pid)"))
            usleep(10_000)
        }
        let cpu =
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
        return Sample(
            wallMs: (ContinuousClock.now - started).secondsDouble * 1000, rssMiB: 0,
            peakRSSMiB: peakRSS, descriptors: maxDescriptors, threads: maxThreads,
            cpuSeconds: cpu, handshakes: 0, commands: 0,
            status: status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
    }

    /// Every project line is ok, one per project; returns the summary's handshakes and commands.
    @discardableResult
    static func check(output: String, count: Int) throws -> (handshakes: Int, commands: Int) {
        let text = FileSystem.readText(output) ?? ""
        let lines = try text.split(separator: "\n").map { try JSONValue.parse(String($0)) }
        let projects = lines.filter { $0["summary"] == nil }
        guard projects.count == count, Set(projects.compactMap { $0["project"]?.stringValue }).count == count
        else {
            throw BenchError("tick --all printed \(projects.count) project lines for \(count) projects")
        }
        if let bad = projects.first(where: { $0["outcome"]?.stringValue != "ok" }) {
            throw BenchError("a project did not tick cleanly: \(bad.serialized())")
        }
        guard let summary = lines.last?["summary"], case .int(let handshakes)? = summary["ssh_handshakes"],
            case .int(let commands)? = summary["remote_commands"]
        else { throw BenchError("no summary line") }
        return (handshakes, commands)
    }

    static func format(_ value: Double, _ pattern: String) -> String { String(format: pattern, value) }

    static let widths = [5, 9, 9, 9, 9, 8, 8, 7, 11, 9]

    static func header(_ names: [String]) -> String { row(names) }

    static func row(_ cells: [String]) -> String {
        zip(cells, widths).map { cell, width in
            cell.count >= width ? cell : String(repeating: " ", count: width - cell.count) + cell
        }.joined(separator: "  ")
    }
}

/// This process's (or another's) resident memory, descriptors and threads, from /proc.
enum ProcessFigures {
    static func descriptors(of pid: String = "self") -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
    }

    static func threads(of pid: String = "self") -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).count
    }

    /// What each thread of this process is blocked in (x86-64 system call names for the usual
    /// waits), e.g. ["futex": 3, "epoll_wait": 1, "running": 1]. An SSH connection's I/O thread
    /// waits in `poll`; after a pool's shutdown there must be none.
    static func threadStates() -> [String: Int] {
        let names = [
            "7": "poll", "271": "ppoll", "202": "futex", "232": "epoll_wait", "281": "epoll_pwait",
            "0": "read", "230": "clock_nanosleep", "35": "nanosleep", "61": "wait4", "running": "running",
        ]
        var states: [String: Int] = [:]
        for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? [] {
            let text = FileSystem.readText("/proc/self/task/\(task)/syscall") ?? "?"
            let number = String(text.split(separator: " ").first ?? "?").trimmingCharacters(
                in: .whitespacesAndNewlines)
            states[names[number] ?? "syscall \(number)", default: 0] += 1
        }
        return states
    }

    static func describe(_ states: [String: Int]) -> String {
        states.keys.sorted().map { "\($0) \(states[$0]!)" }.joined(separator: ", ")
    }

    /// A `kB` field of /proc/self/status, in MiB.
    static func status(_ field: String) -> Double {
        for line in (FileSystem.readText("/proc/self/status") ?? "").split(separator: "\n")
        where line.hasPrefix(field + ":") {
            let number = line.split(separator: " ").dropFirst().first { Double($0) != nil }
            return (number.flatMap { Double($0) } ?? 0) / 1024
        }
        return 0
    }

    static func rssMiB() -> Double { status("VmRSS") }

    private typealias MallocInfo = @convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32

    /// Bytes the allocator has handed out and not had back, in MiB (glibc `malloc_info`: memory
    /// taken from the system minus the free chunks, plus mmapped blocks). Unlike the RSS it does
    /// not count fragmentation, so a leak shows as growth here. nil without glibc's malloc_info.
    static func heapInUseMiB() -> Double? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_info") else { return nil }
        let mallocInfo = unsafeBitCast(symbol, to: MallocInfo.self)
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var length = 0
        guard let file = open_memstream(&buffer, &length) else { return nil }
        _ = mallocInfo(0, file)
        fclose(file)
        guard let buffer else { return nil }
        defer { free(buffer) }
        let lines = String(cString: buffer).split(separator: "\n")
        guard let last = lines.lastIndex(where: { $0.hasPrefix("</heap>") }) else { return nil }
        func figure(_ prefix: String) -> Double {
            guard let line = lines[last...].first(where: { $0.hasPrefix(prefix) }) else { return 0 }
            let parts = line.split(separator: "\"", omittingEmptySubsequences: false)
            guard let key = parts.firstIndex(where: { $0.hasSuffix("size=") }), key + 1 < parts.count else {
                return 0
            }
            return Double(parts[key + 1]) ?? 0
        }
        let current = figure("<system type=\"current\"")
        let free = figure("<total type=\"fast\"") + figure("<total type=\"rest\"")
        return (current - free + figure("<total type=\"mmap\"")) / 1_048_576
    }
    static func peakRSSMiB() -> Double { status("VmHWM") }
}

/// Prints a line and flushes it at once (the run is long; its report is read as it goes).
func say(_ text: String) {
    print(text)
    fflush(nil)
}
