import BenchSupport
import FleetCore
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One project of the fault fleet and what its line must say.
struct FaultCase: Sendable {
    var name: String
    var project: TestProject
    /// nil: the project succeeds (outcome ok or blocked, error_kind null).
    var kind: String?
    /// What breaks, for the report.
    var fault: String
}

/// A fleet with one project per fault of issue 7, plus healthy projects, on real sshd hosts on
/// loopback (and two misbehaving listeners). Every cloud.yaml names the secret `MPF_FAULT_SECRET`;
/// several runners print its value (in a plan status, on stderr, across the 500-character cut of
/// an error message).
final class FaultFleet: Sendable {
    static let secretName = "MPF_FAULT_SECRET"
    /// Seconds of `megaplan status` for the mid-command faults (far beyond any deadline).
    static let slowStatus = 40

    let secret: String
    let healthy: RunnerHost
    let spare: RunnerHost
    let dropping: RunnerHost
    let stalling: RunnerHost
    let rotated: RunnerHost
    let truncating: RunnerHost
    let flooding: RunnerHost
    let leaking: RunnerHost
    let silent: FaultListener
    let proxy: FaultListener
    let refusedPort: Int
    let scripts: String
    let directory: FleetDirectory
    let cases: [FaultCase]
    let fleetFile: String

    var hosts: [RunnerHost] { [healthy, spare, dropping, stalling, rotated, truncating, flooding, leaking] }

    /// Every port a client of this fleet connects to.
    var ports: Set<Int> { Set(hosts.map(\.server.port) + [silent.port, proxy.port, refusedPort]) }

    var dropCase: FaultCase { cases.first { $0.name == "drop-mid-command" }! }
    var stallCase: FaultCase { cases.first { $0.name == "stall-mid-command" }! }

    init() async throws {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        let secret = String((0..<32).map { _ in alphabet.randomElement()! })
        self.secret = secret
        // Forced commands live in files, so the secret is in no sshd_config and no command line.
        let scripts = try TemporaryDirectory.make(prefix: "mpf-fault-scripts-")
        self.scripts = scripts
        chmod(scripts, 0o755)
        func script(_ name: String, _ body: String) throws -> String {
            let path = scripts + "/" + name
            try FileSystem.writeAtomically(path, text: "#!/bin/sh\n" + body, mode: 0o755)
            return path
        }
        // The secret as an assignment and as a bare word, then noise and a space at character 489
        // and the secret again: the status-read error keeps the first 500 characters of stderr, so
        // a cut made before redaction would leave the value's first ten characters.
        let leak = try script(
            "leak.sh",
            """
            printf 'error: \(Self.secretName)=%s\n' '\(secret)' >&2
            printf 'token %s rejected\n' '\(secret)' >&2
            printf '%0384d' 0 | tr 0 E >&2
            printf ' %s is the token\n' '\(secret)' >&2
            exit 3

            """)
        let truncated = try script(
            "truncated.sh",
            #"""
            printf 'Welcome to the runner\n'
            printf '%s\n' 'MEGAPLAN-FLEET-OBSERVATION {"observation": {"state": {"text": "{\"current_milestone_index\": 0, \"current_pl'
            exit 0

            """#)
        let flood = try script("flood.sh", "head -c 104857600 /dev/zero | tr '\\0' x\nexit 0\n")

        // The account is made (and its lock's flag set) once, before the hosts start in parallel.
        _ = try SSHServer.defaultAccount()
        async let healthyHost = RunnerHost()
        async let spareHost = RunnerHost()
        async let droppingHost = RunnerHost()
        async let stallingHost = RunnerHost()
        async let rotatedHost = RunnerHost()
        async let truncatingHost = RunnerHost(extraConfig: ["ForceCommand /bin/sh \(truncated)"])
        async let floodingHost = RunnerHost(extraConfig: ["ForceCommand /bin/sh \(flood)"])
        async let leakingHost = RunnerHost(extraConfig: ["ForceCommand /bin/sh \(leak)"])
        let healthy = try await healthyHost
        let spare = try await spareHost
        let dropping = try await droppingHost
        let stalling = try await stallingHost
        let rotated = try await rotatedHost
        let truncating = try await truncatingHost
        let flooding = try await floodingHost
        let leaking = try await leakingHost
        let allHosts = [healthy, spare, dropping, stalling, rotated, truncating, flooding, leaking]
        let silent = try FaultListener(.silent)
        // The server's banner is about 40 bytes and its KEXINIT about a kilobyte: 200 bytes ends
        // the connection inside the key exchange.
        let proxy = try FaultListener(.dropAfter(bytes: 200, targetPort: healthy.server.port))
        let refusedPort = try SSHServer.freePort()

        let secretsYAML = "secrets:\n  - \(Self.secretName)\n"
        let plan: [(String, RunnerHost, String?, String)] = [
            ("healthy", healthy, nil, "none (its plan status carries the secret)"),
            ("healthy-alone", spare, nil, "none, on a host of its own"),
            ("refused", healthy, "unreachable", "closed port"),
            ("silent-listener", healthy, "timeout", "accepts TCP, never sends the SSH banner"),
            (
                "drop-mid-handshake", healthy, "unreachable",
                "proxy closes after 200 bytes of the server's answer"
            ),
            ("drop-mid-command", dropping, "unreachable", "sshd children killed while the status read runs"),
            (
                "stall-mid-command", stalling, "timeout",
                "sshd and its children SIGSTOPped while the status read runs"
            ),
            (
                "host-key-changed", rotated, "host_key_changed",
                "host key rotated after known_hosts was written"
            ),
            ("key-rejected", healthy, "auth_failed", "identity file not in authorized_keys"),
            ("truncated-json", truncating, "remote_error", "status read answer cut inside its JSON"),
            ("invalid-state-json", healthy, "remote_error", "chain state file cut in half"),
            ("enormous-output", flooding, "remote_error", "100 MiB on stdout"),
            (
                "secret-stderr", leaking, "remote_error",
                "exit 3, the secret on stderr across the 500-character cut"
            ),
            (
                "probe-secret-stderr", healthy, nil,
                "megaplan status exits 1 with the secret on stderr (degraded plan status)"
            ),
        ]
        let projects = try await makeProjects(plan.map { ($0.1, $0.0) }) { _ in secretsYAML }
        var cases: [FaultCase] = []
        for (index, project) in projects.enumerated() {
            cases.append(
                FaultCase(name: plan[index].0, project: project, kind: plan[index].2, fault: plan[index].3))
            try ChainShape.running.stage(project)
        }
        let directory = try FleetDirectory()
        try directory.writeKnownHosts(allHosts.map(\.server))

        let unauthorized = try healthy.server.makeClientKey(type: "ed25519", authorize: false)
        for entry in cases {
            let project = entry.project
            switch entry.name {
            case "healthy":
                try project.stub(
                    "status.json", #"{"state": "executing", "note": "token \#(secret) in a plan status"}"#)
            case "refused": try Self.retarget(project, port: refusedPort)
            case "silent-listener": try Self.retarget(project, port: silent.port)
            case "drop-mid-handshake": try Self.retarget(project, port: proxy.port)
            case "key-rejected": try Self.retarget(project, identityFile: unauthorized)
            case "drop-mid-command", "stall-mid-command":
                try project.stub("status_sleep", String(Self.slowStatus))
            case "invalid-state-json":
                let path = ChainPaths.stateFile(spec: project.remoteSpec)
                let whole = JSONValue.object([
                    "current_milestone_index": 0, "current_plan_name": "plan-m1", "last_state": "executing",
                ]).serialized(.pretty)
                try project.write(
                    String(path.dropFirst(project.workspace.count + 1)), String(whole.prefix(whole.count / 2))
                )
            case "probe-secret-stderr":
                try project.stub("status_exit", "1")
                try project.stub("status_stderr", "megaplan: cannot reach the API with token \(secret)\n")
            default: break
            }
        }
        fleetFile = try directory.writeFleet(cases.map { FleetMember(name: $0.name, project: $0.project) })
        // Break the host key only now: known_hosts holds the old one.
        try rotated.server.rotateHostKey()
        self.healthy = healthy
        self.spare = spare
        self.dropping = dropping
        self.stalling = stalling
        self.rotated = rotated
        self.truncating = truncating
        self.flooding = flooding
        self.leaking = leaking
        self.silent = silent
        self.proxy = proxy
        self.refusedPort = refusedPort
        self.directory = directory
        self.cases = cases
    }

    /// Points a project's cloud.yaml at another port or identity file.
    static func retarget(_ project: TestProject, port: Int? = nil, identityFile: String? = nil) throws {
        var text = try #require(FileSystem.readText(project.cloudYAMLPath))
        if let port {
            text = text.replacingOccurrences(
                of: "port: \(project.host.server.port)\n", with: "port: \(port)\n")
        }
        if let identityFile {
            text = text.replacingOccurrences(
                of: "identity_file: \(project.host.server.clientKeyPath)\n",
                with: "identity_file: \(identityFile)\n")
        }
        try FileSystem.writeAtomically(project.cloudYAMLPath, text: text)
    }

    /// Waits until the slow projects' `megaplan status` is running, then kills the dropping host's
    /// connections and freezes the stalling host. Returns when both faults are in place.
    /// Only `megaplan status` calls beyond `baseline` count.
    func injectMidCommandFaults(after baseline: MidCommandBaseline, timeout: Duration = .seconds(20)) async
        -> (
            dropped: Bool, stalled: Bool
        )
    {
        // On a thread of its own: the faults must land while the status reads run, however late
        // a busy machine's cooperative pool would wake a task (a late drop became a timeout).
        (try? await onOwnThread { self.injectMidCommandFaultsBlocking(after: baseline, timeout: timeout) })
            ?? (false, false)
    }

    /// The `megaplan status` calls so far on the two mid-command hosts; take it before a run
    /// starts, so only that run's calls trigger the faults.
    struct MidCommandBaseline: Sendable {
        var drop: Int
        var stall: Int
    }

    var midCommandBaseline: MidCommandBaseline {
        MidCommandBaseline(
            drop: Self.statusCalls(dropCase.project), stall: Self.statusCalls(stallCase.project))
    }

    private static func statusCalls(_ project: TestProject) -> Int {
        project.calls().filter { $0["argv"]?.arrayValue?.first?.stringValue == "status" }.count
    }

    private func injectMidCommandFaultsBlocking(after baseline: MidCommandBaseline, timeout: Duration) -> (
        dropped: Bool, stalled: Bool
    ) {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var dropped = false
        var stalled = false
        func statusStarted(_ project: TestProject) -> Bool {
            Self.statusCalls(project)
                > (project.workspace == dropCase.project.workspace ? baseline.drop : baseline.stall)
        }
        while clock.now < deadline, !(dropped && stalled) {
            if !dropped, statusStarted(dropCase.project) {
                dropping.server.dropConnections()
                dropped = true
            }
            if !stalled, statusStarted(stallCase.project) {
                stalling.server.freeze()
                stalled = true
            }
            usleep(10_000)
        }
        return (dropped, stalled)
    }

    /// Runner-side files of every workspace (state, stubs) that look like unfinished writes.
    func temporaryFilesOnRunners() -> [String] {
        cases.flatMap { LeakProbe.files(under: $0.project.workspace) }.filter {
            PosixPath.basename($0).contains(".tmp")
        }
    }

    /// State files that should still be whole JSON (every project but the one cut on purpose).
    func brokenStateFiles() -> [String] {
        cases.filter { $0.name != "invalid-state-json" }.compactMap { entry in
            let path = ChainPaths.stateFile(spec: entry.project.remoteSpec)
            guard let text = FileSystem.readText(path), (try? JSONValue.parse(text)) != nil else {
                return path
            }
            return nil
        }
    }

    func cleanUp() {
        stalling.server.thaw()
        silent.stop()
        proxy.stop()
        for entry in cases { entry.project.removeEverywhere() }
        for host in hosts { host.server.kill() }
        TemporaryDirectory.remove(scripts)
    }
}

/// A program started with posix_spawn: chosen environment added to this process's, stdout and
/// stderr to files, its peak RSS sampled while it runs.
struct SpawnedProgram {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    let started: ContinuousClock.Instant

    struct Exit {
        var status: Int32
        var wall: Duration
        var peakRSSMiB: Double
    }

    init(_ arguments: [String], environment: [String: String], outputDirectory: String) throws {
        stdoutPath = outputDirectory + "/stdout"
        stderrPath = outputDirectory + "/stderr"
        var variables = ProcessInfo.processInfo.environment
        for (key, value) in environment { variables[key] = value }
        let pid = try BenchProcess.spawn(
            arguments, environment: variables, stdoutPath: stdoutPath, stderrPath: stderrPath)
        self.pid = pid
        started = ContinuousClock.now
    }

    var stdout: String { FileSystem.readText(stdoutPath) ?? "" }
    var stderr: String { FileSystem.readText(stderrPath) ?? "" }

    /// The exit (128+N after signal N), or nil when still running at the timeout (then killed).
    /// The peak RSS is the program's own, sampled while it runs (`BenchProcess.peakRSSMiB`): the
    /// test process's size never counts.
    func wait(timeout: Duration) async -> Exit? {
        let deadline = started + timeout
        var peak = 0.0
        while ContinuousClock.now < deadline {
            peak = max(peak, BenchProcess.peakRSSMiB(of: pid))
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                return Exit(status: code, wall: ContinuousClock.now - started, peakRSSMiB: peak)
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return nil
    }
}
