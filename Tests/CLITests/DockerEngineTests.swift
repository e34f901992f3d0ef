import BenchSupport
import FleetCore
import Foundation
import TestSupport
import Testing

/// The ssh provider's `docker` runtime against a real Docker engine (a private dockerd on this
/// machine, reached through a real sshd): what the `docker` stand-in of the other suites cannot
/// show, such as how the engine reads the secrets file, whether the container really runs, and
/// commands, tmux and the chain runner inside it. `build` is the one step left out: its
/// Dockerfile starts `FROM ubuntu:22.04` and installs packages, and no registry is reachable here,
/// so the test imports the image that `build` would have made (bash, python3, git, tmux and the
/// runner stand-ins) under the container's name.
@Suite(
    "CLI: ssh docker runtime on a real Docker engine",
    .enabled(if: DockerEngine.isAvailable, "needs root and Debian's docker.io (scripts/install-deps.sh)"))
struct DockerEngineTests {
    static let workspace = "/workspace/app"
    static let spec = workspace + "/chain.yaml"
    static let session = "mpf-engine-chain"
    static let secretName = "MPF_ENGINE_SECRET"
    /// Spaces, quotes, `$` and `=`: the engine's env-file reader takes a value literally.
    static let secretValue = "s3cr3t \"quoted\" $HOME =x \(UInt32.random(in: 100_000...UInt32.max))"

    @Test func deployStatusSuperviseExecLogsDownDestroy() async throws {
        let engine = try DockerEngine()
        defer { engine.stop() }
        let server = try SSHServer(
            options: SSHServerOptions(
                extraConfig: ["SetEnv PATH=/usr/bin:/bin DOCKER_HOST=\(engine.host)"],
                account: try SSHServer.defaultAccount()))
        defer { server.kill() }
        let id = UInt32.random(in: 0...UInt32.max)
        let container = "mpf-engine-\(id)"
        let remoteDir = server.homeDirectory + "/fleet-tests/engine-\(id)"
        defer { _ = try? SSHServer.run(["/bin/rm", "-rf", remoteDir]) }
        try engine.importRunnerImage(tag: container)

        let local = try TemporaryDirectory.make(prefix: "mpf-engine-")
        defer { TemporaryDirectory.remove(local) }
        let home = local + "/home"
        try FileSystem.makeDirectories(home)
        let cloudYAML = local + "/cloud.yaml"
        try FileSystem.writeAtomically(
            cloudYAML,
            text: """
                provider: ssh
                repo:
                  url: https://example.invalid/engine.git
                  workspace: \(Self.workspace)
                mode: chain
                chain:
                  spec: \(Self.spec)
                  chain_session: \(Self.session)
                resources:
                  port: 8123
                ssh:
                  host: 127.0.0.1
                  port: \(server.port)
                  user: \(server.account)
                  identity_file: \(server.clientKeyPath)
                  runtime: docker
                  container: \(container)
                  remote_dir: \(remoteDir)
                secrets:
                  - \(Self.secretName)

                """)
        func cli(_ arguments: [String]) async throws -> CLI.Result {
            try await CLI.run(
                arguments + ["--cloud-yaml", cloudYAML, "--known-hosts", server.knownHostsPath], home: home,
                cwd: local, environment: [Self.secretName: Self.secretValue])
        }
        @discardableResult func inContainer(_ script: String) throws -> String {
            try engine.docker(["exec", container, "sh", "-c", script])
        }

        // deploy: the secrets file and a real `docker run`.
        let deploy = try await cli(["deploy"])
        #expect(deploy.status == 0, "\(deploy)")
        #expect(!deploy.stdout.contains(Self.secretValue) && !deploy.stderr.contains(Self.secretValue))
        #expect(
            try engine.docker([
                "inspect", "-f", "{{.State.Running}} {{.HostConfig.RestartPolicy.Name}} {{.Config.Image}}",
                container,
            ]) == "true unless-stopped \(container)\n")
        #expect(try inContainer("printenv \(Self.secretName)") == Self.secretValue + "\n")
        #expect(try inContainer("printenv PORT") == "8123\n")
        var info = stat()
        #expect(stat(remoteDir + "/.env", &info) == 0 && info.st_mode & 0o777 == 0o600)

        // A chain inside the container whose runner has stopped: bookkeeping says milestone 2.
        let state = JSONValue.object(["current_milestone_index": 1]).serialized()
        try inContainer(
            """
            set -e
            mkdir -p \(Self.workspace)/.stub \(PosixPath.dirname(ChainPaths.stateFile(spec: Self.spec)))
            cd \(Self.workspace)
            printf 'milestones:\\n  - label: m1\\n    idea: ideas/m1.md\\n  - label: m2\\n    idea: ideas/m2.md\\n' > chain.yaml
            printf '.stub/\\n.megaplan/\\n' > .gitignore
            printf 300 > .stub/chain_sleep
            git init -q -b main
            git add -A
            git -c user.email=t@t -c user.name=t commit -q -m start
            printf '%s' \(ShellQuote.quote(state)) > \(ChainPaths.stateFile(spec: Self.spec))
            """)

        let status = try await cli(["status", "--chain"])
        #expect(status.status == 0, "\(status)")
        #expect(status.json?["effective_status"] == "stale_bookkeeping")
        #expect(status.json?["runner"]?["status"] == "dead")

        // supervise: refresh and restart, in tmux inside the container.
        let tick = try await cli(["supervise", "--chain"])
        #expect(tick.status == 0, "\(tick)")
        #expect(tick.stderr == "supervisor tick: supervisor_restarted | acted=True | next_action=restart\n")
        #expect(tick.json?["sync_refresh"] == ["status": "ok"])
        #expect(try inContainer("tmux has-session -t \(Self.session) && echo alive") == "alive\n")
        var starts = ""
        for _ in 0..<100 where !starts.contains("\"start\"") {
            starts = (try? inContainer("cat \(Self.workspace)/.stub/calls.jsonl")) ?? ""
            if !starts.contains("\"start\"") { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(
            starts.contains(#"{"argv": ["chain", "start", "--spec", "/workspace/app/chain.yaml", "--one"]"#))
        let refreshed = try JSONValue.parse(try inContainer("cat \(ChainPaths.stateFile(spec: Self.spec))"))
        #expect(refreshed["resolved_workspace"] == .string(Self.workspace))
        #expect(refreshed["chain_session"] == .string(Self.session))
        #expect(refreshed["sync_state"] == "clean")

        // exec runs in the container's login shell; a second tick sees the runner alive.
        let exec = try await cli([
            "exec", "cd \(Self.workspace) && git rev-parse --abbrev-ref HEAD && hostname",
        ])
        #expect(exec.status == 0, "\(exec)")
        #expect(exec.stdout.hasPrefix("main\n"))
        let second = try await cli(["supervise", "--chain"])
        #expect(
            second.stderr == "supervisor tick: supervisor_tick | acted=False | next_action=noop\n",
            "\(second)")

        let logs = try await cli(["logs", "--no-follow"])
        #expect(logs.status == 0, "\(logs)")

        // down stops the container; destroy removes it and remote_dir.
        let down = try await cli(["down"])
        #expect(down.status == 0, "\(down)")
        #expect(try engine.docker(["inspect", "-f", "{{.State.Running}}", container]) == "false\n")
        let destroy = try await cli(["destroy", "--yes"])
        #expect(destroy.status == 0, "\(destroy)")
        #expect(!(try engine.docker(["ps", "-a", "--format", "{{.Names}}"]).contains(container)))
        #expect(!FileSystem.exists(remoteDir))
    }
}
