import BenchSupport
import FleetCore
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `provider: local` against a real Docker engine (a private dockerd) with a real Compose: the
/// whole life of a runner from a fresh project (issue 18), which the recording stand-ins of
/// LocalProviderTests cannot show. No image registry is reachable, so the image `FROM ubuntu:22.04`
/// names is imported under that tag, holding the runner's programs and stand-ins for the
/// installers the Dockerfile runs (Tests/Fixtures/docker/runner-rootfs.sh): `build` runs every
/// step of the rendered Dockerfile, `deploy` runs the rendered entrypoint.
@Suite(
    "CLI: local provider on a real Docker engine",
    .enabled(
        if: DockerEngine.isAvailable && FileSystem.exists("/usr/bin/docker-compose"),
        "needs root, Debian's docker.io and docker-compose (scripts/install-deps.sh --tests)"))
struct LocalEngineTests {
    /// How the tool reaches Compose: `docker compose` (v2) where the docker client on PATH has the
    /// plugin, else the fallback to `docker-compose` (v1), for each docker client on this machine.
    struct Compose: Sendable, CustomTestStringConvertible {
        let path: String
        let plugin: Bool
        var testDescription: String { "\(plugin ? "docker compose" : "docker-compose") (PATH \(path))" }
        /// The image Compose names after the project and the service.
        func image(project: String) -> String { project + (plugin ? "-agent" : "_agent") }
    }

    static let variants: [Compose] = {
        var found: [Compose] = []
        for path in ["/usr/local/bin:/usr/bin:/bin", "/usr/bin:/bin"] {
            guard
                let docker = path.split(separator: ":").map({ "\($0)/docker" }).first(where: {
                    FileSystem.isRegularFile($0)
                }), !found.contains(where: { $0.path.hasPrefix(PosixPath.dirname(docker)) })
            else { continue }
            let plugin = (try? BenchProcess.run([docker, "compose", "version"])) != nil
            found.append(Compose(path: path, plugin: plugin))
        }
        return found
    }()

    static let secretName = "MPF_LOCAL_ENGINE_SECRET"
    /// Spaces, quotes, `$` and `=`: the compose env-file reader must take the value literally.
    static let secretValue = "s3cr3t \"quoted\" 'single' $HOME =x \(UInt32.random(in: 100_000...UInt32.max))"

    /// One engine at a time: each case starts its own.
    @Test(.serialized, arguments: variants)
    func buildDeployStatusExecLogsAttachDownDestroy(_ compose: Compose) async throws {
        let engine = try await onOwnThread { try DockerEngine() }
        defer { engine.stop() }
        try await onOwnThread { try engine.importRunnerImage(tag: "ubuntu:22.04", dockerfileBase: true) }
        @discardableResult func docker(_ arguments: [String]) async throws -> String {
            try await onOwnThread { try engine.docker(arguments) }
        }

        let local = try scratchDirectory("mpf-local-engine-")
        defer { TemporaryDirectory.remove(local) }
        let home = local + "/home"
        try FileSystem.makeDirectories(home)
        let project = "mpflocal\(UInt32.random(in: 0...UInt32.max))"
        let workspace = "/workspace/app"
        let port = try SSHServer.freePort()
        let cloudYAML = local + "/cloud.yaml"
        try write(
            cloudYAML,
            """
            provider: local
            repo:
              url: https://example.invalid/local-engine.git
              workspace: \(workspace)
            mode: chain
            chain:
              spec: \(workspace)/chain.yaml
            local:
              compose_project: \(project)
            resources:
              port: \(port)
            secrets:
              - \(Self.secretName)

            """)
        let deployDirectory = home + "/.megaplan/cloud/" + project
        let environment = [Self.secretName: Self.secretValue, "DOCKER_HOST": engine.host]
        func cli(_ arguments: [String], extra: [String: String] = [:]) async throws -> CLI.Result {
            let result = try await CLI.run(
                arguments + ["--cloud-yaml", cloudYAML], home: home, cwd: local, path: compose.path,
                environment: environment.merging(extra) { $1 }, timeout: .seconds(300))
            #expect(
                !result.stdout.contains(Self.secretValue) && !result.stderr.contains(Self.secretValue),
                "a secret in the output of \(arguments)")
            return result
        }
        func container() async throws -> String {
            try await docker(["ps", "-aq", "--filter", "label=com.docker.compose.project=\(project)"])
                .trimmed
        }

        // build on a fresh deploy directory: the .env the compose file names is written first.
        let build = try await cli(["build"])
        #expect(build.status == 0 && build.stdout.isEmpty, "\(build)")
        #expect(fileMode(deployDirectory + "/.env") == 0o600)
        #expect(
            try await docker(["image", "inspect", "-f", "{{.Config.Cmd}}", compose.image(project: project)])
                == "[/usr/local/bin/entrypoint.sh]\n")

        // The workspace volume already holds the repository, so the entrypoint does not clone.
        let repository = [
            "/bin/sh", "-c",
            "set -e; cd \(ShellQuote.quote(deployDirectory))/workspace; git init -q -b main; "
                + "git -c user.email=t@t -c user.name=t commit -q --allow-empty -m start",
        ]
        _ = try await onOwnThread { try BenchProcess.run(repository) }

        // deploy: the container runs the rendered entrypoint, which ends idle in tmux.
        let deploy = try await cli(["deploy"])
        #expect(deploy.status == 0 && deploy.stdout.isEmpty, "\(deploy)")
        #expect(
            FileSystem.readText(deployDirectory + "/.env")
                == "PORT=\(port)\n\(Self.secretName)=\(Self.secretValue)\n")
        #expect(fileMode(deployDirectory + "/.env") == 0o600)
        let id = try await container()
        #expect(try await docker(["exec", id, "printenv", Self.secretName]) == Self.secretValue + "\n")
        var idle = ""
        for _ in 0..<200 where !idle.contains("entrypoint idle") {
            idle = (try? await docker(["logs", id])) ?? ""
            if !idle.contains("entrypoint idle") { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(idle.contains("=== entrypoint idle ==="), "\(idle)")

        // status runs `megaplan status` in the service (the stand-in answers an executing plan).
        let status = try await cli(["status"])
        #expect(status.status == 0, "\(status)")
        #expect(status.json?["state"] == "executing", "\(status)")

        // exec: the secret reached the container intact, and its value is redacted in output.
        let same = try await cli([
            "exec", "test \"$\(Self.secretName)\" = \(ShellQuote.quote(Self.secretValue)) && echo same",
        ])
        #expect(same.status == 0 && same.stdout == "same\n", "\(same)")
        let printed = try await cli(["exec", "printenv \(Self.secretName)"])
        #expect(printed.status == 0 && printed.stdout == "***REDACTED***\n", "\(printed)")

        // logs, both modes: Compose's colour codes stay out of a pipe.
        let recent = try await cli(["logs", "--no-follow"])
        #expect(recent.status == 0, "\(recent)")
        #expect(recent.stdout.contains("Runner mode: chain"), "\(recent)")
        #expect(!recent.stdout.contains("\u{1B}"), "\(recent)")
        let follow = try CLI.start(
            ["logs", "--cloud-yaml", cloudYAML], home: home, cwd: local, path: compose.path,
            environment: environment)
        let followed = await follow.waitForOutput { $0.contains("entrypoint idle") }
        #expect(followed, "\(follow.stdoutSoFar)")
        follow.interrupt()
        let followResult = await follow.wait()
        #expect(followResult.status == 130, "\(followResult)")
        #expect(!followResult.stdout.contains("\u{1B}") && !followResult.stdout.contains(Self.secretValue))

        // attach through a pseudo-terminal: the agent tmux session's screen; the session ending
        // ends the attach cleanly.
        try await docker([
            "exec", id, "tmux", "send-keys", "-t", "agent", "echo attach-marker-$((6*7))", "Enter",
        ])
        let binary = ShellQuote.quote(CLI.binary)
        let attach = try CLI.start(
            ["-qfec", "\(binary) attach --cloud-yaml \(ShellQuote.quote(cloudYAML))", "/dev/null"],
            home: home,
            cwd: local, path: compose.path, environment: environment.merging(["TERM": "xterm"]) { $1 },
            executable: "/usr/bin/script")
        let attached = await attach.waitForOutput { $0.contains("attach-marker-42") }
        #expect(attached, "\(attach.stdoutSoFar)")
        try await docker(["exec", id, "tmux", "kill-session", "-t", "agent"])
        let attachResult = await attach.wait()
        #expect(attachResult.status == 0, "\(attachResult)")

        // down stops the container; destroy removes it, its network and the deploy directory.
        let down = try await cli(["down"])
        #expect(down.status == 0 && down.stdout.isEmpty, "\(down)")
        #expect(try await docker(["inspect", "-f", "{{.State.Running}}", id]) == "false\n")
        let destroy = try await cli(["destroy", "--yes"])
        #expect(destroy.status == 0, "\(destroy)")
        #expect(try await container().isEmpty)
        #expect(!FileSystem.exists(deployDirectory))
    }
}
