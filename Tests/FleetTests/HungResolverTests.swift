import BenchSupport
import FleetCore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A DNS resolver that never answers, for real: the binary runs in its own mount and network
/// namespaces (`unshare -m -n`, root only) where /etc/resolv.conf is bind-mounted to name
/// 127.0.0.1, on whose port 53 a UDP socket we own reads the queries (marking the first) and
/// answers none. glibc then waits 30 s per try, five times, so the lookup of the runner's name
/// hangs for two and a half minutes: anything that waits for it fails every bound below.
@Suite(
    "a resolver that never answers",
    .enabled(if: HungResolver.isAvailable, "needs root and unshare (util-linux) and ip (iproute2)"))
struct HungResolverTests {
    /// The project's line says `timeout` at its deadline and the process ends soon after (the
    /// pool no longer waits for the lookup), so the fleet lock is free and `wall_ms` is the real
    /// wall time. Once it ended only when the resolver gave up.
    @Test(.timeLimit(.minutes(2)))
    func deadlineEndsTheRunWhateverTheResolverDoes() async throws {
        let stand = try HungResolver()
        let clock = ContinuousClock()
        let started = clock.now
        let running = try stand.startTick(deadline: 3)
        try #require(await stand.queried(), "no DNS query came: \(running.stderrSoFar)")
        let queried = clock.now
        let status = await running.wait(timeout: .seconds(90))
        let elapsed = clock.now - queried
        let total = clock.now - started
        if status == nil { running.forceStop() }
        #expect(status == 1, "exit \(String(describing: status)) after \(elapsed); \(running.stderrSoFar)")
        // Deadline 3 s, plus generous room for a busy machine; the resolver alone takes 150 s.
        #expect(elapsed < .seconds(3 + 20), "took \(elapsed)")
        let lines = try parseLines(running.stdoutSoFar)
        let line = try #require(lines.first { !$0.isSummary }, "\(running.stdoutSoFar)")
        #expect(line.json["error_kind"] == "timeout", "\(line.raw)")
        let summary = try #require(lines.last { $0.isSummary }, "\(running.stdoutSoFar)")
        guard case .int(let wall)? = summary.json["wall_ms"] else {
            Issue.record("no wall_ms: \(summary.raw)")
            return
        }
        #expect(wall >= 3000, "\(summary.raw)")
        // The process's own wall time fits in what this test saw from before it started.
        #expect(Duration.milliseconds(wall) <= total, "wall_ms \(wall) vs measured \(total)")
        let prom = try #require(FileSystem.readText(stand.promFile), "no Prometheus file")
        #expect(prom.contains("megaplan_fleet_tick_error{project=\"dns\",kind=\"timeout\"} 1"), "\(prom)")
    }

    /// SIGTERM while the lookup hangs: exit 143 promptly (it once waited for the resolver).
    @Test(.timeLimit(.minutes(2)))
    func sigtermDoesNotWaitForTheResolver() async throws {
        let stand = try HungResolver()
        // A deadline the run never reaches: the tick must still be inside the lookup (the
        // resolver gives up after 150 s) when the signal comes, however busy the machine.
        let running = try stand.startTick(deadline: 600)
        let pid = try #require(await stand.tickPID(), "the tick did not start: \(running.stderrSoFar)")
        // Inside the lookup: the resolver has the query (and will never answer it).
        try #require(await stand.queried(), "no DNS query came: \(running.stderrSoFar)")
        let clock = ContinuousClock()
        let signalled = clock.now
        kill(pid, SIGTERM)
        let status = await running.wait(timeout: .seconds(90))
        let elapsed = clock.now - signalled
        if status == nil { running.forceStop() }
        #expect(
            status == 143,
            "exit \(String(describing: status)) after \(elapsed); stdout: \(running.stdoutSoFar) stderr: \(running.stderrSoFar)"
        )
        #expect(elapsed < .seconds(20), "took \(elapsed) after SIGTERM")
    }

    /// SIGTERM at any moment of the start-up is never lost: before the handlers exist it ends
    /// the process by default, after that it cancels the run. (Signal handlers once registered
    /// some time after the run began, and a signal in between was ignored: the run then waited
    /// for the resolver.) The signal goes as soon as the tick's pid is known, several times, to
    /// land at different points of the start-up.
    @Test(.timeLimit(.minutes(3)))
    func sigtermDuringStartUpIsNeverLost() async throws {
        for attempt in 1...8 {
            let stand = try HungResolver()
            let running = try stand.startTick(deadline: 600)
            let pid = try #require(await stand.tickPID(), "the tick did not start: \(running.stderrSoFar)")
            if attempt > 1 { try? await Task.sleep(for: .milliseconds(5 * (attempt - 1))) }
            let clock = ContinuousClock()
            let signalled = clock.now
            kill(pid, SIGTERM)
            let status = await running.wait(timeout: .seconds(60))
            let elapsed = clock.now - signalled
            if status == nil { running.forceStop() }
            #expect(
                status == 143,
                "attempt \(attempt): exit \(String(describing: status)) after \(elapsed); stdout: \(running.stdoutSoFar) stderr: \(running.stderrSoFar)"
            )
            #expect(elapsed < .seconds(20), "attempt \(attempt): took \(elapsed) after SIGTERM")
        }
    }
}

/// The namespace, resolver stand-in and fleet of one test.
final class HungResolver: Sendable {
    static let isAvailable: Bool =
        getuid() == 0 && access("/usr/bin/unshare", X_OK) == 0
        && (access("/usr/sbin/ip", X_OK) == 0 || access("/sbin/ip", X_OK) == 0)

    let directory: String
    var promFile: String { directory + "/fleet.prom" }
    var pidFile: String { directory + "/tick.pid" }
    /// Created when the first DNS query reaches the silent resolver.
    var queryFile: String { directory + "/queried" }

    init() throws {
        directory = try TemporaryDirectory.make(prefix: "mpf-hung-resolver-")
        try FileSystem.makeDirectories(directory + "/home")
        try FileSystem.writeAtomically(
            directory + "/resolv.conf", text: "nameserver 127.0.0.1\noptions timeout:30 attempts:5\n")
        try FileSystem.writeAtomically(
            directory + "/cloud.yaml",
            text:
                "provider: ssh\nrepo:\n  url: https://example.invalid/a.git\nssh:\n  host: runner.hung-resolver.test\n  runtime: host\n"
        )
        try FileSystem.writeAtomically(
            directory + "/fleet.yaml",
            text: "projects:\n  - name: dns\n    cloud_yaml: cloud.yaml\n    remote_spec: /srv/chain.yaml\n")
        try FileSystem.writeAtomically(directory + "/known_hosts", text: "")
    }

    deinit { TemporaryDirectory.remove(directory) }

    /// Starts `tick --all` inside the namespaces. The shell stays as the parent (it stops the
    /// silent listener when the tick ends); the tick's own pid is written to `pidFile`.
    func startTick(deadline: Int) throws -> FleetCLI.Running {
        let q = ShellQuote.quote
        let listener =
            "import socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.1', 53))\nopen(sys.argv[1], 'w').close()\ns.recvfrom(512)\nopen(sys.argv[2], 'w').close()\nwhile True:\n    s.recvfrom(512)\n"
        let script = """
            set -e
            ip link set lo up
            mount --bind \(q(directory + "/resolv.conf")) /etc/resolv.conf
            python3 -c \(q(listener)) \(q(directory + "/listening")) \(q(queryFile)) &
            listener=$!
            trap 'kill $listener 2>/dev/null' EXIT
            while [ ! -e \(q(directory + "/listening")) ]; do sleep 0.05; done
            set +e
            \(q(FleetCLI.binary)) tick --all --fleet \(q(directory + "/fleet.yaml")) \
              --known-hosts \(q(directory + "/known_hosts")) --deadline \(deadline) \
              --prom-file \(q(promFile)) --format jsonl &
            echo $! > \(q(pidFile))
            wait $!
            """
        return try FleetCLI.start(
            ["-m", "-n", "/bin/sh", "-c", script], home: directory + "/home",
            environment: ["PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"], program: "/usr/bin/unshare"
        )
    }

    /// Whether the silent resolver got a query (waits for it, up to 60 s).
    func queried() async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while clock.now < deadline {
            if FileSystem.isRegularFile(queryFile) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return FileSystem.isRegularFile(queryFile)
    }

    /// The tick's pid, once the script has written it.
    func tickPID() async -> pid_t? {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while clock.now < deadline {
            if let text = FileSystem.readText(pidFile), let pid = pid_t(text.trimmed) { return pid }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}
