import Testing

@testable import FleetCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Files written by a root cron job: no planted link is followed, no lock file is truncated or
/// held by someone else, and the state directories are private (review of issue 13).
@Suite struct SecureFilesTests {
    static let cloudYAML = "/srv/project/cloud.yaml"
    static let nobody: uid_t = 65534

    /// A file outside the state tree that a planted link points at, and its untouched content.
    struct Victim {
        let path: String
        static let content = "precious content that must survive\n"

        init(in home: TempDir) {
            path = home.write("outside/victim", Self.content)
        }

        var isUntouched: Bool {
            FileSystem.readText(path) == Self.content && TempDir.mode(path) == 0o644
        }
    }

    private func plantLink(at path: String, to target: String) throws {
        try FileSystem.makeDirectories(PosixPath.dirname(path))
        try #require(symlink(target, path) == 0)
    }

    private func isSymlink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK
    }

    private func chownToNobody(_ path: String) throws {
        try #require(chown(path, Self.nobody, Self.nobody) == 0, "tests run as root to chown to nobody")
    }

    // MARK: Atomic replacement

    @Test func atomicWriteReplacesAPlantedLinkNotItsTarget() throws {
        let home = TempDir()
        let victim = Victim(in: home)
        let destination = home.path + "/state/file.json"
        try plantLink(at: destination, to: victim.path)
        try FileSystem.writeAtomically(destination, text: "new\n", mode: 0o600)
        #expect(victim.isUntouched)
        #expect(!isSymlink(destination))
        #expect(FileSystem.readText(destination) == "new\n")
        #expect(TempDir.list(home.path + "/state") == ["file.json"])
    }

    @Test func markerWriteLeavesAPlantedLinkTargetUntouched() throws {
        let home = TempDir()
        let victim = Victim(in: home)
        try plantLink(at: Marker.path(forCloudYAML: Self.cloudYAML, home: home.path), to: victim.path)
        try Marker(["workspace": "/w"]).write(forCloudYAML: Self.cloudYAML, home: home.path)
        #expect(victim.isUntouched)
        #expect(Marker.read(forCloudYAML: Self.cloudYAML, home: home.path)?.workspace == "/w")
    }

    @Test func parentLinksResolveButTheLastComponentIsKept() throws {
        let home = TempDir()
        let real = home.makeDirectory("real")
        try plantLink(at: home.path + "/via", to: real)
        try plantLink(at: real + "/metrics.prom", to: "/etc/passwd")
        #expect(FileSystem.resolveParent(home.path + "/via/metrics.prom") == real + "/metrics.prom")
    }

    @Test func removingATemporaryTreeNeverFollowsALinkInIt() throws {
        let home = TempDir()
        let victim = Victim(in: home)
        let scratch = try TemporaryDirectory.make(prefix: "secure-files-")
        try plantLink(at: scratch + "/sub/outside", to: PosixPath.dirname(victim.path))
        try plantLink(at: scratch + "/file-link", to: victim.path)
        TemporaryDirectory.remove(scratch)
        #expect(!FileSystem.exists(scratch))
        #expect(victim.isUntouched)
    }

    // MARK: Lock files

    @Test func lockThroughAPlantedLinkIsRefusedAndItsTargetUntouched() throws {
        let home = TempDir()
        let victim = Victim(in: home)
        let lock = home.path + "/locks/supervise.lock"
        try plantLink(at: lock, to: victim.path)
        let error = try #require(failure { try FileLock.tryAcquire(lock) })
        #expect(error.message.contains(lock))
        #expect(error.message.contains("symbolic link"))
        #expect(victim.isUntouched)
    }

    @Test func lockOpenNeverTruncatesAnExistingFile() throws {
        let home = TempDir()
        let lock = home.write("locks/supervise.lock", Victim.content)
        chmod(lock, 0o600)
        let held = try #require(try FileLock.tryAcquire(lock))
        #expect(FileSystem.readText(lock) == Victim.content)
        held.release()
        #expect(FileSystem.readText(lock) == Victim.content)
    }

    @Test func lockOwnedByAnotherUserIsRefused() throws {
        let home = TempDir()
        let lock = home.write("locks/fleet.lock", "")
        try chownToNobody(lock)
        let error = try #require(failure { try FileLock.tryAcquire(lock) })
        #expect(error.message.contains(lock))
        #expect(error.message.contains("owned by nobody"))
    }

    @Test func lockThatIsAFIFOIsRefused() throws {
        let home = TempDir()
        let lock = home.makeDirectory("locks") + "/fleet.lock"
        try #require(mkfifo(lock, 0o600) == 0)
        let error = try #require(failure { try FileLock.tryAcquire(lock) })
        #expect(error.message == "refusing lock file \(lock): not a regular file")
    }

    @Test func lockWithASecondHardLinkIsRefused() throws {
        let home = TempDir()
        let victim = Victim(in: home)
        let lock = home.makeDirectory("locks") + "/fleet.lock"
        try #require(link(victim.path, lock) == 0)
        let error = try #require(failure { try FileLock.tryAcquire(lock) })
        #expect(error.message.contains("2 hard links"))
        #expect(victim.isUntouched)
    }

    @Test func lockFileOthersCouldOpenIsMadePrivate() throws {
        let home = TempDir()
        let lock = home.write("locks/fleet.lock", "")
        chmod(lock, 0o644)
        let held = try #require(try FileLock.tryAcquire(lock))
        defer { held.release() }
        #expect(TempDir.mode(lock) == 0o600)
    }

    /// A real process of another user (`nobody`) tries to take the lock with flock(1): it could
    /// while the lock file was readable and its directories writable, and cannot once we held it.
    @Test func anotherUserCannotOpenOrHoldOurLock() throws {
        let home = TempDir()
        chmod(home.path, 0o755)
        let lock = home.path + "/.megaplan/fleet/locks/a.lock"
        try FileSystem.makeDirectories(PosixPath.dirname(lock))
        for directory in [".megaplan", ".megaplan/fleet", ".megaplan/fleet/locks"] {
            chmod(home.path + "/" + directory, 0o777)
        }
        home.write(".megaplan/fleet/locks/a.lock", "")
        chmod(lock, 0o644)
        let asNobody =
            "setpriv --reuid=65534 --regid=65534 --clear-groups flock -n \(ShellQuote.quote(lock)) true"
        #expect(runShell(asNobody).status == 0, "the unsafe layout lets nobody take the lock")

        let held = try #require(try FileLock.tryAcquire(lock, stateRoot: home.path))
        held.release()
        #expect(runShell(asNobody).status != 0, "nobody can no longer open the lock file")
    }

    @Test func newLockFilesAre0600InA0700Directory() throws {
        let home = TempDir()
        let lock = home.path + "/.megaplan/fleet/locks/a.lock"
        let held = try #require(try FileLock.tryAcquire(lock, stateRoot: home.path))
        defer { held.release() }
        #expect(TempDir.mode(lock) == 0o600)
        for directory in [".megaplan", ".megaplan/fleet", ".megaplan/fleet/locks"] {
            #expect(TempDir.mode(home.path + "/" + directory) == 0o700, "\(directory)")
        }
    }

    // MARK: State directories

    @Test func groupWritableStateDirectoriesOfOursAreRepaired() throws {
        let home = TempDir()
        let directory = Marker.directory(forCloudYAML: Self.cloudYAML, home: home.path)
        try FileSystem.makeDirectories(directory)
        let tree = [".megaplan", ".megaplan/cloud", ".megaplan/cloud/markers"].map { home.path + "/" + $0 }
        for path in tree + [directory] { chmod(path, 0o777) }
        try Marker(["workspace": "/w"]).write(forCloudYAML: Self.cloudYAML, home: home.path)
        for path in tree + [directory] {
            #expect(TempDir.mode(path) & 0o022 == 0, "\(path)")
        }
        // Only write access is removed: what others could read before, they still can.
        #expect(TempDir.mode(directory) == 0o755)
    }

    @Test func stateDirectoryOwnedByAnotherUserIsRefused() throws {
        let home = TempDir()
        let directory = Marker.directory(forCloudYAML: Self.cloudYAML, home: home.path)
        try FileSystem.makeDirectories(directory)
        try chownToNobody(directory)
        chmod(directory, 0o775)
        let error = try #require(
            failure { try Marker(["workspace": "/w"]).write(forCloudYAML: Self.cloudYAML, home: home.path) })
        #expect(error.code == .ioError)
        #expect(
            error.message.hasPrefix(
                "refusing directory \(directory): owned by nobody (uid 65534) with mode 0775, not by root (uid 0)"
            ))
        #expect(TempDir.list(directory).isEmpty)
    }

    @Test func stateDirectoryThatIsALinkIsRefused() throws {
        let home = TempDir()
        let elsewhere = home.makeDirectory("elsewhere")
        try plantLink(at: home.path + "/.megaplan/fleet/locks", to: elsewhere)
        let lock = home.path + "/.megaplan/fleet/locks/a.lock"
        let error = try #require(failure { try FileLock.tryAcquire(lock, stateRoot: home.path) })
        #expect(error.message.contains("is a symbolic link"))
        #expect(TempDir.list(elsewhere).isEmpty)
    }

    @Test func outputDirectoryRules() throws {
        let root = TempDir()
        // Another user's directory that only they can write is fine, and left as it is.
        let theirs = root.makeDirectory("theirs")
        try chownToNobody(theirs)
        chmod(theirs, 0o755)
        try FileSystem.secureDirectory(theirs, trust: .output)
        // Sticky and world-writable (like /tmp) is fine and never changed.
        let sticky = root.makeDirectory("sticky")
        chmod(sticky, 0o1777)
        try FileSystem.secureDirectory(sticky, trust: .output)
        #expect(TempDir.mode(sticky) == 0o1777)
        // Another user's directory that others can write is refused.
        chmod(theirs, 0o775)
        let error = try #require(failure { try FileSystem.secureDirectory(theirs, trust: .output) })
        #expect(error.message.contains("owned by nobody (uid 65534) with mode 0775"))
    }
}
