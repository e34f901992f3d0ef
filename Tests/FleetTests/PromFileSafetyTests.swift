import FleetCore
import Foundation
import Testing

@testable import Fleet

#if canImport(Glibc)
    import Glibc
#endif

/// `--prom-file` is written by a root cron job: a link planted at the file is replaced, never
/// followed, and a directory another user can write is refused (review of issue 13).
@Suite struct PromFileSafetyTests {
    static let victimContent = "root:x:0:0:root:/root:/bin/bash\n"

    private func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.path + "/prom-safety-" + UUID().uuidString
        try FileSystem.makeDirectories(path + "/promdir")
        return path
    }

    private var summary: FleetSummary { FleetSummary(tick: "t-1", operation: .status) }

    @Test func aLinkAtThePromFileIsReplacedAndItsTargetUntouched() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let victim = root + "/victim"
        try FileSystem.writeAtomically(victim, text: Self.victimContent)
        let prom = root + "/promdir/megaplan.prom"
        try #require(symlink(victim, prom) == 0)
        try PromFile.write(prom, lines: [], summary: summary)
        #expect(FileSystem.readText(victim) == Self.victimContent)
        var info = stat()
        #expect(lstat(prom, &info) == 0 && info.st_mode & S_IFMT == S_IFREG)
        #expect(FileSystem.readText(prom)?.contains("megaplan_fleet_tick_wall_seconds") == true)
    }

    @Test func aPromDirectoryOthersCanWriteIsRefused() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = root + "/promdir"
        try #require(chown(directory, 65534, 65534) == 0)
        chmod(directory, 0o777)
        let prom = directory + "/megaplan.prom"
        #expect(throws: FleetError.self) { try PromFile.write(prom, lines: [], summary: summary) }
        do {
            try PromFile.write(prom, lines: [], summary: summary)
        } catch {
            #expect(error.message.contains("refusing directory \(directory): owned by nobody"))
        }
        #expect(!FileSystem.exists(prom))
    }
}
