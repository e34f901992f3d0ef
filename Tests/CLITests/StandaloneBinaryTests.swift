import BenchSupport
import FleetCore
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Root (chroot, mounts), debootstrap and unshare.
private let standaloneRootAvailable =
    geteuid() == 0 && FileSystem.exists("/usr/sbin/debootstrap") && FileSystem.exists("/usr/bin/unshare")

/// The release binary installed on its own (issue 16): built as `scripts/build-release.sh` builds
/// it, copied alone into a minimal Debian 12 root file system that has no Swift (debootstrap's
/// minbase plus libssh2-1 and libcurl4, cached under /var/cache/megaplan-fleet-test-rootfs-curl by
/// Tests/Fixtures/debian/rootfs.sh), and run there in a chroot against the suite's loopback sshd
/// runner host: every library it loads comes from that root, and the deploy templates from the
/// binary itself.
@Suite(
    "CLI: the release binary alone in a Debian root without Swift", .runnerHost,
    .enabled(
        if: standaloneRootAvailable,
        "needs root, debootstrap and unshare (scripts/install-deps.sh --tests)"))
struct StandaloneBinaryTests {
    static let checkout = PosixPath.dirname(
        PosixPath.dirname(PosixPath.dirname(RunnerAccount.checkoutFixtures)))
    static let fixtures = checkout + "/Tests/Fixtures/debian"

    /// Runs a program of this machine to completion without blocking the test's threads.
    static func host(_ arguments: [String], timeout: Duration = .seconds(120)) async throws -> CLI.Result {
        try await CLI.run(
            Array(arguments.dropFirst()), home: ProcessEnvironment.current["HOME"] ?? "/root",
            cwd: checkout, path: "/opt/swift/usr/bin:/usr/local/bin:/usr/bin:/usr/sbin:/bin",
            timeout: timeout, executable: arguments[0])
    }

    @Test func runsAloneInADebianRootWithoutSwift() async throws {
        // The release build (its own scratch directory: `swift test` holds .build) and the root.
        let build = try await Self.host(
            [
                "/bin/bash", Self.checkout + "/scripts/build-release.sh", "--scratch-path",
                Self.checkout + "/.build-release",
            ],
            timeout: .seconds(3600))
        try #require(build.status == 0, "\(build)")
        let release = try #require(build.stdout.split(separator: "\n").last.map(String.init))
        let rootfs = try await Self.host(["/bin/sh", Self.fixtures + "/rootfs.sh"], timeout: .seconds(1800))
        try #require(rootfs.status == 0, "\(rootfs)")
        let root = rootfs.stdout.trimmed
        #expect(!FileSystem.exists(root + "/opt/swift") && !FileSystem.exists(root + "/usr/bin/swift"))

        // Only the binary is copied in.
        let installDirectory = "/opt/mpf-\(UInt32.random(in: 0...UInt32.max))"
        let installed = installDirectory + "/megaplan-fleet"
        try FileSystem.makeDirectories(root + installDirectory)
        defer { TemporaryDirectory.remove(root + installDirectory) }
        let install = try await Self.host(["/usr/bin/install", "-m", "755", release, root + installed])
        try #require(install.status == 0, "\(install)")

        let fixture = try SSHFixture("standalone")
        defer { fixture.cleanUp() }
        let scratch = try scratchDirectory("mpf-standalone-")
        defer { TemporaryDirectory.remove(scratch) }
        /// Runs a program inside the root (the host's /tmp, where the fixture lives, bound in).
        func inRoot(_ arguments: [String], cwd: String? = nil) async throws -> CLI.Result {
            try await CLI.run(
                [root, cwd ?? fixture.repo] + arguments, home: fixture.home, path: "/usr/bin:/bin",
                environment: fixture.secretEnvironment, executable: Self.fixtures + "/in-rootfs.sh")
        }
        func cli(_ arguments: [String]) async throws -> CLI.Result {
            try await inRoot([installed] + arguments + fixture.connection)
        }

        // No Swift library (the standard library and Foundation are linked in), and nothing
        // missing: the C library, libssh2 and libcrypto, and libcurl (FoundationNetworking's
        // transport, for notification webhooks) with what Debian's libcurl4 brings.
        let ldd = try await inRoot(["/usr/bin/ldd", installed])
        #expect(ldd.status == 0, "\(ldd)")
        let libraries = ldd.stdout.split(separator: "\n").compactMap {
            $0.split(separator: " ").first.map { String($0).trimmed }
        }
        #expect(
            libraries.contains { $0.hasPrefix("libssh2.so") }
                && libraries.contains { $0.hasPrefix("libcurl.so") }
                && libraries.contains { $0.hasPrefix("libc.so") })
        #expect(!ldd.stdout.contains("not found"), "\(ldd)")
        #expect(
            !libraries.contains {
                ["libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime"].contains(
                    where: $0.hasPrefix)
            }, "\(ldd)")

        let initialized = try await inRoot([installed, "init"], cwd: scratch)
        #expect(initialized.status == 0, "\(initialized)")
        #expect(FileSystem.readText(scratch + "/cloud.yaml")?.contains("provider:") == true)

        let validate = try await inRoot([installed, "validate", "--cloud-yaml", fixture.cloudYAML])
        #expect(validate.status == 0, "\(validate)")

        // build writes the deploy directory from the embedded templates, syncs it over SFTP and
        // runs the (recording) docker build on the host.
        let built = try await cli(["build"])
        #expect(built.status == 0 && built.stdout.isEmpty, "\(built)")
        #expect(fixture.dockerCalls() == [["build", "-t", fixture.container, fixture.remoteDir]])
        for template in ["wrappers/mp-chain", "healthserver.py"] {
            #expect(
                FileSystem.readText(fixture.remoteDir + "/" + template)
                    == FileSystem.readText(Self.checkout + "/Sources/Transport/Templates/" + template),
                "\(template)")
        }
        #expect(
            FileSystem.readText(fixture.remoteDir + "/Dockerfile")?.hasPrefix("# megaplan cloud agent image")
                == true)

        // A chain whose runner has stopped, with bookkeeping one milestone behind.
        try fixture.project.writeState([
            "current_milestone_index": 1, "completed": [ChainStatusTests.done("m1")],
        ])
        let status = try await cli(["status", "--chain"])
        #expect(status.status == 0, "\(status)")
        #expect(status.json?["effective_status"] == "stale_bookkeeping", "\(status)")

        let fleet = scratch + "/fleet.yaml"
        try write(
            fleet,
            """
            version: 1
            defaults:
              known_hosts: \(fixture.host.server.knownHostsPath)
            projects:
              - name: standalone
                cloud_yaml: \(fixture.cloudYAML)

            """)
        let tick = try await inRoot([installed, "tick", "--all", "--fleet", fleet])
        #expect(tick.status == 0, "\(tick)")
        let lines = tick.stdout.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
        #expect(lines.count == 2, "\(tick)")
        #expect(lines.first?["project"] == "standalone" && lines.first?["outcome"] == "ok", "\(tick)")
        #expect(lines.first?["report"]?["acted"] == .bool(true), "\(tick)")
        #expect(!tick.stdout.contains(fixture.secretValue) && !tick.stderr.contains(fixture.secretValue))
    }
}
