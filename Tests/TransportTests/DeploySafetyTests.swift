import FleetCore
import Foundation
import Testing

@testable import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// The deploy directory and the local secrets file, written by a root job, follow no planted link
/// and live in a directory no one else can write (review of issue 13).
@Suite struct DeploySafetyTests {
    static let victimContent = "precious content that must survive\n"

    /// A scratch home with a victim file outside the deploy tree.
    struct Scratch {
        let home: String
        let victim: String

        init() throws {
            home = FileManager.default.temporaryDirectory.path + "/deploy-safety-" + UUID().uuidString
            try FileSystem.makeDirectories(home + "/outside")
            victim = home + "/outside/victim"
            try FileSystem.writeAtomically(victim, text: DeploySafetyTests.victimContent)
        }

        func remove() { try? FileManager.default.removeItem(atPath: home) }

        var victimIsUntouched: Bool { FileSystem.readText(victim) == DeploySafetyTests.victimContent }

        func plantLink(_ path: String) throws {
            try FileSystem.makeDirectories(PosixPath.dirname(path))
            try #require(symlink(victim, path) == 0)
        }
    }

    private static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
    }

    @Test func plantedLinksInTheDeployDirectoryAreReplacedNotFollowed() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let destination = scratch.home + "/.megaplan/cloud/megaplan-cloud"
        let names = ["Dockerfile", "entrypoint.sh", "docker-compose.yaml", "wrappers/mp-run"]
        for name in names { try scratch.plantLink(destination + "/" + name) }
        let spec = try CloudSpec.parse(
            text: "repo:\n  url: https://github.com/example/app.git\nprovider: local\n",
            path: "/tmp/cloud.yaml")
        try DeployDirectory.materialize(spec, into: destination, below: scratch.home)
        #expect(scratch.victimIsUntouched)
        for name in names { #expect(Self.isRegularFile(destination + "/" + name), "\(name)") }
    }

    @Test func groupWritableDeployDirectoryIsRepaired() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let destination = scratch.home + "/.megaplan/cloud/megaplan-cloud"
        try FileSystem.makeDirectories(destination + "/wrappers")
        for path in [scratch.home + "/.megaplan", destination, destination + "/wrappers"] {
            chmod(path, 0o777)
        }
        let spec = try CloudSpec.parse(
            text: "repo:\n  url: https://github.com/example/app.git\n", path: "/tmp/cloud.yaml")
        try DeployDirectory.materialize(spec, into: destination, below: scratch.home)
        for path in [scratch.home + "/.megaplan", destination, destination + "/wrappers"] {
            var info = stat()
            #expect(stat(path, &info) == 0 && info.st_mode & 0o022 == 0, "\(path)")
        }
    }

    @Test func composeSecretsFileReplacesAPlantedLinkAndStaysPrivate() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let bin = scratch.home + "/bin"
        try FileSystem.makeDirectories(bin)
        try FileSystem.writeAtomically(bin + "/docker", text: "#!/bin/sh\nexit 0\n", mode: 0o755)
        let spec = try CloudSpec.parse(
            text: "repo:\n  url: https://github.com/example/app.git\nprovider: local\n",
            path: "/tmp/cloud.yaml")
        let runner = try ComposeRunner(spec: spec, home: scratch.home, searchPath: bin)
        let envFile = runner.deployDirectory + "/.env"
        try scratch.plantLink(envFile)
        chmod(runner.deployDirectory, 0o777)
        try await runner.deploy(
            deployDirectory: runner.deployDirectory, secrets: [("API_TOKEN", "s3cr3t-value-123")])
        #expect(scratch.victimIsUntouched)
        #expect(Self.isRegularFile(envFile))
        var info = stat()
        #expect(stat(envFile, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(stat(runner.deployDirectory, &info) == 0 && info.st_mode & 0o022 == 0)
        #expect(FileSystem.readText(envFile)?.contains("API_TOKEN") == true)
    }
}
