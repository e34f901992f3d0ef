import Fleet
import FleetCore
import SSHClient
import TestSupport
import Testing
import Transport

/// A whole fleet through the library (`FleetRun`, one shared pool): 54
/// projects on six real sshd hosts, four of them broken in a different way.
extension RealHosts {
    @Suite("Fleet run against real hosts")
    struct FleetRunTests {
        /// Seconds one project may take; the frozen host costs exactly this.
        static let deadline = 6.0
        /// A broken host's project may end this much after its deadline (a loaded machine's late
        /// timer), and the run this much after its last line. Short of a second deadline.
        static let margin = 4.0

        @Test(.timeLimit(.minutes(2)))
        func brokenHostsCostOnlyTheirOwnProjects() async throws {
            let healthyA = try RunnerHost()
            let healthyB = try RunnerHost()
            let down = try RunnerHost()
            let rotated = try RunnerHost()
            // Its key is marked @revoked in known_hosts (by a wildcard line, after its own entry).
            let revoked = try RunnerHost()
            let frozen = try RunnerHost()
            let garbage = try RunnerHost(extraConfig: [
                "ForceCommand printf 'Welcome!\\n<<<not an observation>>>\\n'"
            ])
            defer {
                frozen.server.thaw()
                for host in [healthyA, healthyB, down, rotated, revoked, frozen, garbage] {
                    host.server.kill()
                }
            }
            let hosts: [ScenarioHost: RunnerHost] = [
                .healthyA: healthyA, .healthyB: healthyB, .down: down, .rotated: rotated, .revoked: revoked,
                .frozen: frozen, .garbage: garbage,
            ]

            let scenario = ScenarioProject.brokenHosts
            let projects = try await makeProjects(scenario.map { (hosts[$0.host]!, $0.name) })
            defer { for project in projects { project.removeEverywhere() } }
            var members: [FleetMember] = []
            for (entry, project) in zip(scenario, projects) {
                try entry.shape.stage(project)
                members.append(
                    FleetMember(
                        name: entry.name, project: project, expectedErrorKind: entry.expectedErrorKind,
                        shape: entry.shape))
            }
            #expect(members.count >= 50)

            let directory = try FleetDirectory()
            try directory.writeKnownHosts(
                [healthyA, healthyB, down, rotated, revoked, frozen, garbage].map(\.server))
            let revokedKey = try revoked.server.knownHostsLine().split(separator: " ").dropFirst().joined(
                separator: " ")
            try FileSystem.writeAtomically(
                directory.knownHosts,
                text: (FileSystem.readText(directory.knownHosts) ?? "") + "@revoked * \(revokedKey)\n")
            var run = try FleetRun.load(
                path: directory.writeFleet(members), operation: .supervise,
                ssh: SSHConfiguration(
                    knownHostsPath: directory.knownHosts, hostKeyPolicy: .strict, connectTimeout: .seconds(20)
                ),
                home: directory.home)
            run.options.concurrency = 64
            run.options.perHost = 8
            run.options.deadline = .milliseconds(Int(Self.deadline * 1000))

            // Break the hosts only now: the known_hosts file has the rotated host's OLD key.
            down.server.stop()
            try rotated.server.rotateHostKey()
            frozen.server.freeze()

            let collected = Collector()
            let started = ContinuousClock.now
            let result = await run.run(tick: "t-test") { line, commands, _ in
                await collected.add(line, commands: commands)
            }
            let (summary, statistics, shutdown) = (result.summary, result.statistics, result.shutdown)
            let wall = Duration.milliseconds(summary.wallMilliseconds) - shutdown
            let lines = await collected.lines

            let healthy = lines.filter { entry in
                members.contains { $0.name == entry.line.project && $0.expectedErrorKind == nil }
            }
            let slowestHealthy = healthy.map(\.line.durationMilliseconds).max() ?? 0
            print(
                "fleet run: \(lines.count) lines in \(wall), slowest healthy project \(slowestHealthy) ms, shutdown \(shutdown), \(statistics)"
            )
            // Exactly one line per project, each with the outcome its host and shape call for.
            #expect(lines.count == members.count)
            #expect(Set(lines.map(\.line.project)).count == members.count)
            let byName = Dictionary(uniqueKeysWithValues: lines.map { ($0.line.project, $0.line) })
            for member in members {
                guard let line = byName[member.name] else {
                    Issue.record("no line for \(member.name)")
                    continue
                }
                #expect(line.tick == "t-test")
                #expect(line.provider == .ssh)
                #expect(line.host == "127.0.0.1:\(member.project.host.server.port)")
                if let kind = member.expectedErrorKind {
                    #expect(line.outcome == .error, "\(member.name): \(line.json.serialized())")
                    #expect(line.errorKind == kind, "\(member.name): \(line.json.serialized())")
                } else {
                    let blocked = member.shape == .awaitingMerge
                    #expect(
                        line.outcome == (blocked ? .blocked : .ok),
                        "\(member.name): \(line.json.serialized())")
                    #expect(line.errorKind == nil, "\(member.name): \(line.json.serialized())")
                    #expect(line.effectiveStatus == member.shape.effectiveStatus, "\(member.name)")
                    #expect(
                        line.report["effective_status"]?.stringValue == member.shape.effectiveStatus?.rawValue
                    )
                    #expect(line.report["success"] == .bool(true))
                    // A healthy project is not slowed by the broken hosts.
                    #expect(line.durationMilliseconds < Int(Self.deadline * 1000), "\(member.name)")
                }
            }
            // Garbage is reported, not trusted.
            if let line = byName["garbage-0"] {
                #expect(
                    line.report["refused_reason"]?.stringValue?.contains("did not answer the status read")
                        == true
                )
            }

            // The summary counts every project once.
            #expect(summary.projects == members.count)
            #expect(!summary.interrupted)
            let errors = members.filter { $0.expectedErrorKind != nil }.count
            let blocked = members.filter { $0.expectedErrorKind == nil && $0.shape == .awaitingMerge }.count
            #expect(summary.outcomes[.error] == errors)
            #expect(summary.outcomes[.blocked] == blocked)
            #expect(summary.outcomes[.ok] == members.count - errors - blocked)

            // One slow host costs its own projects' deadline, not the fleet's sum of them: every
            // broken host's project has its line one deadline after the start, and the run ends
            // soon after its last line. (The healthy projects' own work, which a busy machine
            // stretches, is bounded above, project by project.)
            let margin = Duration.milliseconds(Int(Self.margin * 1000))
            for entry in lines where entry.line.outcome == .error {
                #expect(
                    entry.emittedAt - started < .milliseconds(Int(Self.deadline * 1000)) + margin,
                    "\(entry.line.project) ended \(entry.emittedAt - started) after the start")
            }
            let lastLine = lines.map(\.emittedAt).max() ?? started
            #expect(wall - (lastLine - started) < margin, "wall \(wall), last line \(lastLine - started)")
            #expect(shutdown < .seconds(3), "pool shutdown took \(shutdown)")

            // Connections are pooled: handshakes are bounded by hosts, not projects. Three hosts
            // complete handshakes (the two healthy ones and the garbage one).
            #expect(statistics.handshakes >= 3)
            #expect(statistics.handshakes <= run.ssh.connectionsPerHost * 3)
            // A supervise tick on a healthy project is two remote commands (read; refresh + re-read),
            // plus the PR probe for a chain waiting on a merge.
            for entry in lines where entry.line.outcome != .error {
                #expect((2...3).contains(entry.commands), "\(entry.line.project): \(entry.commands) commands")
            }
        }

        /// The read-only operation over the same kind of fleet: one command per healthy project.
        @Test(.timeLimit(.minutes(1)))
        func statusIsOneCommandPerProject() async throws {
            let host = try RunnerHost()
            defer { host.server.kill() }
            let shapes: [ChainShape] = [.running, .complete, .awaitingMerge, .corruptState]
            let projects = try await makeProjects((0..<12).map { (host, "status-\($0)") })
            defer { for project in projects { project.removeEverywhere() } }
            var members: [FleetMember] = []
            for (index, project) in projects.enumerated() {
                let shape = shapes[index % shapes.count]
                try shape.stage(project)
                members.append(FleetMember(name: "status-\(index)", project: project, shape: shape))
            }
            let directory = try FleetDirectory()
            try directory.writeKnownHosts([host.server])
            let run = try FleetRun.load(
                path: directory.writeFleet(members), operation: .status,
                ssh: SSHConfiguration(knownHostsPath: directory.knownHosts), home: directory.home)
            let collected = Collector()
            let result = await run.run(tick: "t-s") { line, commands, _ in
                await collected.add(line, commands: commands)
            }
            let (summary, statistics) = (result.summary, result.statistics)
            let lines = await collected.lines
            #expect(lines.count == members.count)
            #expect(summary.remoteCommands == members.count)
            #expect(statistics.commandsRun == members.count)
            #expect(statistics.handshakes <= run.ssh.connectionsPerHost)
            for member in members {
                let line = try #require(lines.first { $0.line.project == member.name }?.line)
                #expect(line.operation == .status)
                switch member.shape {
                case .corruptState:
                    #expect(line.outcome == .error)
                    #expect(line.errorKind == .remoteError)
                case .awaitingMerge:
                    #expect(line.outcome == .blocked)
                    #expect(line.effectiveStatus == .awaitingPRMerge)
                default:
                    #expect(line.outcome == .ok)
                    #expect(line.effectiveStatus == member.shape.effectiveStatus)
                }
            }
            // A read-only run never asks megaplan to start anything.
            for project in projects { #expect(project.chainStarts().isEmpty) }
        }
    }

}

actor Collector {
    struct Entry {
        var line: FleetLine
        var commands: Int
        /// When the line was emitted.
        var emittedAt: ContinuousClock.Instant
    }
    private(set) var lines: [Entry] = []
    func add(_ line: FleetLine, commands: Int) {
        lines.append(Entry(line: line, commands: commands, emittedAt: .now))
    }
}
