import BenchSupport
import FleetCore
import Testing

/// `scripts/demo.sh`, what `scripts/setup.sh` ends with: two `tick --all` runs over nine projects
/// on three sshd hosts, as cron would run them. The first restarts the two stopped chains and
/// validates every chain's spec; the second finds them running and leaves everything alone, one
/// remote command a chain. (A demo whose stand-ins lacked a module once restarted the same chains
/// on every tick and still exited 0.)
@Suite("Demo fleet")
struct DemoTests {
    static let checkout = PosixPath.dirname(
        PosixPath.dirname(PosixPath.dirname(RunnerAccount.checkoutFixtures)))

    @Test func theSecondTickLeavesEverythingAlone() async throws {
        let result = try await CLI.run(
            [Self.checkout + "/scripts/demo.sh", CLI.binary],
            home: ProcessEnvironment.current["HOME"] ?? "/root",
            cwd: Self.checkout, path: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            timeout: .seconds(300), executable: "/bin/bash")
        #expect(result.status == 0, "\(result)")
        let lines = try result.stdout.split(separator: "\n").map { try JSONValue.parse(String($0)) }
        let summaries = lines.filter { $0["summary"] != nil }
        #expect(
            summaries.map { $0["summary"]?["remote_commands"] } == [.int(20), .int(9)], "\(result.stdout)")
        let secondTick = summaries.last?["tick"]
        let second = lines.filter { $0["summary"] == nil && $0["tick"] == secondTick }
        #expect(second.count == 9)
        #expect(second.allSatisfy { $0["report"]?["acted"] == .bool(false) }, "\(result.stdout)")
        #expect(second.allSatisfy { $0["outcome"] == "ok" || $0["outcome"] == "blocked" })
    }
}
