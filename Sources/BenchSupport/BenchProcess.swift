import FleetCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

public struct BenchError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What a finished child process cost.
public struct ChildUsage: Sendable {
    /// Exit status (128+N after signal N).
    public var status: Int32
    public var wallSeconds: Double
    /// User + system CPU of the child (and the children it waited for).
    public var cpuSeconds: Double
    /// Peak resident set size in MiB.
    public var peakRSSMiB: Double
}

/// Child processes with posix_spawn: a chosen environment, output to files, and wait4 usage.
public enum BenchProcess {
    /// Output files are truncated unless `append`; the same path for both streams shares one
    /// descriptor; a nil path leaves the stream this process's own. `newGroup`: the child leads a
    /// process group of its own.
    public static func spawn(
        _ arguments: [String], environment: [String: String]? = nil, stdoutPath: String? = "/dev/null",
        stderrPath: String? = "/dev/null", append: Bool = false, newGroup: Bool = false
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let mode = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let stdoutPath { posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, mode, 0o644) }
        if let stderrPath, stderrPath == stdoutPath {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else if let stderrPath {
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath, mode, 0o644)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        SpawnAttributes.clean(&attributes, newGroup: newGroup)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let rc: Int32
        if let environment {
            let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { for pointer in envp { free(pointer) } }
            rc = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        } else {
            rc = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        }
        guard rc == 0 else {
            throw BenchError("posix_spawn \(arguments[0]): \(String(cString: strerror(rc)))")
        }
        return pid
    }

    /// The peak resident set of the running process `pid` (`VmHWM`), in MiB; 0 once it is gone.
    /// A spawned child's peak must be sampled so, while it runs: wait4's `ru_maxrss` is no use,
    /// because exec records the spawning process's own peak as the child's (the child starts as a
    /// copy of its parent), so a large test or benchmark process inflates every child's figure.
    public static func peakRSSMiB(of pid: pid_t) -> Double {
        for line in (FileSystem.readText("/proc/\(pid)/status") ?? "").split(separator: "\n")
        where line.hasPrefix("VmHWM:") {
            return (line.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0) / 1024
        }
        return 0
    }

    /// Waits for `pid` and reports its usage (the peak RSS sampled every 5 ms while it runs).
    public static func wait(_ pid: pid_t, started: ContinuousClock.Instant) -> ChildUsage {
        var status: Int32 = 0
        var usage = rusage()
        var peak = 0.0
        while true {
            peak = max(peak, peakRSSMiB(of: pid))
            let rc = wait4(pid, &status, WNOHANG, &usage)
            if rc == pid || (rc < 0 && errno != EINTR) { break }
            usleep(5_000)
        }
        let wall = (ContinuousClock.now - started).secondsDouble
        let cpu =
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
        let exit = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ChildUsage(
            status: exit, wallSeconds: wall, cpuSeconds: cpu, peakRSSMiB: peak)
    }

    /// Runs a program to completion and measures it.
    public static func measure(
        _ arguments: [String], environment: [String: String]? = nil, stdoutPath: String? = "/dev/null",
        stderrPath: String? = "/dev/null"
    ) throws -> ChildUsage {
        let started = ContinuousClock.now
        let pid = try spawn(
            arguments, environment: environment, stdoutPath: stdoutPath, stderrPath: stderrPath)
        return wait(pid, started: started)
    }

    /// Runs a program; throws with its output when it fails.
    @discardableResult
    public static func run(_ arguments: [String]) throws -> String {
        let output = NSTemporaryDirectory() + "fleet-bench-\(UUID().uuidString)"
        defer { unlink(output) }
        let usage = try measure(arguments, stdoutPath: output, stderrPath: output)
        let text = FileSystem.readText(output) ?? ""
        guard usage.status == 0 else {
            throw BenchError("\(arguments.joined(separator: " ")) exited \(usage.status): \(text)")
        }
        return text
    }

    /// The megaplan-fleet binary built beside this executable (release products sit side by side).
    public static func siblingMegaplanFleet() throws -> String {
        let binary = executableDirectory + "/megaplan-fleet"
        guard FileSystem.isRegularFile(binary) else {
            throw BenchError("\(binary) not found: build the megaplan-fleet product into the same directory")
        }
        return binary
    }

    /// This executable's directory (release products sit side by side).
    public static var executableDirectory: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return FileSystem.currentDirectory() }
        return PosixPath.dirname(
            String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Busy CPU seconds of the whole machine so far (/proc/stat), every process included: on
    /// loopback the "remote" runners share the CPUs with the client.
    public static func machineBusySeconds() -> Double {
        guard let text = FileSystem.readText("/proc/stat"), let first = text.split(separator: "\n").first
        else {
            return 0
        }
        let fields = first.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 5 else { return 0 }
        let idle = fields[3] + fields[4]
        let hertz = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (fields.reduce(0, +) - idle) / (hertz > 0 ? hertz : 100)
    }

    /// User + system CPU seconds of this process so far.
    public static func selfCPUSeconds() -> Double { cpuSeconds(RUSAGE_SELF) }

    /// User + system CPU seconds of this process's terminated and waited-for children so far.
    public static func childrenCPUSeconds() -> Double { cpuSeconds(RUSAGE_CHILDREN) }

    private static func cpuSeconds(_ who: __rusage_who) -> Double {
        var usage = rusage()
        getrusage(who.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }
}
