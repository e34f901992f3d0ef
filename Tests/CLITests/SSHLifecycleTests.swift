import FleetCore
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// build, deploy, down and destroy over ssh (§1.3, §1.4, §1.13, §1.15, §7.4).
@Suite("CLI: ssh lifecycle", .runnerHost)
struct SSHLifecycleTests {
    @Test func buildDeployDownDestroyOnTheDockerRuntime() async throws {
        let fixture = try SSHFixture("life")
        defer { fixture.cleanUp() }
        let container = fixture.container
        let deployDirectory = fixture.home + "/.megaplan/cloud/ssh-127.0.0.1"

        let build = try await fixture.cli(["build"])
        #expect(build.status == 0, "\(build)")
        #expect(build.stdout.isEmpty && build.stderr.isEmpty, "\(build)")
        #expect(FileSystem.isRegularFile(deployDirectory + "/Dockerfile"))
        #expect(
            FileSystem.isRegularFile(fixture.remoteDir + "/Dockerfile"),
            "the deploy directory is synced to remote_dir")
        #expect(FileSystem.isRegularFile(fixture.remoteDir + "/wrappers/mp-chain"))
        #expect(fixture.dockerCalls() == [["build", "-t", container, fixture.remoteDir]])

        let deploy = try await fixture.cli(["deploy"])
        #expect(deploy.status == 0, "\(deploy)")
        #expect(deploy.stdout.isEmpty && deploy.stderr.isEmpty, "\(deploy)")
        let env = fixture.remoteDir + "/.env"
        #expect(
            fixture.remoteFile(env)
                == "PORT=8123\nMPF_CLI_SECRET=\(fixture.secretValue)\nMPF_CLI_OTHER=other-value-123\n")
        #expect(fileMode(env) == 0o600)
        #expect(
            fixture.dockerCalls().suffix(2) == [
                ["rm", "-f", container],
                [
                    "run", "-d", "--name", container, "--restart", "unless-stopped", "--env-file", env, "-p",
                    "8123:8123", container,
                ],
            ])

        // An unset secret is written empty (only Railway refuses it).
        let unset = try await fixture.cli(["deploy"], environment: [fixture.secretName: fixture.secretValue])
        #expect(unset.status == 0, "\(unset)")
        #expect(
            fixture.remoteFile(env) == "PORT=8123\nMPF_CLI_SECRET=\(fixture.secretValue)\nMPF_CLI_OTHER=\n")

        let down = try await fixture.cli(["down"])
        #expect(down.status == 0 && down.stdout.isEmpty, "\(down)")
        #expect(fixture.dockerCalls().last == ["stop", container])

        // Markers survive destroy.
        let markerPath = Marker.path(forCloudYAML: FileSystem.resolve(fixture.cloudYAML), home: fixture.home)
        try write(markerPath, "{\"remote_spec\": \"/x/chain.yaml\"}\n")

        let destroy = try await fixture.cli(["destroy", "--yes"])
        #expect(destroy.status == 0, "\(destroy)")
        #expect(destroy.stdout.isEmpty, "\(destroy)")
        #expect(fixture.dockerCalls().last == ["rm", "-f", container])
        #expect(!FileSystem.exists(fixture.remoteDir), "destroy removes remote_dir")
        #expect(!FileSystem.exists(deployDirectory), "destroy removes the local deploy directory")
        #expect(FileSystem.exists(markerPath))

        let log = FileSystem.readText(fixture.remoteHome + "/.docker-stub/calls.log") ?? ""
        #expect(!log.contains(fixture.secretValue), "a secret never appears in a docker command line")
        #expect(!log.contains("other-value-123"))
        #expect(fixture.dockerCalls().count == 7)
    }

    /// `build` replaces remote_dir as the reference does: a file no longer generated is gone, and
    /// a sync that fails leaves the previous tree whole, with no staging directory behind.
    @Test func buildReplacesRemoteDirAndAFailedSyncLeavesItWhole() async throws {
        let fixture = try SSHFixture("resync")
        defer { fixture.cleanUp() }
        let parent = PosixPath.dirname(fixture.remoteDir)
        func siblings() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: parent).filter { $0.contains(".megaplan-") }
        }
        #expect(try await fixture.cli(["build"]).status == 0)
        try fixture.host.shell("echo stale > \(ShellQuote.quote(fixture.remoteDir + "/stale.txt"))")

        let again = try await fixture.cli(["build"])
        #expect(again.status == 0, "\(again)")
        #expect(!FileSystem.exists(fixture.remoteDir + "/stale.txt"), "a file no longer generated is removed")
        #expect(FileSystem.isRegularFile(fixture.remoteDir + "/Dockerfile"))
        #expect(FileSystem.isRegularFile(fixture.remoteDir + "/wrappers/mp-chain"))
        #expect(try siblings().isEmpty)

        // The parent refuses new entries: the upload fails and the old tree stays as it was.
        try fixture.host.shell("echo kept > \(ShellQuote.quote(fixture.remoteDir + "/kept.txt"))")
        try fixture.host.shell("chmod 0555 \(ShellQuote.quote(parent))")
        let failed = try await fixture.cli(["build"])
        try fixture.host.shell("chmod 0755 \(ShellQuote.quote(parent))")
        #expect(failed.status == 1, "\(failed)")
        #expect(fixture.remoteFile(fixture.remoteDir + "/kept.txt") == "kept\n")
        #expect(FileSystem.isRegularFile(fixture.remoteDir + "/Dockerfile"))
        #expect(try siblings().isEmpty)
        #expect(
            fixture.dockerCalls() == [["build", "-t", fixture.container, fixture.remoteDir]] + [
                ["build", "-t", fixture.container, fixture.remoteDir]
            ])
    }

    @Test func destroyAsksFirst() async throws {
        let fixture = try SSHFixture("confirm")
        defer { fixture.cleanUp() }
        let prompt = "Destroy cloud deployment and delete volume 'vol-confirm'? [y/N]: "

        let no = try await fixture.cli(["destroy"], stdin: "n\n")
        #expect(no.status == 1, "\(no)")
        #expect(no.stdout == prompt)
        let eof = try await fixture.cli(["destroy"], stdin: nil)
        #expect(eof.status == 1, "\(eof)")
        #expect(eof.stdout == prompt)
        #expect(!eof.stderr.contains("Fatal"), "\(eof)")
        #expect(fixture.dockerCalls().isEmpty)

        let yes = try await fixture.cli(["destroy"], stdin: "  YES \n")
        #expect(yes.status == 0, "\(yes)")
        #expect(yes.stdout == prompt)
        #expect(fixture.dockerCalls() == [["rm", "-f", fixture.container]])
    }

    @Test func hostRuntimeHasNoContainerToManage() async throws {
        let fixture = try SSHFixture("hostrt", runtime: "host")
        defer { fixture.cleanUp() }
        for action in ["build", "deploy", "down"] {
            let result = try await fixture.cli([action])
            expectError(
                result, "invalid_args",
                contains: [
                    "`\(action)` needs the docker runtime", "ssh.runtime is 'host'", fixture.cloudYAML,
                ])
        }
        let destroy = try await fixture.cli(["destroy", "--yes"])
        expectError(destroy, "invalid_args", contains: ["needs the docker runtime"])
        #expect(!FileSystem.exists(fixture.remoteDir))
        #expect(fixture.dockerCalls().isEmpty)
    }
}
