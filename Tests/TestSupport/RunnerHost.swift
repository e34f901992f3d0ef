import BenchSupport
import FleetCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A test runner host: a real sshd on loopback whose account has the stand-ins of
/// Tests/Fixtures/runner installed (core megaplan, its `megaplan.chain` module, `gh` and a
/// `docker` CLI without an engine). tmux (behind a wrapper that can slow a restart down), git,
/// bash and python3 on it are the real ones.
public final class RunnerHost: Sendable {
    public let server: SSHServer

    /// The fixture directory in this checkout.
    public static var fixtures: String { RunnerAccount.checkoutFixtures }

    /// `listenAddress` `::1` puts its sshd on IPv6 loopback (and its projects' `ssh.host` with it);
    /// with a `namespace` it is that host's address on a `TestNetwork`.
    public init(extraConfig: [String] = [], listenAddress: String = "127.0.0.1", namespace: String? = nil)
        throws
    {
        server = try SSHServer.runnerHost(
            extraConfig: extraConfig, listenAddress: listenAddress, namespace: namespace)
        try RunnerAccount.installStandIns(
            fixtures: Self.fixtures, account: server.account, extraExecutables: ["docker", "tmux"])
    }

    /// Runs a shell command as the runner account (not through SSH): setup and assertions.
    @discardableResult
    public func shell(_ command: String) throws -> String {
        try SSHServer.run(["/usr/sbin/runuser", "-u", server.account, "--", "/bin/sh", "-c", command])
    }

    /// A fresh project on this host: a git workspace with a commit, a stub directory, a local
    /// cloud.yaml (ssh provider, `runtime: host` unless `docker`), and a private local HOME for
    /// markers and locks.
    public func makeProject(
        _ name: String, runtime: String = "host", milestones: [String] = ["m1", "m2", "m3"],
        extraYAML: String = ""
    ) throws -> TestProject {
        let id = "\(name)-\(UInt32.random(in: 0...UInt32.max))"
        let workspace = "\(server.homeDirectory)/fleet-tests/\(id)/app"
        try shell("set -e\n" + BenchFleet.workspaceScript(workspace))
        let local = try TemporaryDirectory.make(prefix: "mpf-project-")
        let session = "mpf-\(id)"
        let cloudYAML =
            BenchFleet.cloudYAML(
                name: name, workspace: workspace, session: session, port: server.port, user: server.account,
                identityFile: server.clientKeyPath, runtime: runtime, host: server.host) + extraYAML
        try FileSystem.writeAtomically(local + "/cloud.yaml", text: cloudYAML)
        let project = TestProject(
            host: self, name: name, workspace: workspace, session: session, localDirectory: local,
            cloudYAMLPath: local + "/cloud.yaml", home: local + "/home")
        try FileSystem.makeDirectories(project.home)
        let spec =
            "milestones:\n" + milestones.map { "  - label: \($0)\n    idea: ideas/\($0).md\n" }.joined()
        try project.write("chain.yaml", spec)
        return project
    }
}

/// One project of a test runner host, with helpers to stage runner state and read what the
/// runner was asked.
public struct TestProject: Sendable {
    public let host: RunnerHost
    public let name: String
    public let workspace: String
    public let session: String
    public let localDirectory: String
    public let cloudYAMLPath: String
    /// The local HOME (markers and locks live under it).
    public let home: String

    public var remoteSpec: String { workspace + "/chain.yaml" }

    /// Writes a file relative to the workspace, as the runner account.
    public func write(_ relativePath: String, _ text: String) throws {
        let path = workspace + "/" + relativePath
        let staging = localDirectory + "/staging-\(UInt32.random(in: 0...UInt32.max))"
        try FileSystem.writeAtomically(staging, text: text)
        chmod(staging, 0o644)
        chmod(localDirectory, 0o755)
        try host.shell(
            "mkdir -p \(ShellQuote.quote(PosixPath.dirname(path))) && cat \(ShellQuote.quote(staging)) > \(ShellQuote.quote(path))"
        )
        unlink(staging)
    }

    /// Writes the chain state at its hashed path (§4.1).
    public func writeState(_ state: JSONObject) throws {
        let path = ChainPaths.stateFile(spec: remoteSpec)
        try write(
            String(path.dropFirst(workspace.count + 1)), JSONValue.object(state).serialized(.pretty) + "\n")
    }

    public func readState() throws -> JSONValue {
        let text = try String(contentsOfFile: ChainPaths.stateFile(spec: remoteSpec), encoding: .utf8)
        return try JSONValue.parse(text)
    }

    /// Sets a stand-in answer (`status.json`, `verify.json`, `pr_state`, `chain_sleep`, ...).
    public func stub(_ name: String, _ text: String) throws { try write(".stub/" + name, text) }

    /// Every megaplan call the runner saw, in order.
    public func calls() -> [JSONValue] {
        guard let text = FileSystem.readText(workspace + "/.stub/calls.jsonl") else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
    }

    /// The `megaplan chain start` calls (one per tmux launch or restart).
    public func chainStarts() -> [JSONValue] {
        calls().filter { $0["argv"]?.arrayValue?.prefix(2).compactMap(\.stringValue) == ["chain", "start"] }
    }

    public func sessionAlive() -> Bool {
        (try? host.shell(
            "tmux has-session -t \(ShellQuote.quote(session)) 2>/dev/null && echo alive || echo dead"))?
            .contains("alive") ?? false
    }

    public func startSession() throws {
        try host.shell(
            "tmux new-session -d -s \(ShellQuote.quote(session)) -c \(ShellQuote.quote(workspace)) 'sleep 300'"
        )
    }

    public func killSession() {
        _ = try? host.shell("tmux kill-session -t \(ShellQuote.quote(session)) 2>/dev/null; true")
    }

    /// Makes the worktree dirty (an untracked, not ignored file).
    public func makeDirty() throws { try write("scratch.txt", "uncommitted\n") }

    public func cleanUp() {
        killSession()
        TemporaryDirectory.remove(localDirectory)
    }
}
