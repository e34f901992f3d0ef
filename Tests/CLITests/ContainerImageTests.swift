import BenchSupport
import FleetCore
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The repository's Dockerfile, runtime stage, built by a real Docker engine (BuildKit) without a
/// registry: the base image is the suite's debootstrap Debian 12 root (libssh2-1 installed) with
/// tini added, standing in for `debian:bookworm-slim` after its `apt-get install`
/// (RUNTIME_PACKAGES empty), and the binary is the release build (BINARY_STAGE=prebuilt), so the
/// Swift build stage, which needs the toolchain image, is never built. Everything after the
/// package install runs as written: the user, the entry point, the environment.
@Suite(
    "CLI: the container image on a real Docker engine",
    .enabled(
        if: DockerEngine.isAvailable && FileSystem.exists("/usr/sbin/debootstrap")
            && FileSystem.exists("/usr/bin/unshare") && FileSystem.exists("/usr/bin/tini-static"),
        "needs root, docker.io, debootstrap and tini (scripts/install-deps.sh --tests)"))
struct ContainerImageTests {
    @Test func runtimeStageRunsTheReleaseBinaryAsItsOwnUser() async throws {
        let checkout = StandaloneBinaryTests.checkout
        let build = try await StandaloneBinaryTests.host(
            [
                "/bin/bash", checkout + "/scripts/build-release.sh", "--scratch-path",
                checkout + "/.build-release",
            ],
            timeout: .seconds(3600))
        try #require(build.status == 0, "\(build)")
        let release = try #require(build.stdout.split(separator: "\n").last.map(String.init))
        let rootfs = try await StandaloneBinaryTests.host(
            ["/bin/sh", StandaloneBinaryTests.fixtures + "/rootfs.sh"], timeout: .seconds(1800))
        try #require(rootfs.status == 0, "\(rootfs)")
        let root = rootfs.stdout.trimmed

        let engine = try await onOwnThread { try DockerEngine() }
        defer { engine.stop() }
        let scratch = try scratchDirectory("mpf-image-")
        defer { TemporaryDirectory.remove(scratch) }
        let id = UInt32.random(in: 0...UInt32.max)
        let base = "mpf-runtime-base-\(id)"
        let image = "mpf-image-\(id)"

        /// The docker client against the test's engine, with BuildKit (it builds only the stages
        /// the target needs).
        func docker(_ arguments: [String]) async throws -> CLI.Result {
            try await CLI.run(
                arguments, home: scratch, environment: ["DOCKER_HOST": engine.host, "DOCKER_BUILDKIT": "1"],
                timeout: .seconds(600), executable: "/usr/bin/docker")
        }

        // The base: the Debian root, imported, plus tini.
        _ = try await onOwnThread {
            try BenchProcess.run([
                "/bin/sh", "-c",
                "tar -C \(ShellQuote.quote(root)) -c . | DOCKER_HOST=\(ShellQuote.quote(engine.host)) /usr/bin/docker import - \(base)-root",
            ])
        }
        try FileSystem.makeDirectories(scratch + "/base")
        _ = try await onOwnThread {
            try BenchProcess.run([
                "/usr/bin/install", "-m", "755", "/usr/bin/tini-static", scratch + "/base/tini",
            ])
        }
        try write(scratch + "/base/Dockerfile", "FROM \(base)-root\nCOPY tini /usr/bin/tini\n")
        let baseBuild = try await docker(["build", "--network", "none", "-t", base, scratch + "/base"])
        try #require(baseBuild.status == 0, "\(baseBuild)")

        // The runtime stage; its context holds only the binary.
        try FileSystem.makeDirectories(scratch + "/context")
        _ = try await onOwnThread {
            try BenchProcess.run([
                "/usr/bin/install", "-m", "755", release, scratch + "/context/megaplan-fleet",
            ])
        }
        let imageBuild = try await docker([
            "build", "--network", "none", "-f", checkout + "/Dockerfile", "--target", "runtime",
            "--build-arg", "BINARY_STAGE=prebuilt", "--build-arg", "RUNTIME_IMAGE=\(base)",
            "--build-arg", "RUNTIME_PACKAGES=", "--build-arg",
            "SWIFT_IMAGE=mpf-unreachable.invalid/swift:none",
            "-t", image, scratch + "/context",
        ])
        try #require(imageBuild.status == 0, "\(imageBuild)")
        let config = try await docker([
            "image", "inspect", "-f", "{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}}",
            image,
        ])
        #expect(
            config.stdout
                == #"10001:10001 ["/usr/bin/tini","--","/usr/local/bin/megaplan-fleet"] ["tick","--all"]"#
                + "\n",
            "\(config)")

        let hostVersion = try await CLI.run(["--version"], home: scratch, executable: release)
        let version = try await docker(["run", "--rm", "--network", "none", image, "--version"])
        #expect(
            version.status == 0 && version.stdout == hostVersion.stdout && !version.stdout.isEmpty,
            "\(version)")
        let user = try await docker([
            "run", "--rm", "--network", "none", "--entrypoint", "/usr/bin/id", image,
        ])
        #expect(user.stdout.hasPrefix("uid=10001(megaplan) gid=10001(megaplan)"), "\(user)")

        // A fleet mounted read-only where the image looks for it, a state volume of the image's
        // user, and a read-only root: validate, then the default command (a tick) whose one
        // project is unreachable (no network): exit 1, its lines, and its files on the volume.
        let fleet = scratch + "/fleet"
        try write(fleet + "/known_hosts", "")
        try write(fleet + "/down.cloud.yaml", RecipeTests.unreachableCloudYAML)
        try write(
            fleet + "/fleet.yaml",
            "version: 1\ndefaults:\n  known_hosts: known_hosts\nprojects:\n  - name: down\n    cloud_yaml: down.cloud.yaml\n"
        )
        chmod(fleet, 0o755)
        let state = scratch + "/state"
        try FileSystem.makeDirectories(state)
        chown(state, 10001, 10001)
        chmod(state, 0o700)
        let mounts = [
            "--read-only", "-v", fleet + ":/etc/megaplan-fleet:ro", "-v", state + ":/var/lib/megaplan-fleet",
        ]
        let validate = try await docker(
            ["run", "--rm", "--network", "none"] + mounts + [
                image, "validate", "--fleet", "/etc/megaplan-fleet/fleet.yaml",
            ])
        #expect(validate.status == 0, "\(validate)")
        let tick = try await docker(["run", "--rm", "--network", "none"] + mounts + [image])
        #expect(tick.status == 1, "\(tick)")
        let lines = tick.stdout.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        #expect(lines.count == 2, "\(tick)")
        #expect(lines.first?["project"] == "down" && lines.first?["error_kind"] == "unreachable", "\(tick)")
        let markers = (try? FileManager.default.contentsOfDirectory(atPath: state + "/cloud/markers")) ?? []
        #expect(markers.count == 1, "\(tick)")
        // Written by the image's user (the chain lock; an error tick records no status yet).
        var info = stat()
        let marker = state + "/cloud/markers/\(markers.first ?? "")"
        #expect(stat(marker + "/supervise.lock", &info) == 0 && info.st_uid == 10001, "\(marker)")
    }
}
