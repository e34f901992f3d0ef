import BenchSupport
import FleetCore
import TestSupport
import Testing
import Transport

@testable import Supervisor

/// The runner's status program calls megaplan in its own interpreter (`RunnerProbes.inProcess`)
/// or runs its commands (`command`, as before): both must answer alike, and the re-read must not
/// probe the plan again unless the chain moved to another plan.
@Suite("Runner probes in process and as commands", .supervisorRunnerHost)
struct RunnerProbesTests {
    /// Runner states (state fields and stand-in answers) that exercise each probe's outcomes.
    struct Scenario: Sendable, CustomTestStringConvertible {
        var name: String
        var state: JSONObject = ["current_milestone_index": 0, "current_plan_name": "plan-m1"]
        var stubs: [String: String] = [:]
        /// Whether the plan status falls back to the command on the in-process path.
        var statusFallsBack = false
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "executing plan"),
        Scenario(
            name: "pending verification",
            stubs: [
                "status.json": pendingStatusJSON,
                "verify.json": verifyJSON(pending: 1, verified: 2, all: false),
            ]),
        Scenario(
            name: "all verified", stubs: ["verify.json": verifyJSON(pending: 0, verified: 3, all: true)]),
        Scenario(name: "failing status", stubs: ["status_exit": "3\n", "status_stderr": "plan is locked\n"]),
        Scenario(name: "status raises", stubs: ["status_raise": "broken plan\n"], statusFallsBack: true),
        Scenario(name: "failing refresh", stubs: ["refresh_fail": ""]),
        Scenario(
            name: "plan moves during the refresh",
            stubs: ["refresh_sets.json": #"{"current_plan_name": "plan-m2"}"#]),
        Scenario(name: "no current plan", state: ["current_milestone_index": 0]),
    ]

    /// One tick on each path from the same runner state: the same report, and the same raw answers
    /// to every megaplan probe; the modes each path reports.
    @Test(arguments: scenarios)
    func bothPathsAnswerAlike(_ scenario: Scenario) async throws {
        let recorder = CommandRecorder()
        try await withChain("probes", wrap: intercepting(before: recorder.before, after: recorder.after)) {
            chain in
            try reinstallStandIns()
            try chain.project.startSession()
            for (name, text) in scenario.stubs { try chain.project.stub(name, text) }
            var reports: [TickReport] = []
            var answers: [ObservationResult] = []
            for probes in [RunnerProbes.inProcess, .command] {
                try chain.writeState(scenario.state)
                var reader = chain.reader
                reader.runnerProbes = probes
                let before = recorder.answers.count
                reports.append(await SupervisorTick(reader: reader).run())
                let answer = try #require(recorder.answers.dropFirst(before).first)
                answers.append(try ObservationResult.decode(answer, host: "runner"))
            }
            #expect(reports[0] == reports[1])
            #expect(reports[0]["spec"] == .string(chain.spec))
            let (inProcess, command) = (answers[0], answers[1])
            #expect(inProcess.refresh?.command == command.refresh?.command)
            #expect(strip(inProcess.refresh?.outcome) == strip(command.refresh?.outcome))
            for (first, second) in [
                (inProcess.observation, command.observation), (inProcess.reread, command.reread),
            ] {
                #expect(strip(first?.planStatus) == strip(second?.planStatus))
                #expect(strip(first?.verify) == strip(second?.verify))
                #expect(first?.state == second?.state)
            }
            let hasPlan = scenario.state["current_plan_name"] != nil
            #expect(inProcess.refresh?.outcome.mode == .inProcess)
            #expect(command.refresh?.outcome.mode == .command)
            for observation in [command.observation, command.reread].compactMap({ $0 }) {
                #expect(observation.planStatus?.mode == (hasPlan ? .command : nil))
                #expect(observation.verify?.mode == (hasPlan ? .command : nil))
            }
            let observed = try #require(inProcess.observation)
            #expect(
                observed.planStatus?.mode
                    == (hasPlan ? (scenario.statusFallsBack ? .command : .inProcess) : nil))
            #expect(observed.verify?.mode == (hasPlan ? .inProcess : nil))
        }
    }

    /// The re-read reuses the plan status and verification list read a moment before; a chain
    /// that moved to another plan meanwhile has that plan read. The command path reads twice.
    @Test(arguments: [false, true])
    func rereadProbesThePlanOnlyWhenItChanged(moved: Bool) async throws {
        try await withChain("reuse") { chain in
            try reinstallStandIns()
            try chain.project.startSession()
            if moved { try chain.project.stub("refresh_sets.json", #"{"current_plan_name": "plan-m2"}"#) }
            var expected: [[String]] = []
            for probes in [RunnerProbes.inProcess, .command] {
                try chain.writeState(["current_milestone_index": 0, "current_plan_name": "plan-m1"])
                var reader = chain.reader
                reader.runnerProbes = probes
                let before = chain.project.calls().count
                let tick = await SupervisorTick(reader: reader).run()
                #expect(tick["sync_refresh"] == ["status": "ok"])
                let plans = chain.project.calls().dropFirst(before).compactMap { call -> String? in
                    guard let argv = call["argv"]?.arrayValue?.compactMap(\.stringValue),
                        argv.first == "status" || argv.first == "verify-human"
                    else { return nil }
                    return argv[0] + " " + (argv.firstIndex(of: "--plan").map { argv[$0 + 1] } ?? "")
                }
                expected.append(plans)
            }
            let first = ["status plan-m1", "verify-human plan-m1"]
            let second = moved ? ["status plan-m2", "verify-human plan-m2"] : first
            #expect(expected[0] == (moved ? first + second : first))
            #expect(expected[1] == first + second)
        }
    }

    /// A megaplan the status program cannot call in process (its `megaplan.cli` missing, its
    /// `main` of another shape, its command run by another interpreter) is run as the command, per
    /// probe, with the command's answer; a workspace holding a `megaplan` of its own has the
    /// refresh run as a command (python3 there would import that one).
    @Test(arguments: [
        "no cli module", "main of another shape", "command of another interpreter", "workspace megaplan",
    ])
    func megaplanOfAnotherShapeRunsTheCommands(_ variant: String) throws {
        let root = try TemporaryDirectory.make(prefix: "mpf-probes-")
        defer { TemporaryDirectory.remove(root) }
        let fixtures = RunnerHost.fixtures
        let package = root + "/python/megaplan"
        try FileSystem.makeDirectories(package + "/cli")
        try FileSystem.makeDirectories(root + "/bin")
        for file in ["__init__.py", "chain.py", "cli/__init__.py"] {
            try FileSystem.writeAtomically(
                package + "/" + file,
                bytes: try #require(FileSystem.readBytes(fixtures + "/python/megaplan/" + file)))
        }
        var script = try #require(FileSystem.readText(fixtures + "/megaplan"))
        switch variant {
        case "no cli module":
            // An older megaplan: the command is a module of its own.
            try FileSystem.writeAtomically(
                package + "/commands.py",
                bytes: try #require(FileSystem.readBytes(package + "/cli/__init__.py")))
            TemporaryDirectory.remove(package + "/cli")
            script = script.replacingOccurrences(
                of: "from megaplan.cli import", with: "from megaplan.commands import")
        case "main of another shape":
            try FileSystem.writeAtomically(
                package + "/cli/__init__.py",
                text: try #require(FileSystem.readText(package + "/cli/__init__.py"))
                    + "\n_main = main\n\ndef main(argv, flavour):\n    return _main(argv)\n\ndef cli_entry():\n    sys.exit(_main())\n"
            )
        case "command of another interpreter":
            script = "#!/bin/sh\nexec python3 -c 'from megaplan.cli import cli_entry; cli_entry()' \"$@\"\n"
        default: break
        }
        try FileSystem.writeAtomically(root + "/bin/megaplan", text: script, mode: 0o755)
        let workspace = root + "/app"
        let spec = workspace + "/chain.yaml"
        try FileSystem.makeDirectories(workspace + "/.stub")
        if variant == "workspace megaplan" { try FileSystem.makeDirectories(workspace + "/megaplan") }
        try FileSystem.makeDirectories(PosixPath.dirname(ChainPaths.stateFile(spec: spec)))
        let text = chainYAML()
        try FileSystem.writeAtomically(spec, text: text)
        try FileSystem.writeAtomically(
            ChainPaths.stateFile(spec: spec),
            text: JSONValue.object([
                "current_milestone_index": 0, "current_plan_name": "plan-m1",
                "resolved_workspace": .string(workspace),
            ]).serialized())
        let cloud = try cloudSpec(sshCloudYAML, path: root + "/cloud.yaml")
        func run(_ probes: RunnerProbes) throws -> ObservationResult {
            var reader = ChainStatusReader(cloud: cloud, runner: OfflineRunner(), home: root)
            reader.runnerProbes = probes
            let request = reader.request(
                spec: spec, marker: nil,
                mode: .observeAndRefresh(
                    RepoCandidates(cloud: cloud, marker: nil),
                    specDigest: ValidatedSpec(spec: spec, text: text).sha256))
            let environment =
                "cd / && PATH=\(ShellQuote.quote(root + "/bin")):/usr/local/bin:/usr/bin:/bin PYTHONPATH=\(ShellQuote.quote(root + "/python")) "
            let output = try BenchProcess.run([
                "/bin/sh", "-c", environment + ObservationScript.command(request),
            ])
            return try ObservationResult.decode(
                RunnerOutput(status: 0, stdout: output, stderr: ""), host: "local")
        }
        let inProcess = try run(.inProcess)
        let command = try run(.command)
        let observed = try #require(inProcess.observation)
        let megaplanInProcess = variant == "workspace megaplan"
        #expect(observed.planStatus?.mode == (megaplanInProcess ? .inProcess : .command))
        #expect(observed.verify?.mode == (megaplanInProcess ? .inProcess : .command))
        #expect(inProcess.refresh?.outcome.mode == (megaplanInProcess ? .command : .inProcess))
        #expect(observed.planStatus?.status == 0)
        #expect(strip(observed.planStatus) == strip(command.observation?.planStatus))
        #expect(strip(observed.verify) == strip(command.observation?.verify))
        #expect(strip(inProcess.refresh?.outcome) == strip(command.refresh?.outcome))
    }
}

/// Installs this checkout's runner stand-ins again just before a comparison: test runs of other
/// checkouts sharing the runner account may have installed theirs meanwhile, and both paths must
/// meet the same stand-in.
private func reinstallStandIns() throws {
    try BenchHost.installStandIns(fixtures: RunnerHost.fixtures, extraExecutables: ["docker"])
}

/// A probe's answer without the way it was obtained.
private func strip(_ outcome: ProbeOutcome?) -> ProbeOutcome? {
    outcome.map { ProbeOutcome(status: $0.status, stdout: $0.stdout, stderr: $0.stderr) }
}
