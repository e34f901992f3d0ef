import Testing

@testable import FleetCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite struct MarkerTests {
    /// Cloud reference §4.8 examples.
    @Test(arguments: [
        ("/home/tester/project/cloud.yaml", "747bda7a1b5c95a1"), ("/srv/repo/cloud.yaml", "2973807016402221"),
    ])
    func markerKey(_ cloudYAML: String, _ key: String) {
        #expect(
            Marker.path(forCloudYAML: cloudYAML, home: "/home/u")
                == "/home/u/.megaplan/cloud/markers/\(key)/last_chain.json")
        #expect(Marker.directory(forCloudYAML: cloudYAML, home: "/h") == "/h/.megaplan/cloud/markers/\(key)")
    }

    static let sample: JSONObject = [
        "remote_spec": "/workspace/app/chain.yaml",
        "started_at": "2026-05-20T10:11:12.123456+00:00",
        "base_branch": "main",
        "provenance": ["success": true, "event": "cloud_chain_launched"],
        "workspace": "/workspace/app",
        "chain_session": "megaplan-chain",
        "extra_repos": ["/srv/lib"],
        "provider": "ssh",
        "provider_identity": "runner.example.com",
    ]

    @Test func writeThenRead() throws {
        let home = TempDir()
        let cloudYAML = "/home/tester/project/cloud.yaml"
        #expect(Marker.read(forCloudYAML: cloudYAML, home: home.path) == nil)
        // Readers never create directories.
        #expect(TempDir.list(home.path).isEmpty)

        try Marker(Self.sample).write(forCloudYAML: cloudYAML, home: home.path)
        let path = Marker.path(forCloudYAML: cloudYAML, home: home.path)
        let directory = Marker.directory(forCloudYAML: cloudYAML, home: home.path)
        #expect(directory == home.path + "/.megaplan/cloud/markers/747bda7a1b5c95a1")
        #expect(TempDir.mode(path) == 0o600)
        #expect(TempDir.mode(directory) == 0o700)
        // The atomic write leaves nothing but the marker.
        #expect(TempDir.list(directory) == ["last_chain.json"])

        let text = try #require(FileSystem.readText(path))
        #expect(text.hasPrefix("{\n  \"remote_spec\": \"/workspace/app/chain.yaml\",\n"))
        #expect(text.hasSuffix("}\n"))

        let marker = try #require(Marker.read(forCloudYAML: cloudYAML, home: home.path))
        #expect(marker == Marker(Self.sample))
        #expect(marker.object.keys == Self.sample.keys)
        #expect(marker.remoteSpec == "/workspace/app/chain.yaml")
        #expect(marker.workspace == "/workspace/app")
        #expect(marker.chainSession == "megaplan-chain")
        #expect(marker.provider == "ssh")
        #expect(marker.providerIdentity == "runner.example.com")
        #expect(marker.extraRepos == ["/srv/lib"])

        // Rewriting replaces the content and still leaves no temporary file behind.
        var updated = Self.sample
        updated["chain_session"] = "other"
        try Marker(updated).write(forCloudYAML: cloudYAML, home: home.path)
        #expect(Marker.read(forCloudYAML: cloudYAML, home: home.path)?.chainSession == "other")
        #expect(TempDir.list(directory) == ["last_chain.json"])
        #expect(TempDir.mode(path) == 0o600)

        // Another cloud.yaml has its own marker.
        #expect(Marker.read(forCloudYAML: "/srv/repo/cloud.yaml", home: home.path) == nil)
    }

    @Test(arguments: ["not json", "", "[1, 2]", "\"text\"", "null", "{\"a\": 1", "42"])
    func invalidMarkerCountsAsNone(_ content: String) {
        let home = TempDir()
        let cloudYAML = "/srv/repo/cloud.yaml"
        home.write(".megaplan/cloud/markers/2973807016402221/last_chain.json", content)
        #expect(Marker.read(forCloudYAML: cloudYAML, home: home.path) == nil)
    }

    @Test func blankFieldsReadAsNil() {
        let marker = Marker(["remote_spec": "  ", "workspace": 5, "chain_session": ""])
        #expect(marker.remoteSpec == nil)
        #expect(marker.workspace == nil)
        #expect(marker.chainSession == nil)
        #expect(marker.provider == nil)
        #expect(marker.extraRepos == nil)
    }

    @Test func directoryInsteadOfMarkerCountsAsNone() {
        let home = TempDir()
        _ = home.makeDirectory(".megaplan/cloud/markers/2973807016402221/last_chain.json")
        #expect(Marker.read(forCloudYAML: "/srv/repo/cloud.yaml", home: home.path) == nil)
    }
}

@Suite struct FileSystemTests {
    @Test func atomicWriteSetsModeAndLeavesNoTemporaryFiles() throws {
        let dir = TempDir()
        let path = dir.path + "/state.json"
        try FileSystem.writeAtomically(path, text: "one", mode: 0o600)
        try FileSystem.writeAtomically(path, text: "two", mode: 0o640)
        #expect(FileSystem.readText(path) == "two")
        #expect(TempDir.mode(path) == 0o640)
        #expect(TempDir.list(dir.path) == ["state.json"])
    }

    @Test func atomicWriteIntoMissingDirectoryFails() {
        let dir = TempDir()
        let error = failure { try FileSystem.writeAtomically(dir.path + "/missing/x", text: "x") }
        #expect(error?.code == .ioError)
        #expect(error?.message.hasPrefix("cannot write \(dir.path)/missing/x: ") == true)
    }

    @Test func resolveRelativeAndTilde() {
        let dir = TempDir()
        #expect(FileSystem.resolve("a/./b/../c.yaml", relativeTo: dir.path) == dir.path + "/a/c.yaml")
        #expect(FileSystem.resolve("/x//y/") == "/x/y")
        #expect(FileSystem.resolve("~/k") == FileSystem.resolve(FileSystem.homeDirectory() + "/k"))
    }

    @Test func resolveFollowsSymlinksOfExistingParts() {
        let dir = TempDir()
        _ = dir.makeDirectory("real/sub")
        #expect(symlink(dir.path + "/real", dir.path + "/link") == 0)
        #expect(FileSystem.resolve(dir.path + "/link/sub/cloud.yaml") == dir.path + "/real/sub/cloud.yaml")
        #expect(
            FileSystem.resolve("link/missing/../x.yaml", relativeTo: dir.path) == dir.path + "/real/x.yaml")
        #expect(FileSystem.resolve(dir.path + "/link/..") == dir.path)
        #expect(FileSystem.resolve("/") == "/")
        #expect(FileSystem.resolve("/..") == "/")
    }

    @Test(arguments: [
        ("/a/b/c.yaml", "/a/b"), ("c.yaml", "."), ("/c.yaml", "/"), ("/a/b/", "/a/b"), ("a/b", "a"),
    ])
    func dirname(_ path: String, _ expected: String) {
        #expect(PosixPath.dirname(path) == expected)
    }

    @Test(arguments: [
        ("/a//b/./c", "/a/b/c"), ("a/../b", "a/../b"), ("", "."), ("./", "."), ("/", "/"),
    ])
    func normalize(_ path: String, _ expected: String) {
        #expect(PosixPath.normalize(path) == expected)
    }

    @Test func join() {
        #expect(PosixPath.join("/a", "b") == "/a/b")
        #expect(PosixPath.join("/a/", "b") == "/a/b")
        #expect(PosixPath.join("/a", "/b") == "/b")
    }
}
