import FleetCore
import Foundation
import TestSupport
import Testing

extension RealHosts {
    /// `tick` and `status` against a runner host listening on `::1` only (issue 11): cloud.yaml's
    /// `host: "::1"` and `host: "[::1]"` both reach it, through a known_hosts line written as
    /// OpenSSH writes it, and every line and error shows the host as `[::1]:PORT`.
    @Suite("tick against an IPv6 host (CLI)")
    struct IPv6TickTests {
        @Test(.timeLimit(.minutes(1)))
        func bothSpellingsTickAndShowTheBracketedHost() async throws {
            let host = try await onOwnThread { try RunnerHost(listenAddress: "::1") }
            let fleet = try await TickCommandTests.Fleet([.running, .complete], prefix: "six", host: host)
            defer { fleet.cleanUp() }
            let second = fleet.members[1].project.cloudYAMLPath
            let text = try #require(FileSystem.readText(second))
            #expect(text.contains("host: \"::1\"\n"))
            try FileSystem.writeAtomically(
                second, text: text.replacingOccurrences(of: "host: \"::1\"", with: "host: \"[::1]\""))
            let label = "[::1]:\(host.server.port)"
            #expect(
                FileSystem.readText(fleet.directory.knownHosts)?.hasPrefix(label + " ssh-ed25519 ") == true)

            let result = try await fleet.run(["tick", "--all"])
            #expect(result.status == 0, "\(result)")
            let lines = try result.lines().filter { !$0.isSummary }
            #expect(lines.count == 2, "\(result)")
            for line in lines {
                #expect(line.json["host"]?.stringValue == label, "\(line.raw)")
                #expect(line.json["error_kind"] == .null, "\(line.raw)")
            }

            // Without the host's key the errors name the host bracketed too.
            try FileSystem.writeAtomically(fleet.directory.knownHosts, text: "")
            let refused = try await fleet.run(["status", "--all"])
            let errors = try refused.lines().filter { !$0.isSummary }
            #expect(errors.count == 2, "\(refused)")
            for line in errors {
                #expect(line.json["host"]?.stringValue == label, "\(line.raw)")
                #expect(line.json["error_kind"]?.stringValue == "host_key_unknown", "\(line.raw)")
                #expect(line.raw.contains("host key for \(label) is not in"), "\(line.raw)")
            }
        }
    }
}
