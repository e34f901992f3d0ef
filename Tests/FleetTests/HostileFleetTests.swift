import BenchSupport
import FleetCore
import Foundation
import SSHClient
import TestSupport
import Testing
import Transport

/// Issue 13: runners that answer the status read with far more than any healthy reply. Each
/// kind of flood gets `remote_error` because the reply cap is hit (whatever the deadline and the
/// machine's speed), and the tick process, measured as a child of its own with wait4, stays
/// within a memory bound that does not grow with the size of the floods.
extension RealHosts {
    @Suite("Hostile runners")
    struct HostileFleetTests {
        /// Peak RSS the whole `tick --all` process may reach over the hostile fleet. The binary
        /// alone peaks at about 35 MiB here; one 15.7 MB reply used to cost 391 MB.
        static let peakRSSBoundMiB = 100.0

        @Test(.timeLimit(.minutes(2)))
        func everyFloodIsARemoteErrorWithinTheMemoryBound() async throws {
            let scripts = try TemporaryDirectory.make(prefix: "mpf-hostile-scripts-")
            defer { TemporaryDirectory.remove(scripts) }
            chmod(scripts, 0o755)
            func script(_ name: String, _ body: String) throws -> String {
                let path = scripts + "/" + name
                try FileSystem.writeAtomically(path, text: "#!/bin/sh\n" + body, mode: 0o755)
                return path
            }
            let prefix = "MEGAPLAN-FLEET-OBSERVATION "
            let floods = [
                // The issue's reply: 15.7 MB that would parse as a status read.
                (
                    "oversized-reply",
                    try script(
                        "oversized.sh",
                        """
                        printf '%s' '\(prefix){"observation": {"state": {"text": "'
                        head -c 15700000 /dev/zero | tr '\\0' x
                        printf '"}}}\\n'

                        """)
                ),
                ("endless-stdout", try script("endless.sh", "exec yes '\(prefix){}'\n")),
                ("endless-stderr", try script("stderr.sh", "yes 'noise on stderr' >&2\n")),
            ]
            _ = try SSHServer.defaultAccount()
            var hosts: [RunnerHost] = []
            defer { for host in hosts { host.server.kill() } }
            for flood in floods {
                hosts.append(try RunnerHost(extraConfig: ["ForceCommand /bin/sh \(flood.1)"]))
            }
            // Two projects per hostile host.
            var requests: [(host: RunnerHost, name: String)] = []
            for (index, flood) in floods.enumerated() {
                for copy in 1...2 { requests.append((hosts[index], "\(flood.0)-\(copy)")) }
            }
            let projects = try await makeProjects(requests)
            defer { for project in projects { project.removeEverywhere() } }
            let directory = try FleetDirectory()
            try directory.writeKnownHosts(hosts.map(\.server))
            let fleetFile = try directory.writeFleet(
                zip(requests, projects).map { FleetMember(name: $0.0.name, project: $0.1) })

            let output = try TemporaryDirectory.make(prefix: "mpf-hostile-cli-")
            defer { TemporaryDirectory.remove(output) }
            // A generous deadline: the kind must come from the cap, never from the clock.
            let program = try SpawnedProgram(
                [
                    FleetCLI.binary, "tick", "--all", "--fleet", fleetFile, "--known-hosts",
                    directory.knownHosts,
                    "--deadline", "60",
                ],
                environment: [
                    "HOME": directory.home, "PATH": "/usr/local/bin:/usr/bin:/bin", "NO_COLOR": "1",
                ],
                outputDirectory: output)
            let exit = try #require(await program.wait(timeout: .seconds(90)), "tick --all did not exit")
            print(
                "hostile fleet: exit \(exit.status), wall \(exit.wall), peak RSS \(String(format: "%.1f", exit.peakRSSMiB)) MiB"
            )
            #expect(exit.status == 1, "exit \(exit.status): \(program.stderr)")
            let lines = try parseLines(program.stdout).filter { !$0.isSummary }
            #expect(lines.count == requests.count, "\(program.stdout)")
            for line in lines {
                let name = line.json["project"]?.stringValue ?? "?"
                #expect(line.json["error_kind"] == "remote_error", "\(name): \(line.raw)")
                // The report's error names the cap that was hit.
                #expect(
                    line.raw.contains("more than \(OutputLimits.describe(OutputLimits.statusReply))"),
                    "\(name): \(line.raw)")
            }
            #expect(
                FaultInjectionTests.sanitized || exit.peakRSSMiB < Self.peakRSSBoundMiB,
                "peak RSS \(exit.peakRSSMiB) MiB")
        }
    }
}
