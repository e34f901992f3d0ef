import BenchSupport
import FleetCore
import Foundation
import RunnerProtocol
import TestSupport
import Testing

extension RealHosts {
    /// `megaplan-fleet doctor` through the binary against a real runner host: a usable host with
    /// every fact, then the failures a platform engineer meets first (an unknown host key, a port
    /// nobody listens on, a cloud.yaml that does not load), each named with exit status 1.
    @Suite("doctor (CLI)")
    struct DoctorTests {
        @Test(.timeLimit(.minutes(1)))
        func aUsableHostReportsEveryStep() async throws {
            let fleet = try await TickCommandTests.Fleet([.running, .running], prefix: "doc")
            defer { fleet.cleanUp() }
            let server = fleet.host.server
            let result = try await fleet.run(["doctor", "--json"])
            #expect(result.status == 0, "\(result)")
            let lines = try result.lines()
            try #require(lines.count == 1, "two projects on one host are one check: \(result)")
            let host = lines[0].json
            #expect(host["host"]?.stringValue == "127.0.0.1:\(server.port)")
            #expect(host["projects"] == .strings(["doc-0", "doc-1"]))
            #expect(host["usable"] == true && host["checked"] == true, "\(lines[0].raw)")
            #expect(host["banner"]?.stringValue?.hasPrefix("SSH-2.0-OpenSSH") == true, "\(lines[0].raw)")
            #expect(
                host["host_key"]?.stringValue?.hasPrefix("ssh-ed25519 SHA256:") == true, "\(lines[0].raw)")
            #expect(
                host["known_hosts"]?.stringValue == "\(fleet.directory.knownHosts) line 1", "\(lines[0].raw)")
            #expect(host["auth"]?.stringValue == "publickey \(server.clientKeyPath)", "\(lines[0].raw)")
            #expect(host["dns"]?["addresses"] == .strings(["127.0.0.1"]), "\(lines[0].raw)")
            if case .int? = host["tcp_connect_ms"] {
            } else {
                Issue.record("no tcp_connect_ms: \(lines[0].raw)")
            }
            for name in ["python3", "megaplan", "tmux", "git", "workspace"] {
                #expect(host["runner"]?[name]?["ok"] == true, "\(name): \(lines[0].raw)")
            }
            #expect(host["problems"] == .array([]))
            // Where each setting came from: the port and user from cloud.yaml, trust from the option.
            let route = host["route"]?.arrayValue ?? []
            let sources = Dictionary(
                uniqueKeysWithValues: route.compactMap { setting in
                    setting["name"]?.stringValue.map { ($0, setting["source"]?.stringValue ?? "") }
                })
            #expect(sources["port"] == "cloud.yaml" && sources["user"] == "cloud.yaml", "\(route)")
            #expect(sources["known_hosts"] == "--known-hosts or fleet.yaml", "\(route)")

            let report = try await fleet.run(["doctor"])
            #expect(report.status == 0, "\(report)")
            #expect(
                report.stdout.hasPrefix("127.0.0.1:\(server.port) (projects doc-0, doc-1)\n"), "\(report)")
            #expect(report.stdout.contains("\n  megaplan        ok  "), "\(report)")
            #expect(report.stdout.hasSuffix("\n  usable\n"), "\(report)")
        }

        @Test(.timeLimit(.minutes(1)))
        func eachFailureIsNamedAndFailsTheRun() async throws {
            let fleet = try await TickCommandTests.Fleet([.running], prefix: "sick")
            defer { fleet.cleanUp() }
            // Nobody listens on a port that was free a moment ago; a cloud.yaml that is not YAML.
            let closed = try SSHServer.freePort()
            let down = fleet.directory.path + "/down.yaml"
            try FileSystem.writeAtomically(
                down,
                text: BenchFleet.cloudYAML(
                    name: "down", workspace: "/srv/down", session: "down", port: closed, user: "nobody",
                    identityFile: fleet.host.server.clientKeyPath))
            let broken = fleet.directory.path + "/broken.yaml"
            try FileSystem.writeAtomically(broken, text: "provider: [ssh\n")
            let file = fleet.directory.path + "/sick.yaml"
            try FileSystem.writeAtomically(
                file,
                text: """
                    version: 1
                    projects:
                      - name: sick-0
                        cloud_yaml: \(fleet.members[0].project.cloudYAMLPath)
                      - name: down
                        cloud_yaml: \(down)
                      - name: broken
                        cloud_yaml: \(broken)

                    """)
            // An empty known_hosts: the healthy host's key is unknown.
            try FileSystem.writeAtomically(fleet.directory.knownHosts, text: "")
            let result = try await fleet.run(["doctor", "--json", "--timeout", "5"], fleet: file)
            #expect(result.status == 1, "\(result)")
            let hosts = try result.lines().map(\.json)
            try #require(hosts.count == 3, "\(result)")

            let unknown = hosts[0]
            #expect(unknown["usable"] == false)
            #expect(
                unknown["banner"]?.stringValue?.hasPrefix("SSH-2.0-") == true,
                "the network is fine: \(unknown)")
            #expect(unknown["error_kind"]?.stringValue == "host_key_unknown", "\(unknown)")
            #expect(
                unknown["error"]?.stringValue?.contains("is not in \(fleet.directory.knownHosts)") == true)

            let refused = hosts[1]
            #expect(refused["host"]?.stringValue == "127.0.0.1:\(closed)")
            #expect(refused["tcp_connect_ms"] == .null, "\(refused)")
            let problems = refused["problems"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(problems.contains { $0.contains("Connection refused") }, "\(refused)")

            let invalid = hosts[2]
            #expect(invalid["projects"] == .strings(["broken"]))
            #expect(invalid["usable"] == false && invalid["checked"] == false, "\(invalid)")
            #expect(
                invalid["problems"]?.arrayValue?.first?.stringValue?.contains(broken) == true, "\(invalid)")
        }

        /// The runner's check, run by a real shell: a program off PATH is missing, the others give
        /// their version, and a workspace that does not exist is said so.
        @Test func theRunnerCheckFindsWhatIsMissing() async throws {
            let directory = try TemporaryDirectory.make(prefix: "mpf-doctor-check-")
            defer { TemporaryDirectory.remove(directory) }
            let command = RunnerCheck.command(programs: RunnerCheck.programs, workspace: directory + "/none")
            // /usr/bin:/bin has python3, git and tmux; megaplan is only on the runners.
            let output = try await onOwnThread {
                try BenchProcess.run([
                    "/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "/bin/sh", "-c", "echo noise; " + command,
                ])
            }
            let results = RunnerCheck.parse(
                stdout: output, status: 0, stderr: "", names: RunnerCheck.programs.map(\.name) + ["workspace"]
            )
            let byName = Dictionary(uniqueKeysWithValues: results.map { ($0.name, $0) })
            #expect(byName["python3"]?.ok == true && byName["python3"]?.detail.hasPrefix("Python 3") == true)
            #expect(byName["git"]?.detail.hasPrefix("git version") == true, "\(results)")
            #expect(
                byName["megaplan"]?.ok == false && byName["megaplan"]?.detail == "not on PATH", "\(results)")
            #expect(
                byName["workspace"]?.ok == false
                    && byName["workspace"]?.detail.contains("does not exist") == true)
            let failed = RunnerCheck.parse(
                stdout: "", status: 126, stderr: "container not running\n", names: ["git"])
            #expect(failed.first?.detail == "the check exited 126: container not running")
        }
    }
}
