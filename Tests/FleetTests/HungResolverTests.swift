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
        let running = try stand.startTick(deadline: 3, signal: .none)
        let status = await running.wait(timeout: .seconds(90))
        if status == nil { running.forceStop() }
        #expect(status == 1, "exit \(String(describing: status)); \(running.stderrSoFar)")
        let times = try #require(stand.measured(), "no times: \(running.stderrSoFar)")
        let queried = try #require(times.queried, "no DNS query came: \(running.stderrSoFar)")
        // Deadline 3 s, plus generous room for a busy machine; the resolver alone takes 150 s.
        #expect(times.ended - queried < .seconds(3 + 20), "took \(times.ended - queried) after the query")
        let lines = try parseLines(running.stdoutSoFar)
        let line = try #require(lines.first { !$0.isSummary }, "\(running.stdoutSoFar)")
        #expect(line.json["error_kind"] == "timeout", "\(line.raw)")
        let summary = try #require(lines.last { $0.isSummary }, "\(running.stdoutSoFar)")
        guard case .int(let wall)? = summary.json["wall_ms"] else {
            Issue.record("no wall_ms: \(summary.raw)")
            return
        }
        #expect(wall >= 3000, "\(summary.raw)")
        // The process's own wall time fits in the time from its start to its end.
        #expect(Duration.milliseconds(wall) <= times.ended - times.started, "wall_ms \(wall) vs \(times)")
        let prom = try #require(FileSystem.readText(stand.promFile), "no Prometheus file")
        #expect(prom.contains("megaplan_fleet_tick_error{project=\"dns\",kind=\"timeout\"} 1"), "\(prom)")
    }

    /// SIGTERM while the lookup hangs: exit 143 promptly (it once waited for the resolver).
    @Test(.timeLimit(.minutes(2)))
    func sigtermDoesNotWaitForTheResolver() async throws {
        let stand = try HungResolver()
        // A deadline the run never reaches: the tick is still inside the lookup (the resolver
        // gives up after 150 s) when the signal comes, however busy the machine.
        let running = try stand.startTick(deadline: 600, signal: .afterTheQuery)
        try await stand.expectSIGTERMEndsTheTick(running, "")
    }

    /// SIGTERM at any moment of the start-up is never lost: before the handlers exist it ends
    /// the process by default, after that it cancels the run. (Signal handlers once registered
    /// some time after the run began, and a signal in between was ignored: the run then waited
    /// for the resolver.) The signal goes right after the tick starts, then later and later, to
    /// land at different points of the start-up.
    @Test(.timeLimit(.minutes(3)))
    func sigtermDuringStartUpIsNeverLost() async throws {
        for attempt in 1...8 {
            let stand = try HungResolver()
            let running = try stand.startTick(
                deadline: 600, signal: .afterStart(milliseconds: 5 * (attempt - 1)))
            try await stand.expectSIGTERMEndsTheTick(running, "attempt \(attempt): ")
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
    /// Written when the first DNS query reaches the silent resolver: the time it came.
    var queryFile: String { directory + "/queried" }
    /// The script's measurements (`measured()`).
    var timesFile: String { directory + "/times" }

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

    /// When the script in the namespace sends the tick SIGTERM. The shell there sends it and
    /// takes the times, so how late this test process gets scheduled on a busy machine never
    /// changes what is measured.
    enum Signal {
        case none
        /// Once the silent resolver has the tick's query: the tick is inside the lookup.
        case afterTheQuery
        /// This long after the tick was started (0: at once).
        case afterStart(milliseconds: Int)
    }

    /// Starts `tick --all` inside the namespaces. The shell stays as the parent (it stops the
    /// silent listener when the tick ends), sends the signal, and writes the times (`measured()`).
    func startTick(deadline: Int, signal: Signal) throws -> FleetCLI.Running {
        let q = ShellQuote.quote
        let listener =
            "import socket, sys, time\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.1', 53))\nopen(sys.argv[1], 'w').close()\ns.recvfrom(512)\nwith open(sys.argv[2] + '.tmp', 'w') as f:\n    f.write(str(time.time_ns()))\nimport os\nos.rename(sys.argv[2] + '.tmp', sys.argv[2])\nwhile True:\n    s.recvfrom(512)\n"
        let sending: String
        switch signal {
        case .none:
            sending = ""
        case .afterTheQuery:
            sending = """
                while [ ! -e \(q(queryFile)) ] && kill -0 $tick 2>/dev/null; do sleep 0.02; done
                signalled=$(date +%s%N); kill -TERM $tick
                """
        case .afterStart(let milliseconds):
            let pause = milliseconds > 0 ? "sleep \(Double(milliseconds) / 1000)\n" : ""
            sending = pause + "signalled=$(date +%s%N); kill -TERM $tick"
        }
        let script = """
            set -e
            ip link set lo up
            mount --bind \(q(directory + "/resolv.conf")) /etc/resolv.conf
            python3 -c \(q(listener)) \(q(directory + "/listening")) \(q(queryFile)) &
            listener=$!
            trap 'kill $listener 2>/dev/null' EXIT
            while [ ! -e \(q(directory + "/listening")) ]; do sleep 0.05; done
            set +e
            signalled=
            started=$(date +%s%N)
            \(q(FleetCLI.binary)) tick --all --fleet \(q(directory + "/fleet.yaml")) \
              --known-hosts \(q(directory + "/known_hosts")) --deadline \(deadline) \
              --prom-file \(q(promFile)) --format jsonl &
            tick=$!
            \(sending)
            wait $tick
            status=$?
            ended=$(date +%s%N)
            queried=$(cat \(q(queryFile)) 2>/dev/null)
            printf '%s %s %s %s\\n' "$started" "$ended" "${signalled:--}" "${queried:--}" > \(q(timesFile))
            exit $status
            """
        return try FleetCLI.start(
            ["-m", "-n", "/bin/sh", "-c", script], home: directory + "/home",
            environment: ["PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"], program: "/usr/bin/unshare"
        )
    }

    /// What the script measured, on the wall clock (nanoseconds since 1970 as durations).
    struct Times: CustomStringConvertible {
        var started: Duration
        var ended: Duration
        var signalled: Duration?
        var queried: Duration?

        var description: String {
            "started \(started), ended \(ended), signalled \(String(describing: signalled)), queried \(String(describing: queried))"
        }
    }

    /// The times the script wrote when the tick ended, or nil before that.
    func measured() -> Times? {
        guard let text = FileSystem.readText(timesFile) else { return nil }
        let fields = text.split(separator: " ").map { Int64(String($0).trimmed).map(Duration.nanoseconds) }
        guard fields.count == 4, let started = fields[0], let ended = fields[1] else { return nil }
        return Times(started: started, ended: ended, signalled: fields[2], queried: fields[3])
    }

    /// The tick, sent SIGTERM by the script, ends with 143 within 20 s of the signal.
    func expectSIGTERMEndsTheTick(_ running: FleetCLI.Running, _ label: String) async throws {
        let status = await running.wait(timeout: .seconds(90))
        if status == nil { running.forceStop() }
        let output = "stdout: \(running.stdoutSoFar) stderr: \(running.stderrSoFar)"
        #expect(status == 143, "\(label)exit \(String(describing: status)); \(output)")
        let times = try #require(measured(), "\(label)no times; \(output)")
        let signalled = try #require(times.signalled, "\(label)no signal was sent: \(times)")
        #expect(
            times.ended - signalled < .seconds(20), "\(label)took \(times.ended - signalled) after SIGTERM")
    }
}
