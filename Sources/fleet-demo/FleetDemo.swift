import ArgumentParser
import BenchSupport
import FleetCore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A demo fleet on loopback: three real sshd hosts (BenchSupport's harness, as the tests and the
/// benchmarks use), nine projects whose runners are the test stand-ins of Tests/Fixtures/runner (a
/// fake core megaplan; real tmux, git, bash, python3), and two `megaplan-fleet tick --all` runs
/// over them, one after the other as cron would run them. Everything it made is removed at the
/// end (or on SIGINT/SIGTERM): the sshd hosts, the workspaces, the tmux sessions, the files.
@main
struct FleetDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet-demo", abstract: "Runs megaplan-fleet tick --all twice over a demo fleet.")

    @Option(help: "The megaplan-fleet binary (default: the one beside this executable).")
    var binary: String?

    @Option(help: "The runner stand-ins (Tests/Fixtures/runner of a checkout).")
    var fixtures: String = RunnerAccount.checkoutFixtures

    func run() throws {
        let binary = try binary ?? BenchProcess.siblingMegaplanFleet()
        guard access(binary, X_OK) == 0 else { throw BenchError("build first (no \(binary))") }
        let demo = try DemoFleet(fixtures: fixtures)
        let interrupts = [SIGINT, SIGTERM].map { (number: Int32) -> any DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { demo.remove(thenExit: 128 + number) }
            source.resume()
            return source
        }
        defer { for source in interrupts { source.cancel() } }
        defer { demo.remove() }
        try demo.build()
        let ports = demo.ports.map(String.init).joined(separator: " ")
        say("9 projects on 3 sshd hosts (127.0.0.1:\(ports)); running: megaplan-fleet tick --all")
        let first = try tick(binary, fleet: demo.fleetFile)
        say("tick exited with status \(first) (0 = every project observed)")
        // The next cron tick: the chains restarted above are running now and are left alone, and
        // each chain's spec has been validated, so a tick that does not act costs one remote command.
        say("the next tick, as cron would run it")
        let second = try tick(binary, fleet: demo.fleetFile)
        say("tick exited with status \(second)")
        let status = first != 0 ? first : second
        if status != 0 { throw ExitCode(status) }
    }

    /// Runs one `tick --all` with this process's environment and output; returns its status.
    private func tick(_ binary: String, fleet: String) throws -> Int32 {
        let pid = try BenchProcess.spawn(
            [binary, "tick", "--all", "--fleet", fleet], stdoutPath: nil, stderrPath: nil)
        return BenchProcess.wait(pid, started: .now).status
    }

    private func say(_ message: String) {
        FileHandle.standardError.write(Data("demo: \(message)\n".utf8))
    }
}

/// The demo's hosts, workspaces and files; `remove()` undoes all of it, once, from any thread.
final class DemoFleet: Sendable {
    /// Chain states the projects cycle through (project p gets `states[p % 4]`): an executing
    /// plan, a stopped chain between milestones, a finished chain, a plan waiting on its PR.
    static let states = [
        #"{"current_milestone_index": 0, "current_plan_name": "plan-m1"}"#,
        #"{"current_milestone_index": 1, "current_plan_name": null}"#,
        #"{"current_milestone_index": 3, "current_plan_name": null}"#,
        #"{"current_milestone_index": 1, "current_plan_name": "plan-m2", "last_state": "awaiting_pr_merge", "pr_number": 42, "pr_state": "open"}"#,
    ]
    static let spec =
        "milestones:\n  - {label: m1, idea: ideas/m1.md}\n  - {label: m2, idea: ideas/m2.md}\n  - {label: m3, idea: ideas/m3.md}\n"

    let account: String
    let directory: String
    let remoteRoot: String
    private let fixtures: String
    private let servers = Mutex<[SSHServer]?>([])

    var fleetFile: String { directory + "/fleet.yaml" }
    var ports: [Int] { servers.withLock { $0?.map(\.port) ?? [] } }

    init(fixtures: String) throws {
        self.fixtures = fixtures
        account = RunnerAccount.loginName(asRoot: RunnerAccount.demo)
        try RunnerAccount.prepare(account)
        remoteRoot = try RunnerAccount.home(of: account) + "/megaplan-fleet-demo"
        directory = try TemporaryDirectory.make(prefix: "megaplan-fleet-demo-")
    }

    /// Starts the hosts and writes the projects: their workspaces on the runner, their cloud.yaml
    /// files and the fleet file here.
    func build() throws {
        try RunnerAccount.installStandIns(fixtures: fixtures, account: account, extraExecutables: ["docker"])
        for _ in 0..<3 {
            let server = try SSHServer.runnerHost(account: account)
            let added = servers.withLock { list in
                list?.append(server)
                return list != nil
            }
            guard added else { return server.kill() }
        }
        let hosts = servers.withLock { $0 ?? [] }
        let knownHosts = try hosts.map { try $0.knownHostsLine() }.joined(separator: "\n") + "\n"
        try FileSystem.writeAtomically(directory + "/known_hosts", text: knownHosts)
        var fleet =
            "version: 1\ndefaults:\n  deadline: 20\n  known_hosts: \(directory)/known_hosts\nprojects:\n"
        var script = "set -e\n"
        for project in 1...9 {
            let name = "demo-\(project)"
            let host = (project - 1) % hosts.count
            let workspace = "\(remoteRoot)/\(name)"
            script += workspaceScript(
                workspace, session: project % 3 == 0 ? name : nil, state: Self.states[project % 4])
            let cloud = "\(directory)/projects/\(name)/cloud.yaml"
            try FileSystem.makeDirectories(PosixPath.dirname(cloud))
            try FileSystem.writeAtomically(
                cloud,
                text: BenchFleet.cloudYAML(
                    name: name, workspace: workspace, session: name, port: hosts[host].port, user: account,
                    identityFile: hosts[host].clientKeyPath))
            fleet +=
                "  - name: \(name)\n    cloud_yaml: projects/\(name)/cloud.yaml\n    tags: [demo, host-\(host + 1)]\n"
        }
        try RunnerAccount.runScript(script, as: account)
        try FileSystem.writeAtomically(fleetFile, text: fleet)
    }

    /// Shell lines making one project's workspace: a git repository with the chain spec, its
    /// state at the hashed path, a 5 s chain run for the stand-in, and a tmux session when the
    /// chain is to be found running.
    private func workspaceScript(_ workspace: String, session: String?, state: String) -> String {
        let stateFile = ChainPaths.stateFile(spec: workspace + "/chain.yaml")
        var lines = BenchFleet.workspaceScript(workspace)
        lines += """
            echo 5 > .stub/chain_sleep
            printf %s \(ShellQuote.quote(Self.spec)) > chain.yaml
            mkdir -p \(ShellQuote.quote(PosixPath.dirname(stateFile)))
            printf '%s\\n' \(ShellQuote.quote(state)) > \(ShellQuote.quote(stateFile))

            """
        if let session {
            lines +=
                "tmux new-session -d -s \(ShellQuote.quote(session)) -c \(ShellQuote.quote(workspace)) 'sleep 30'\n"
        }
        return lines
    }

    /// Stops the hosts (with their sessions' processes), ends the demo's tmux sessions and
    /// removes the workspaces and the local files; later calls do nothing. `thenExit` (a signal
    /// handler's): the process ends with that status right after, before the main thread, which
    /// waits for the lock, can go on with the demo or exit with a status of its own.
    func remove(thenExit status: Int32? = nil) {
        servers.withLock { list in
            if let hosts = list {
                list = nil
                for host in hosts { host.kill() }
                _ = try? RunnerAccount.runScript(
                    """
                    tmux ls -F '#S' 2>/dev/null | grep '^demo-' | xargs -r -n1 tmux kill-session -t
                    rm -rf \(ShellQuote.quote(remoteRoot))

                    """, as: account)
                TemporaryDirectory.remove(directory)
            }
            if let status { _exit(status) }
        }
    }
}
