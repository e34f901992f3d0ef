import BenchSupport
import Fleet
import FleetCore
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `megaplan-fleet tick` and `status --all` as cron runs them: the built binary, a private HOME,
/// real sshd hosts on loopback.
extension RealHosts {
    @Suite("tick and status --all (CLI)")
    struct TickCommandTests {
        static let lineKeys = [
            "schema", "tick", "ts", "project", "provider", "host", "op", "duration_ms", "outcome",
            "error_kind", "status_since", "previous_status", "changed", "report",
        ]

        /// A fleet of `shapes.count` projects on one healthy host, with the fleet directory.
        struct Fleet {
            let host: RunnerHost
            let directory: FleetDirectory
            let members: [FleetMember]
            let file: String

            init(
                _ shapes: [ChainShape], prefix: String = "p", host: RunnerHost? = nil,
                extraYAML: @escaping @Sendable (String) -> String = { _ in "" }
            ) async throws {
                let host = try host ?? RunnerHost()
                self.host = host
                let projects = try await makeProjects(
                    shapes.indices.map { (host, "\(prefix)-\($0)") }, extraYAML: extraYAML)
                var members: [FleetMember] = []
                for (index, project) in projects.enumerated() {
                    try shapes[index].stage(project)
                    members.append(
                        FleetMember(name: "\(prefix)-\(index)", project: project, shape: shapes[index]))
                }
                self.members = members
                directory = try FleetDirectory()
                try directory.writeKnownHosts([host.server])
                file = try directory.writeFleet(members)
            }

            func run(
                _ arguments: [String], environment: [String: String] = [:], fleet: String? = nil
            ) async throws -> FleetCLI.Result {
                try await FleetCLI.run(
                    arguments + ["--fleet", fleet ?? file, "--known-hosts", directory.knownHosts],
                    home: directory.home, environment: environment)
            }

            func cleanUp() {
                for member in members { member.project.removeEverywhere() }
                host.server.kill()
            }
        }

        @Test func binaryIsBuilt() {
            #expect(
                FileSystem.isRegularFile(FleetCLI.binary), "megaplan-fleet not found at \(FleetCLI.binary)")
        }

        @Test(.timeLimit(.minutes(1)))
        func observedFleetExitsZeroWithOneCompactLinePerProject() async throws {
            let fleet = try await Fleet([.running, .complete, .awaitingMerge, .running])
            defer { fleet.cleanUp() }
            let result = try await fleet.run(["tick", "--all"])
            #expect(result.status == 0, "\(result)")
            let lines = try result.lines()
            try #require(lines.count == fleet.members.count + 1, "\(result)")
            let projectLines = lines.dropLast()
            let summary = try #require(lines.last)
            #expect(summary.isSummary)
            #expect(
                Set(projectLines.map { $0.json["project"]?.stringValue ?? "" })
                    == Set(fleet.members.map(\.name)))
            let tick = try #require(summary.json["tick"]?.stringValue)
            #expect(tick.hasPrefix("t-"))
            for line in projectLines {
                #expect(keyOrder(line.json) == Self.lineKeys, "\(line.raw)")
                #expect(!line.raw.contains("\n"))
                // Compact: exactly what the serializer prints without spaces.
                #expect(line.raw == line.json.serialized(.compact))
                #expect(line.json["tick"]?.stringValue == tick)
                #expect(line.json["schema"] == .int(1))
                #expect(line.json["op"] == "supervise")
                #expect(line.json["provider"] == "ssh")
                #expect(line.json["host"]?.stringValue == "127.0.0.1:\(fleet.host.server.port)")
                #expect(line.json["error_kind"] == .null)
                let member = try #require(
                    fleet.members.first { $0.name == line.json["project"]?.stringValue })
                let expected = member.shape == .awaitingMerge ? "blocked" : "ok"
                #expect(line.json["outcome"]?.stringValue == expected, "\(line.raw)")
                #expect(
                    line.json["report"]?["effective_status"]?.stringValue
                        == member.shape.effectiveStatus?.rawValue)
            }
            #expect(keyOrder(summary.json) == ["schema", "tick", "ts", "op", "summary", "wall_ms"])
            #expect(summary.json["summary"]?["projects"] == .int(fleet.members.count))
            #expect(summary.json["summary"]?["outcomes"]?["blocked"] == .int(1))
            #expect(summary.json["summary"]?["outcomes"]?["ok"] == .int(3))
            let handshakes = summary.json["summary"]?["ssh_handshakes"]
            #expect([JSONValue.int(1), .int(2), .int(3)].contains(handshakes), "\(summary.raw)")
            #expect(summary.json["summary"]?["interrupted"] == .bool(false))
            // No progress or colour on a pipe.
            #expect(!result.stderr.contains("\u{1B}["))

            // status --all: the same projects, read-only.
            let status = try await fleet.run(["status", "--all"])
            #expect(status.status == 0, "\(status)")
            let statusLines = try status.lines()
            #expect(statusLines.count == fleet.members.count + 1)
            for line in statusLines.dropLast() {
                #expect(line.json["op"] == "status")
                #expect(keyOrder(line.json) == Self.lineKeys)
            }
            for member in fleet.members { #expect(member.project.chainStarts().isEmpty) }
        }

        @Test(.timeLimit(.minutes(1)))
        func anyProjectErrorExitsOne() async throws {
            let fleet = try await Fleet([.running, .complete])
            defer { fleet.cleanUp() }
            let down = try RunnerHost()
            let lost = try down.makeProject("lost")
            defer { lost.removeEverywhere() }
            try fleet.directory.writeKnownHosts([fleet.host.server, down.server])
            down.server.kill()
            let file = try fleet.directory.writeFleet(
                fleet.members + [FleetMember(name: "lost", project: lost)], name: "with-lost.yaml")
            let result = try await fleet.run(["tick", "--all"], fleet: file)
            #expect(result.status == 1, "\(result)")
            let lines = try result.lines()
            #expect(lines.count == 4)
            let lostLine = try #require(lines.first { $0.json["project"] == "lost" })
            #expect(lostLine.json["outcome"] == "error")
            #expect(lostLine.json["error_kind"] == "unreachable")
            #expect(lines.filter { $0.json["outcome"] == "ok" }.count == 2)

            // Filters choose the JSON lines; the summary line still counts the whole tick.
            for arguments in [["--outcome", "error"], ["--quiet"], ["--status", "unknown"]] {
                let filtered = try await fleet.run(["status", "--all"] + arguments, fleet: file)
                #expect(filtered.status == 1, "\(filtered)")
                let printed = try filtered.lines()
                #expect(
                    printed.filter { !$0.isSummary }.map { $0.json["project"] } == ["lost"], "\(arguments)")
                #expect(printed.last?.json["summary"]?["projects"] == 3, "\(filtered)")
            }
            let complete = try await fleet.run(
                ["status", "--all", "--status", "complete", "--outcome", "ok"], fleet: file)
            #expect(try complete.lines().filter { !$0.isSummary }.map { $0.json["project"] } == ["p-1"])

            // A corrupt runner state is an error too.
            let corrupt = try await Fleet([.corruptState], prefix: "c", host: fleet.host)
            defer { for member in corrupt.members { member.project.removeEverywhere() } }
            let second = try await corrupt.run(["status", "--all"])
            #expect(second.status == 1, "\(second)")
            #expect(try second.lines().first?.json["error_kind"] == "remote_error")
        }

        @Test(.timeLimit(.minutes(1)))
        func invalidFleetOrEmptySelectionExitsTwo() async throws {
            let fleet = try await Fleet([.running])
            defer { fleet.cleanUp() }
            let broken = fleet.directory.path + "/broken.yaml"
            try FileSystem.writeAtomically(broken, text: "version: 1\nprojects: []\nretries: 3\n")
            let invalid = try await fleet.run(["tick", "--all"], fleet: broken)
            #expect(invalid.status == 2, "\(invalid)")
            #expect(invalid.stdout.isEmpty)
            #expect(invalid.stderr.contains("retries"))

            let missing = try await fleet.run(["tick", "--all"], fleet: fleet.directory.path + "/nope.yaml")
            #expect(missing.status == 2, "\(missing)")

            let nothing = try await fleet.run(["tick", "--tag", "no-such-tag"])
            #expect(nothing.status == 2, "\(nothing)")
            #expect(nothing.stderr.contains("matches"))
            #expect(nothing.stdout.isEmpty, "\(nothing)")
            let emptyStatus = try await fleet.run(["status", "--tag", "no-such-tag"])
            #expect(emptyStatus.status == 2, "\(emptyStatus)")
            #expect(emptyStatus.stdout.isEmpty, "\(emptyStatus)")

            let unknown = try await fleet.run(["tick", "--project", "not-in-the-file"])
            #expect(unknown.status == 2, "\(unknown)")

            let badShard = try await fleet.run(["tick", "--shard", "4/4"])
            #expect(badShard.status == 2, "\(badShard)")

            // No project runs for any of these.
            #expect(fleet.members[0].project.calls().isEmpty)
        }

        @Test(.timeLimit(.minutes(1)))
        func heldFleetLockExitsSeventyFive() async throws {
            let fleet = try await Fleet([.running])
            defer { fleet.cleanUp() }
            let loaded = try FleetFile.load(path: fleet.file)
            let lockPath = FleetLockPath.path(fleetFile: loaded.path, shard: nil, home: fleet.directory.home)
            try FileSystem.makeDirectories(PosixPath.dirname(lockPath))
            let ready = fleet.directory.path + "/holder-ready"
            let holder = try SSHServer.spawn([
                "/usr/bin/python3", "-c",
                "import fcntl, sys, time\nf = open(sys.argv[1], 'a')\nfcntl.flock(f, fcntl.LOCK_EX)\nopen(sys.argv[2], 'w').close()\ntime.sleep(60)\n",
                lockPath, ready,
            ])
            defer {
                kill(holder, SIGKILL)
                var status: Int32 = 0
                waitpid(holder, &status, 0)
            }
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while !FileSystem.isRegularFile(ready), clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            try #require(FileSystem.isRegularFile(ready), "the lock holder did not start")

            let locked = try await fleet.run(["tick", "--all"])
            #expect(locked.status == 75, "\(locked)")
            #expect(locked.stdout.isEmpty)
            #expect(locked.stderr.contains("lock"))
            #expect(fleet.members[0].project.calls().isEmpty)

            // status --all is read-only and takes no fleet lock.
            let status = try await fleet.run(["status", "--all"])
            #expect(status.status == 0, "\(status)")
            // A shard has its own lock.
            let shard = try await fleet.run(["tick", "--shard", "0/1"])
            #expect(shard.status == 0, "\(shard)")

            kill(holder, SIGKILL)
            var status2: Int32 = 0
            waitpid(holder, &status2, 0)
            let free = try await fleet.run(["tick", "--all"])
            #expect(free.status == 0, "\(free)")
        }

        @Test(.timeLimit(.minutes(1)))
        func secretsNeverReachTheOutput() async throws {
            let secret = "s3cr3t-\(UInt64.random(in: 1...UInt64.max))-value"
            let environment = ["MPF_FLEET_SECRET": secret]
            // The runner of one project echoes the secret in its plan status; a second host
            // answers every command with it (an error message then carries it).
            let fleet = try await Fleet([.running, .running]) { _ in "secrets:\n  - MPF_FLEET_SECRET\n" }
            defer { fleet.cleanUp() }
            try fleet.members[0].project.stub(
                "status.json", #"{"state": "executing", "note": "token \#(secret)", "\#(secret)": 1}"#)
            let leaky = try RunnerHost(extraConfig: ["ForceCommand echo MPF_FLEET_SECRET=\(secret) \(secret)"]
            )
            defer { leaky.server.kill() }
            let leakyProject = try leaky.makeProject("leaky", extraYAML: "secrets:\n  - MPF_FLEET_SECRET\n")
            defer { leakyProject.removeEverywhere() }
            try fleet.directory.writeKnownHosts([fleet.host.server, leaky.server])
            let file = try fleet.directory.writeFleet(
                fleet.members + [FleetMember(name: "leaky", project: leakyProject)], name: "leaky.yaml")

            for command in [
                ["status", "--all"], ["tick", "--all"], ["status", "--all", "--format", "table"],
            ] {
                let result = try await fleet.run(command, environment: environment, fleet: file)
                #expect(result.status == 1, "\(command): \(result)")
                #expect(!result.stdout.contains(secret), "\(command): \(result)")
                #expect(!result.stderr.contains(secret), "\(command): \(result)")
                if command.last == "--all" {
                    let lines = try result.lines()
                    #expect(lines.count == 4)
                    #expect(result.stdout.contains(Redactor.token), "\(command): \(result)")
                    let leakyLine = try #require(lines.first { $0.json["project"] == "leaky" })
                    #expect(leakyLine.json["error_kind"] == "remote_error")
                }
            }
            // The plan status really carried the secret (redacted, not dropped).
            let status = try await fleet.run(["status", "--all"], environment: environment, fleet: file)
            let line = try #require(
                try status.lines().first { $0.json["project"]?.stringValue == fleet.members[0].name })
            #expect(line.json["report"]?["plan_status"]?["note"] == .string("token \(Redactor.token)"))
        }

        @Test(.timeLimit(.minutes(1)))
        func hugeReportIsCappedAndStaysJSON() async throws {
            let fleet = try await Fleet([.running, .running])
            defer { fleet.cleanUp() }
            // Words, and under the runner-side limit per probe stream (64 KiB), so the plan status
            // arrives whole and only the line cap (60 000 bytes) shortens it.
            let huge = String(repeating: "xxxxxxx ", count: 7_800)
            try fleet.members[0].project.stub("status.json", #"{"state": "executing", "blob": "\#(huge)"}"#)
            let result = try await fleet.run(["status", "--all"])
            #expect(result.status == 0, "\(result)")
            let lines = try result.lines()
            #expect(lines.count == 3)
            for line in lines {
                #expect(line.raw.utf8.count <= FleetLine.maximumLength)
            }
            let capped = try #require(
                lines.first { $0.json["project"]?.stringValue == fleet.members[0].name })
            #expect(keyOrder(capped.json) == Self.lineKeys)
            #expect(capped.raw.contains(#""truncated":true"#))
            #expect(capped.json["outcome"] == "ok")
        }

        /// An unknown cloud.yaml key is accepted, and a fleet tick names it once per file on stderr,
        /// whatever the number of times the file is read.
        @Test(.timeLimit(.minutes(1)))
        func unknownCloudKeysAreWarnedOncePerFile() async throws {
            let fleet = try await Fleet([.running, .running]) { _ in "retries: 3\n" }
            defer { fleet.cleanUp() }
            let result = try await fleet.run(["tick", "--all"])
            #expect(result.status == 0, "\(result)")
            let warnings = result.stderr.split(separator: "\n").filter {
                $0.contains("unknown key 'retries'")
            }
            #expect(warnings.count == fleet.members.count, "\(result.stderr)")
            for member in fleet.members {
                let path = member.project.cloudYAMLPath
                #expect(
                    warnings.filter {
                        $0.hasPrefix("warning: \(path):") && $0.contains("at the top level is ignored")
                    }
                    .count == 1, "\(result.stderr)")
            }
        }

        @Test(.timeLimit(.minutes(1)))
        func tableOnlyWhenAskedAndPromFile() async throws {
            let fleet = try await Fleet([.running, .complete, .awaitingMerge])
            defer { fleet.cleanUp() }
            let prom = fleet.directory.path + "/metrics/fleet.prom"
            try FileSystem.makeDirectories(PosixPath.dirname(prom))

            // Not a terminal and no --format: JSON lines.
            let plain = try await fleet.run(["status", "--all", "--prom-file", prom])
            #expect(plain.status == 0)
            #expect(try plain.lines().count == 4)

            let table = try await fleet.run(["status", "--all", "--format", "table"])
            #expect(table.status == 0, "\(table)")
            let rows = table.stdout.split(separator: "\n").map(String.init)
            #expect(rows.first?.hasPrefix("PROJECT") == true, "\(table)")
            #expect(rows.count == 1 + fleet.members.count + 1, "\(table)")
            #expect(!table.stdout.contains("{"))
            #expect(!table.stdout.contains("\u{1B}["))
            for member in fleet.members {
                #expect(
                    rows.contains {
                        $0.hasPrefix(member.name + " ") && $0.contains(member.shape.effectiveStatus!.rawValue)
                    })
            }
            #expect(rows.last?.contains("3 projects") == true)

            // The Prometheus file: one sample per line, HELP/TYPE comments, sane values.
            let text = try #require(FileSystem.readText(prom))
            var samples: [String: Double] = [:]
            for row in text.split(separator: "\n") where !row.hasPrefix("#") {
                let parts = row.split(separator: " ")
                #expect(parts.count == 2, "\(row)")
                samples[String(parts[0])] = Double(parts[1])
            }
            for member in fleet.members {
                let status = member.shape.effectiveStatus!.rawValue
                #expect(
                    samples[
                        "megaplan_fleet_effective_status{project=\"\(member.name)\",status=\"\(status)\"}"]
                        == 1)
                #expect(
                    samples["megaplan_fleet_effective_status{project=\"\(member.name)\",status=\"unknown\"}"]
                        == 0)
                #expect(samples["megaplan_fleet_up{project=\"\(member.name)\"}"] == 1)
                #expect(samples["megaplan_fleet_tick_duration_seconds{project=\"\(member.name)\"}"] != nil)
            }
            // Only real error kinds have a series; the run's own series carry the shard.
            #expect(!text.contains("megaplan_fleet_tick_error{"), "\(text)")
            #expect((samples["megaplan_fleet_tick_wall_seconds{shard=\"0/1\"}"] ?? -1) >= 0)
            #expect(
                (samples["megaplan_fleet_last_tick_timestamp_seconds{shard=\"0/1\"}"] ?? 0) > 1_600_000_000)
            #expect(text.contains("# TYPE megaplan_fleet_effective_status gauge"))
            // Atomic write: no temporary left next to it.
            let siblings = try FileManager.default.contentsOfDirectory(atPath: PosixPath.dirname(prom))
            #expect(siblings == ["fleet.prom"], "\(siblings)")
        }

        @Test(.timeLimit(.minutes(1)))
        func shardsOfTheCLIAreDisjointAndCoverTheFleet() async throws {
            // Names decide shards; every project has its own chain (a fleet never shares a runner).
            let fleet = try await Fleet((0..<16).map { $0 % 2 == 0 ? .running : .complete }, prefix: "shard")
            defer { fleet.cleanUp() }
            let members = fleet.members
            let file = fleet.file
            let all = Set(members.map(\.name))
            for count in 1...4 {
                var seen: [String] = []
                for index in 0..<count {
                    let result = try await fleet.run(["status", "--shard", "\(index)/\(count)"], fleet: file)
                    #expect([0, 2].contains(result.status), "\(result)")
                    guard result.status == 0 else { continue }
                    let names = try result.lines().filter { !$0.isSummary }.compactMap {
                        $0.json["project"]?.stringValue
                    }
                    let expected = members.map(\.name).filter {
                        (try? FleetSelection.Shard(index: index, count: count).contains($0)) == true
                    }
                    #expect(Set(names) == Set(expected))
                    seen += names
                }
                #expect(seen.count == all.count, "N=\(count): \(seen.sorted())")
                #expect(Set(seen) == all, "N=\(count)")
            }
        }

        /// The project lines of a run, by project name.
        static func projectLines(_ result: FleetCLI.Result) throws -> [String: JSONValue] {
            var lines: [String: JSONValue] = [:]
            for line in try result.lines() where !line.isSummary {
                lines[line.json["project"]?.stringValue ?? ""] = line.json
            }
            return lines
        }

        /// Two ticks around a change of status: `changed` with the previous status and a new
        /// `status_since` that stays put across unchanged ticks; an error keeps the last known one.
        @Test(.timeLimit(.minutes(1)))
        func statusHistoryFollowsChanges() async throws {
            let fleet = try await Fleet([.running, .complete])
            defer { fleet.cleanUp() }
            let first = try Self.projectLines(try await fleet.run(["status", "--all"]))
            let since = try #require(first["p-0"]?["status_since"]?.stringValue)
            #expect(first["p-0"]?["changed"] == false && first["p-0"]?["previous_status"] == .null)
            #expect(since == first["p-0"]?["ts"]?.stringValue)

            let second = try Self.projectLines(try await fleet.run(["status", "--all"]))
            #expect(second["p-0"]?["status_since"]?.stringValue == since)
            #expect(second["p-0"]?["changed"] == false)

            try ChainShape.awaitingMerge.stage(fleet.members[0].project)
            let third = try Self.projectLines(try await fleet.run(["status", "--all"]))
            #expect(third["p-0"]?["report"]?["effective_status"] == "awaiting_pr_merge")
            #expect(third["p-0"]?["changed"] == true)
            #expect(third["p-0"]?["previous_status"] == "running")
            let changedAt = try #require(third["p-0"]?["status_since"]?.stringValue)
            #expect(changedAt == third["p-0"]?["ts"]?.stringValue && changedAt != since)
            #expect(third["p-1"]?["changed"] == false)

            try ChainShape.corruptState.stage(fleet.members[0].project)
            let broken = try Self.projectLines(try await fleet.run(["status", "--all"]))
            #expect(broken["p-0"]?["outcome"] == "error")
            #expect(broken["p-0"]?["status_since"]?.stringValue == changedAt)
            #expect(broken["p-0"]?["previous_status"] == "running" && broken["p-0"]?["changed"] == false)

            try ChainShape.awaitingMerge.stage(fleet.members[0].project)
            let back = try Self.projectLines(try await fleet.run(["status", "--all"]))
            #expect(
                back["p-0"]?["status_since"]?.stringValue == changedAt && back["p-0"]?["changed"] == false)
        }

        /// Runs as two pods of a Kubernetes shard would make them: a fresh HOME each time, one
        /// state directory. The second run has the first's history and validates no spec again.
        @Test(.timeLimit(.minutes(1)))
        func aStateDirectoryOutlivesHome() async throws {
            let fleet = try await Fleet([.running, .complete])
            defer { fleet.cleanUp() }
            let state = fleet.directory.path + "/state"
            var commands: [Int] = []
            var runs: [[String: JSONValue]] = []
            for pod in ["pod-a", "pod-b"] {
                let home = fleet.directory.path + "/" + pod
                try FileSystem.makeDirectories(home)
                let result = try await fleet.run(
                    ["tick", "--all"], environment: ["HOME": home, StateDirectory.environmentVariable: state])
                #expect(result.status == 0, "\(result)")
                let summary = try #require(try result.lines().first { $0.isSummary })
                if case .int(let count)? = summary.json["summary"]?["remote_commands"] {
                    commands.append(count)
                }
                runs.append(try Self.projectLines(result))
                #expect(!FileSystem.isDirectory(home + "/.megaplan"), "\(pod) wrote into its HOME")
            }
            // First run: one read and one spec validation per chain; then one read each.
            #expect(commands == [4, 2], "\(commands)")
            #expect(runs[1]["p-0"]?["status_since"] == runs[0]["p-0"]?["status_since"])
            #expect(FileSystem.isDirectory(state + "/cloud/markers"))
            #expect(FileSystem.isDirectory(state + "/fleet/locks"))
        }

        /// Two shards ticking against one state directory at once: each project is ticked once
        /// and keeps its own history.
        @Test(.timeLimit(.minutes(1)))
        func twoShardsShareAStateDirectory() async throws {
            let fleet = try await Fleet((0..<6).map { $0 % 2 == 0 ? .running : .complete })
            defer { fleet.cleanUp() }
            let state = fleet.directory.path + "/state"
            let environment = [StateDirectory.environmentVariable: state]
            let shards = try (0..<2).map { index in
                try FleetCLI.start(
                    [
                        "tick", "--shard", "\(index)/2", "--fleet", fleet.file, "--known-hosts",
                        fleet.directory.knownHosts,
                    ],
                    home: fleet.directory.home, environment: environment)
            }
            var seen: [String] = []
            for shard in shards {
                let status = await shard.wait(timeout: .seconds(50))
                #expect(status == 0, "\(shard.stderrSoFar)")
                let lines = try shard.result(status: status ?? -1).lines().filter { !$0.isSummary }
                seen += lines.compactMap { $0.json["project"]?.stringValue }
                for line in lines { #expect(line.json["outcome"] == "ok", "\(line.raw)") }
            }
            #expect(seen.sorted() == fleet.members.map(\.name).sorted())
            for member in fleet.members {
                let directory = StateDirectory(path: state).markerDirectory(
                    forCloudYAML: FileSystem.resolve(member.project.cloudYAMLPath))
                let history = try #require(StatusHistory.read(in: directory), "\(member.name)")
                #expect(history.status == member.shape.effectiveStatus)
            }
        }

        @Test(.timeLimit(.minutes(1)))
        func sigtermMidTickExitsPromptlyWithCompleteLines() async throws {
            let fleet = try await Fleet([.running, .running, .complete, .running, .running, .running])
            defer { fleet.cleanUp() }
            // Three projects answer at once; three take 30 s to answer `megaplan status`.
            for member in fleet.members.suffix(3) { try member.project.stub("status_sleep", "30") }
            // Two more on a host that accepts TCP but never speaks SSH.
            let frozen = try RunnerHost()
            let hung = try await makeProjects([(frozen, "hung-0"), (frozen, "hung-1")])
            defer {
                frozen.server.thaw()
                frozen.server.kill()
                for project in hung { project.removeEverywhere() }
            }
            try fleet.directory.writeKnownHosts([fleet.host.server, frozen.server])
            frozen.server.freeze()
            let members =
                fleet.members
                + hung.enumerated().map { FleetMember(name: "hung-\($0.offset)", project: $0.element) }
            let file = try fleet.directory.writeFleet(members, name: "slow.yaml")

            let prom = fleet.directory.path + "/sigterm.prom"
            let running = try FleetCLI.start(
                [
                    "tick", "--all", "--fleet", file, "--known-hosts", fleet.directory.knownHosts,
                    "--deadline", "60", "--prom-file", prom,
                ],
                home: fleet.directory.home)
            let fastDone = await running.waitForOutput(timeout: .seconds(30)) {
                $0.split(separator: "\n").count >= 3
            }
            #expect(fastDone, "stdout: \(running.stdoutSoFar) stderr: \(running.stderrSoFar)")
            // Signal mid-tick: once the slow projects' `megaplan status` runs (seen, not slept on).
            let slow = fleet.members.suffix(3).map(\.project)
            let waitUntil = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < waitUntil,
                !slow.allSatisfy({ project in
                    project.calls().contains { $0["argv"]?.arrayValue?.first?.stringValue == "status" }
                })
            {
                try await Task.sleep(for: .milliseconds(20))
            }
            let clock = ContinuousClock()
            let signalled = clock.now
            running.signal(SIGTERM)
            let status = await running.wait(timeout: .seconds(5))
            let elapsed = clock.now - signalled
            if status == nil { running.forceStop() }
            #expect(
                status == 143, "exit \(String(describing: status)) after \(elapsed); \(running.stderrSoFar)")
            #expect(elapsed < .seconds(5))

            let output = running.stdoutSoFar
            #expect(output.hasSuffix("\n"))
            let lines = try parseLines(output)
            let projectLines = lines.filter { !$0.isSummary }
            #expect(projectLines.count == 3, "\(output)")
            #expect(
                Set(projectLines.compactMap { $0.json["project"]?.stringValue })
                    == Set(fleet.members.prefix(3).map(\.name)))
            for line in projectLines { #expect(keyOrder(line.json) == Self.lineKeys) }
            let summary = try #require(lines.last)
            #expect(summary.isSummary)
            #expect(summary.json["summary"]?["interrupted"] == .bool(true))

            // The textfile keeps every project: the five cut short are `interrupted` (they once
            // vanished from it, so a hung project stopped alerting), and it says the tick was.
            let text = try #require(FileSystem.readText(prom), "no Prometheus file")
            #expect(text.contains("megaplan_fleet_tick_interrupted{shard=\"0/1\"} 1\n"), "\(text)")
            for member in fleet.members.prefix(3) {
                #expect(text.contains("megaplan_fleet_up{project=\"\(member.name)\"} 1\n"), "\(text)")
                #expect(!text.contains("megaplan_fleet_tick_error{project=\"\(member.name)\","), "\(text)")
            }
            for name in fleet.members.suffix(3).map(\.name) + ["hung-0", "hung-1"] {
                #expect(
                    text.contains("megaplan_fleet_tick_error{project=\"\(name)\",kind=\"interrupted\"} 1"),
                    "\(name): \(text)")
            }
        }

        /// A restart already sent when SIGTERM comes runs to its end, and the project keeps its
        /// line and its textfile entry (the restart was once cancelled and the line dropped).
        @Test(.timeLimit(.minutes(1)))
        func sigtermKeepsARestartUnderWay() async throws {
            let fleet = try await Fleet([.running])
            defer { fleet.cleanUp() }
            let project = fleet.members[0].project
            // Stale bookkeeping with no runner: the tick restarts the chain; the restart takes 10 s.
            try project.writeState(["current_milestone_index": 1, "last_state": "done"])
            try project.stub("restart_sleep", "10")
            let prom = fleet.directory.path + "/restart.prom"
            let running = try FleetCLI.start(
                [
                    "tick", "--all", "--fleet", fleet.file, "--known-hosts", fleet.directory.knownHosts,
                    "--deadline", "60", "--prom-file", prom,
                ],
                home: fleet.directory.home)
            let marker = project.workspace + "/.stub/restart_started"
            let clock = ContinuousClock()
            let limit = clock.now + .seconds(30)
            while !FileSystem.isRegularFile(marker), clock.now < limit {
                try await Task.sleep(for: .milliseconds(20))
            }
            try #require(FileSystem.isRegularFile(marker), "no restart began: \(running.stderrSoFar)")
            running.signal(SIGTERM)
            let status = await running.wait(timeout: .seconds(30))
            if status == nil { running.forceStop() }
            #expect(status == 143, "exit \(String(describing: status)); \(running.stderrSoFar)")
            let lines = try parseLines(running.stdoutSoFar).filter { !$0.isSummary }
            #expect(lines.count == 1, "\(running.stdoutSoFar)")
            let line = try #require(lines.first)
            #expect(line.json["report"]?["event"] == "supervisor_restarted", "\(line.raw)")
            #expect(line.json["report"]?["acted"] == .bool(true), "\(line.raw)")
            let text = try #require(FileSystem.readText(prom), "no Prometheus file")
            #expect(text.contains("megaplan_fleet_tick_interrupted{shard=\"0/1\"} 1\n"), "\(text)")
            // The restart the tick completed is in the textfile as an action taken.
            #expect(
                text.split(separator: "\n").contains {
                    $0.hasPrefix("megaplan_fleet_acted{project=\"p-0\",action=") && $0.hasSuffix("} 1")
                }, "\(text)")
            #expect(
                text.contains(
                    "megaplan_fleet_effective_status{project=\"p-0\",status=\"stale_bookkeeping\"} 1"),
                "\(text)")
        }

        /// A runner whose `megaplan status` takes 20 s, deadline 4 s: the line says `timeout`, the
        /// runner's processes end with the deadline (they once ran on for the whole probe), and
        /// the sync refresh folded into the status read never runs after the client gave up (it
        /// once rewrote the chain state after the chain lock was released).
        @Test(.timeLimit(.minutes(1)))
        func remoteWorkEndsAtTheDeadline() async throws {
            let fleet = try await Fleet([.running])
            defer { fleet.cleanUp() }
            let project = fleet.members[0].project
            // A first tick records the spec's digest, so the next folds its refresh into the read.
            let first = try await fleet.run(["tick", "--all"])
            #expect(first.status == 0, "\(first)")
            let refreshes = { project.calls().filter { $0["sync_refresh"] != nil }.count }
            let before = refreshes()
            #expect(before == 1)

            try project.stub("status_sleep", "20")
            let clock = ContinuousClock()
            let started = clock.now
            let result = try await fleet.run(["tick", "--all", "--deadline", "4"])
            let elapsed = clock.now - started
            #expect(result.status == 1, "\(result)")
            #expect(elapsed < .seconds(4 + 10), "took \(elapsed)")
            let line = try #require(try result.lines().first { !$0.isSummary })
            #expect(line.json["error_kind"] == "timeout", "\(line.raw)")

            // Nothing runs in the workspace any more (the stand-in alone would sleep until 20 s).
            var left = Self.processes(in: project.workspace)
            let limit = clock.now + .seconds(5)
            while !left.isEmpty, clock.now < limit {
                try await Task.sleep(for: .milliseconds(50))
                left = Self.processes(in: project.workspace)
            }
            #expect(left.isEmpty, "still running on the runner: \(left)")

            // Past the moment the stand-in would have answered, no refresh has run.
            try await Task.sleep(until: started + .seconds(25), clock: clock)
            #expect(refreshes() == before, "\(project.calls())")
        }

        /// Command lines of the processes whose working directory is `directory` or below.
        static func processes(in directory: String) -> [String] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.compactMap { entry -> String? in
                guard Int32(entry) != nil,
                    let cwd = try? FileManager.default.destinationOfSymbolicLink(
                        atPath: "/proc/\(entry)/cwd"),
                    cwd == directory || cwd.hasPrefix(directory + "/")
                else { return nil }
                let bytes = FileSystem.readBytes("/proc/\(entry)/cmdline") ?? []
                return String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            }
        }
    }
}
