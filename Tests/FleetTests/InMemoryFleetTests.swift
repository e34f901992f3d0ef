import Fleet
import FleetCore
import TestSupport
import Testing
import Transport

/// The fleet's behaviour against runners in memory (`InMemoryRunner`): limits, deadlines,
/// outcomes, lines and the exit status, in milliseconds of work. The broken-hosts scenario is the
/// one `FleetRunTests` runs against real sshd hosts. Among `RealHosts` because it checks wall
/// times too.
extension RealHosts {
    @Suite("Fleet in memory") struct InMemoryFleetTests {
        /// A fleet file and one cloud.yaml per project, each project's runner played in memory.
        final class MemoryFleet: Sendable {
            let directory: String
            let projects: [String: (host: ScenarioHost, chain: InMemoryRunner.Chain)]
            let meter = InFlightMeter()

            init(
                _ projects: [(name: String, host: ScenarioHost, chain: InMemoryRunner.Chain)],
                deadlines: [String: Double] = [:]
            )
                throws
            {
                directory = try TemporaryDirectory.make(prefix: "mpf-in-memory-")
                var fleet = "version: 1\nprojects:\n"
                for project in projects {
                    let path = "\(directory)/projects/\(project.name)/cloud.yaml"
                    try FileSystem.makeDirectories(PosixPath.dirname(path))
                    let workspace = "/srv/\(project.name)/app"
                    try FileSystem.writeAtomically(
                        path,
                        text: """
                            provider: ssh
                            repo:
                              url: https://example.invalid/\(project.name).git
                              workspace: \(workspace)
                            mode: chain
                            chain:
                              spec: \(workspace)/chain.yaml
                              chain_session: mpf-\(project.name)
                            ssh:
                              host: \(project.host.rawValue.lowercased()).invalid
                              runtime: host

                            """)
                    fleet += "  - name: \(project.name)\n    cloud_yaml: \(path)\n"
                    if let deadline = deadlines[project.name] { fleet += "    deadline: \(deadline)\n" }
                }
                try FileSystem.writeAtomically(directory + "/fleet.yaml", text: fleet)
                self.projects = Dictionary(
                    uniqueKeysWithValues: projects.map { ($0.name, ($0.host, $0.chain)) })
            }

            deinit { TemporaryDirectory.remove(directory) }

            /// A run of the fleet whose runners are in memory: one per project operation, found by
            /// the directory its cloud.yaml is in.
            func run(_ operation: FleetLine.Operation, deadline: Duration = .seconds(5)) throws -> FleetRun {
                var run = try FleetRun.load(
                    path: directory + "/fleet.yaml", operation: operation, home: directory)
                run.options.deadline = deadline
                let projects = projects
                let meter = meter
                run.runners = FleetRunners { cloud, _ throws(FleetError) in
                    let name = PosixPath.basename(PosixPath.dirname(cloud.path))
                    guard let project = projects[name] else {
                        throw FleetError(.invalidSpec, "no runner in memory for \(cloud.path)")
                    }
                    return InMemoryRunner(
                        hostLabel: HostAddress.display(host: cloud.ssh?.host ?? "", port: 22),
                        host: project.host,
                        chain: project.chain, meter: meter)
                }
                return run
            }
        }

        /// Every project of the broken-hosts scenario gets its line, with its host's or chain's kind;
        /// the frozen host costs its deadline, not the sum of its projects'.
        @Test(.timeLimit(.minutes(1)))
        func brokenHostsCostOnlyTheirOwnProjects() async throws {
            let scenario = ScenarioProject.brokenHosts
            let fleet = try MemoryFleet(scenario.map { ($0.name, $0.host, .shape($0.shape)) })
            var run = try fleet.run(.supervise, deadline: .seconds(1))
            run.options.concurrency = 64
            run.options.perHost = 8
            let result = await run.run(tick: "t-memory")
            let byName = Dictionary(uniqueKeysWithValues: result.lines.map { ($0.project, $0) })
            #expect(result.lines.count == scenario.count)
            for project in scenario {
                let line = try #require(byName[project.name])
                #expect(line.tick == "t-memory")
                #expect(line.provider == .ssh)
                #expect(line.host == "\(project.host.rawValue.lowercased()).invalid:22")
                if let kind = project.expectedErrorKind {
                    #expect(line.outcome == .error && line.errorKind == kind, "\(line.json.serialized())")
                } else {
                    #expect(
                        line.outcome == (project.shape == .awaitingMerge ? .blocked : .ok), "\(project.name)")
                    #expect(line.errorKind == nil && line.effectiveStatus == project.shape.effectiveStatus)
                    #expect(
                        line.report["effective_status"]?.stringValue
                            == project.shape.effectiveStatus?.rawValue)
                    #expect(
                        line.durationMilliseconds < 1000, "a healthy project is not slowed by broken hosts")
                }
            }
            #expect(
                byName["garbage-0"]?.report["refused_reason"]?.stringValue?.contains(
                    "did not answer the status read")
                    == true)
            let errors = scenario.filter { $0.expectedErrorKind != nil }.count
            let blocked = scenario.filter { $0.expectedErrorKind == nil && $0.shape == .awaitingMerge }.count
            #expect(
                result.summary.outcomes == [
                    .error: errors, .blocked: blocked, .ok: scenario.count - errors - blocked,
                ])
            // The frozen host costs its deadline (1 s), not its six projects' sum of them; the
            // margin is `FleetRunTests`' (a loaded machine).
            #expect(result.summary.wallMilliseconds < 5000, "wall \(result.summary.wallMilliseconds) ms")
            #expect(result.statistics.handshakes == 0)
            #expect(FleetExitStatus.of(result.lines) == FleetExitStatus.projectErrors)
        }

        /// No more projects in flight than `concurrency`, nor on one host than `perHost`.
        @Test func concurrencyAndPerHostLimitsHold() async throws {
            let hosts: [ScenarioHost] = [.healthyA, .healthyB]
            let fleet = try MemoryFleet((0..<24).map { ("p-\($0)", hosts[$0 % 2], .shape(.running)) })
            var run = try fleet.run(.status)
            run.options.concurrency = 3
            run.options.perHost = 2
            let result = await run.run()
            #expect(result.lines.count == 24 && result.lines.allSatisfy { $0.outcome == .ok })
            #expect(fleet.meter.mostAtOnce <= 3)
            #expect(fleet.meter.mostPerHost.values.allSatisfy { $0 <= 2 }, "\(fleet.meter.mostPerHost)")
            #expect(result.summary.remoteCommands == 24, "a status read is one command")
            #expect(FleetExitStatus.of(result.lines) == FleetExitStatus.observed)
        }

        /// A project's own deadline replaces the run's for that project only (the scenario of
        /// `ProjectDeadlineTests` against sshd).
        @Test func aProjectDeadlineTimesOutOnlyThatProject() async throws {
            let scenario = ScenarioProject.deadlines(short: 0.4)
            let fleet = try MemoryFleet(
                scenario.map { ($0.name, $0.host, .shape($0.shape)) },
                deadlines: Dictionary(
                    uniqueKeysWithValues: scenario.compactMap { p in p.deadline.map { (p.name, $0) } }))
            let run = try fleet.run(.status, deadline: .milliseconds(1200))
            let result = await run.run()
            let byName = Dictionary(uniqueKeysWithValues: result.lines.map { ($0.project, $0) })
            let short = try #require(byName["frozen-short"])
            #expect(short.errorKind == .timeout)
            #expect(
                short.report["message"]?.stringValue == "project did not finish within its deadline of 0.4 s")
            #expect(short.durationMilliseconds < 1200)
            let long = try #require(byName["frozen-run"])
            #expect(long.errorKind == .timeout)
            #expect(
                long.report["message"]?.stringValue == "project did not finish within its deadline of 1.2 s")
            #expect(long.durationMilliseconds >= 1200)
            #expect(byName["healthy"]?.outcome == .ok)
        }

        /// A restart that ran is `ok` and acted; one that failed is an error of kind `restart_failed`;
        /// a chain whose lock another tick holds is `skipped`, `locked`; a cloud.yaml that does not
        /// load is `invalid_config`. Only errors make the exit status 1.
        @Test func outcomesAndExitStatus() async throws {
            let fleet = try MemoryFleet([
                ("restarted", .healthyA, .stale(restartStatus: 0)),
                ("refused", .healthyA, .stale(restartStatus: 1)),
                ("held", .healthyB, .shape(.running)), ("waiting", .healthyB, .shape(.awaitingMerge)),
            ])
            let run = try fleet.run(.supervise)
            let held = try #require(
                try FileLock.tryAcquire(
                    run.stateDirectory.chainLock(forCloudYAML: fleet.directory + "/projects/held/cloud.yaml"),
                    stateRoot: run.stateDirectory.checkedBelow))
            let result = await run.run()
            held.release()
            let byName = Dictionary(uniqueKeysWithValues: result.lines.map { ($0.project, $0) })

            let restarted = try #require(byName["restarted"])
            #expect(restarted.outcome == .ok && restarted.errorKind == nil)
            #expect(restarted.effectiveStatus == .staleBookkeeping)
            #expect(restarted.report["event"] == "supervisor_restarted" && restarted.report["acted"] == true)
            let refused = try #require(byName["refused"])
            #expect(refused.outcome == .error && refused.errorKind == .restartFailed)
            #expect(
                refused.report["refused_reason"]?.stringValue
                    == "stale bookkeeping restart failed: tmux: no server")
            let skipped = try #require(byName["held"])
            #expect(skipped.outcome == .skipped && skipped.errorKind == .locked)
            #expect(byName["waiting"]?.outcome == .blocked)
            #expect(FleetExitStatus.of(result.lines) == FleetExitStatus.projectErrors)
            #expect(
                FleetExitStatus.of(result.lines.filter { $0.outcome != .error }) == FleetExitStatus.observed)

            // The line as printed: the documented keys in their order, the kind as its string.
            #expect(
                keyOrder(refused.json) == [
                    "schema", "tick", "ts", "project", "provider", "host", "op", "duration_ms", "outcome",
                    "error_kind", "status_since", "previous_status", "changed", "report",
                ])
            let printed = try JSONValue.parse(refused.rendered(redactor: .shapesOnly))
            #expect(printed["error_kind"] == "restart_failed" && printed["provider"] == "ssh")
        }

        @Test func aCloudYAMLThatDoesNotLoadIsInvalidConfig() async throws {
            let fleet = try MemoryFleet([("broken", .healthyA, .shape(.running))])
            try FileSystem.writeAtomically(
                fleet.directory + "/projects/broken/cloud.yaml", text: "provider: [\n")
            let result = try await fleet.run(.status).run()
            let line = try #require(result.lines.first)
            #expect(line.outcome == .error && line.errorKind == .invalidConfig, "\(line.json.serialized())")
            #expect(line.provider == nil)
            #expect(FleetExitStatus.of(result.lines) == FleetExitStatus.projectErrors)
        }
    }
}
