import Fleet
import FleetCore
import SSHClient
import TestSupport
import Testing
import Transport

/// A project's own `deadline:` in the fleet file replaces the run's deadline for that project only.
extension RealHosts {
    @Suite("Per-project deadline")
    struct ProjectDeadlineTests {
        /// The run's deadline: far above the project's own, so which one ended a project is plain
        /// from its line whatever the machine's load.
        static let runDeadline = 15.0
        static let projectDeadline = 2.0

        @Test(.timeLimit(.minutes(2)))
        func aShortProjectDeadlineTimesOutOnlyThatProject() async throws {
            let healthy = try RunnerHost()
            let frozen = try RunnerHost()
            defer {
                frozen.server.thaw()
                healthy.server.kill()
                frozen.server.kill()
            }
            let scenario = ScenarioProject.deadlines(short: Self.projectDeadline)
            let hosts: [ScenarioHost: RunnerHost] = [.healthyA: healthy, .frozen: frozen]
            let projects = try await makeProjects(scenario.map { (hosts[$0.host]!, $0.name) })
            defer { for project in projects { project.removeEverywhere() } }
            var members: [FleetMember] = []
            for (entry, project) in zip(scenario, projects) {
                try entry.shape.stage(project)
                members.append(FleetMember(name: entry.name, project: project, deadline: entry.deadline))
            }
            let directory = try FleetDirectory()
            try directory.writeKnownHosts([healthy.server, frozen.server])
            let file = try FleetFile.load(path: directory.writeFleet(members))
            #expect(
                file.projects.map(\.deadlineSeconds) == [Self.projectDeadline * 5, Self.projectDeadline, nil])
            frozen.server.freeze()

            var fleetRun = try FleetRun(
                file: file, operation: .status,
                ssh: SSHConfiguration(
                    knownHostsPath: directory.knownHosts, hostKeyPolicy: .strict, connectTimeout: .seconds(30)
                ),
                home: directory.home)
            fleetRun.options.deadline = .milliseconds(Int(Self.runDeadline * 1000))
            let collected = Collector()
            _ = await fleetRun.run(tick: "t-deadline") { line, commands, _ in
                await collected.add(line, commands: commands)
            }
            let byName = Dictionary(
                uniqueKeysWithValues: await collected.lines.map { ($0.line.project, $0.line) })

            let short = try #require(byName["frozen-short"])
            #expect(short.errorKind == .timeout, "\(short.json.serialized())")
            #expect(
                short.report["message"]?.stringValue
                    == "project did not finish within its deadline of \(Self.projectDeadline) s")
            // Ended by its own deadline, long before the run's.
            #expect(
                short.durationMilliseconds < Int(Self.runDeadline * 1000), "\(short.durationMilliseconds) ms")

            let run = try #require(byName["frozen-run"])
            #expect(run.errorKind == .timeout, "\(run.json.serialized())")
            #expect(
                run.report["message"]?.stringValue
                    == "project did not finish within its deadline of \(Self.runDeadline) s")
            #expect(run.durationMilliseconds >= Int(Self.runDeadline * 1000))

            let ok = try #require(byName["healthy"])
            #expect(ok.outcome == .ok, "\(ok.json.serialized())")
        }
    }
}
