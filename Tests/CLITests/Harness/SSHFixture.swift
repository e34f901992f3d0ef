import FleetCore
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension Trait where Self == SharedRunnerHost {
    /// The suite's runner host (TestSupport's RunnerHost: tmux, git, bash for real; megaplan, gh
    /// and docker stand-ins). The default routing (`agents.default: codex`) needs `codex` and
    /// `tmux` on the runner; tmux is real, codex is a stand-in that only has to exist for
    /// `command -v`.
    static var runnerHost: SharedRunnerHost {
        SharedRunnerHost { host in
            try host.server.placeFile(
                ".local/bin/codex", contents: Array("#!/bin/sh\necho codex stand-in\n".utf8), mode: 0o755)
        }
    }
}

/// A project on the shared runner host, driven through the CLI: a git workspace on the host, a
/// local checkout directory with its own cloud.yaml, and a private local HOME.
struct SSHFixture {
    let host: RunnerHost
    let project: TestProject
    /// The container name (also the docker stand-in's per-container directory).
    let container: String
    /// `ssh.remote_dir` on the host, private to this project.
    let remoteDir: String
    /// The local repository directory (cwd for the CLI, root of idea lookup).
    let repo: String
    let secretName: String
    let secretValue: String

    var workspace: String { project.workspace }
    var home: String { project.home }
    var cloudYAML: String { project.cloudYAMLPath }
    var session: String { project.session }
    var remoteHome: String { host.server.homeDirectory }

    /// `runtime` is `docker` (the docker stand-in on the host runs `exec` for real) or `host`.
    init(
        _ name: String, runtime: String = "docker", agents: String = "  default: codex", secrets: Bool = true,
        branch: String = "main", milestones: [String] = ["m1", "m2", "m3"], extraYAML: String = ""
    ) throws {
        host = try SharedRunnerHost.host()
        project = try host.makeProject(name, runtime: runtime, milestones: milestones)
        let id = PosixPath.basename(PosixPath.dirname(project.workspace))
        container = "ctr-\(id)"
        remoteDir = PosixPath.dirname(project.workspace) + "/deploy dir"
        repo = project.localDirectory + "/repo"
        try FileSystem.makeDirectories(repo + "/.megaplan")
        secretName = "MPF_CLI_SECRET"
        secretValue = "s3cr3t-\(UInt32.random(in: 100_000...UInt32.max))-value"
        let cloud = """
            provider: ssh
            repo:
              url: https://example.invalid/\(name).git
              branch: \(branch)
              workspace: \(project.workspace)
            agents:
            \(agents)
            mode: chain
            megaplan:
              ref: v9.9
            chain:
              spec: \(project.workspace)/chain.yaml
              chain_session: \(project.session)
            resources:
              volume: vol-\(name)
              port: 8123
            ssh:
              host: 127.0.0.1
              port: \(host.server.port)
              user: \(host.server.account)
              identity_file: \(host.server.clientKeyPath)
              runtime: \(runtime)
              container: \(container)
              remote_dir: \(remoteDir)
            extra_repos:
              - /srv/extra-one
            \(secrets ? "secrets:\n  - \(secretName)\n  - MPF_CLI_OTHER" : "")
            \(extraYAML)
            """
        try FileSystem.writeAtomically(project.cloudYAMLPath, text: cloud)
    }

    /// The environment with both configured secrets set.
    var secretEnvironment: [String: String] { [secretName: secretValue, "MPF_CLI_OTHER": "other-value-123"] }

    /// Runs `megaplan-fleet <command> <arguments> --cloud-yaml … --known-hosts …`.
    func cli(
        _ arguments: [String], environment: [String: String]? = nil, stdin: String? = nil, cwd: String? = nil
    ) async throws -> CLI.Result {
        try await CLI.run(
            arguments + connection, home: home, cwd: cwd ?? repo,
            environment: environment ?? secretEnvironment,
            stdin: stdin)
    }

    func start(_ arguments: [String], environment: [String: String]? = nil) throws -> CLI.Running {
        try CLI.start(
            arguments + connection, home: home, cwd: repo, environment: environment ?? secretEnvironment)
    }

    var connection: [String] { ["--cloud-yaml", cloudYAML, "--known-hosts", host.server.knownHostsPath] }

    /// The docker stand-in's records for this project's container, each as the argument list.
    func dockerCalls() -> [[String]] {
        let log = remoteHome + "/.docker-stub/calls.log"
        guard let text = FileSystem.readText(log) else { return [] }
        var records: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { continue }
            if line.hasPrefix("docker [") || records.isEmpty {
                records.append(String(line))
            } else {
                records[records.count - 1] += "\n" + line
            }
        }
        return records.compactMap(Self.parseRecord).filter { $0.contains(container) }
    }

    /// `docker [a] [b] …` back into arguments. An argument may itself contain `] [`, so the
    /// record is split only where the stand-in put separators: the caller compares against
    /// rendered expectations anyway.
    static func parseRecord(_ record: String) -> [String]? {
        guard record.hasPrefix("docker [") else { return nil }
        var body = String(record.dropFirst("docker [".count))
        guard body.hasSuffix("]") else { return nil }
        body.removeLast()
        return body.components(separatedBy: "] [")
    }

    /// Expected record for `docker exec [-i] C bash -lc CMD`.
    func execRecord(_ command: String, input: Bool = false) -> [String] {
        ["exec"] + (input ? ["-i"] : []) + [container, "bash", "-lc", command]
    }

    /// A file on the host, read as root.
    func remoteFile(_ path: String) -> String? { FileSystem.readText(path) }

    func cleanUp() {
        project.cleanUp()
        _ = try? host.shell("rm -rf \(ShellQuote.quote(PosixPath.dirname(project.workspace)))")
        _ = try? host.shell("rm -rf \(ShellQuote.quote(remoteHome + "/.docker-stub/" + container))")
    }
}
