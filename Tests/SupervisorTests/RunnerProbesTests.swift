import BenchSupport
import FleetCore
import TestSupport
import Testing
import Transport

@testable import RunnerProtocol
@testable import Supervisor

/// The runner's status program calls megaplan in its own interpreter (`RunnerProbes.inProcess`)
/// or runs its commands (`command`, as before): both must answer alike, and the re-read must not
/// probe the plan again unless the chain moved to another plan. Over SSH on the shared runner
/// host for the ordinary answers; on a private copy of the stand-ins, run locally, for the answers
/// that need this checkout's stand-ins exactly (tracebacks, a chain moving on, timeouts), since
/// test runs of other checkouts may install theirs on the shared host at any moment.
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
        var hasPlan: Bool { state["current_plan_name"] != nil }
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
        Scenario(name: "no current plan", state: ["current_milestone_index": 0]),
    ]

    static let localScenarios: [Scenario] =
        scenarios + [
            Scenario(name: "status raises", stubs: ["status_raise": "broken plan\n"], statusFallsBack: true),
            Scenario(name: "failing refresh", stubs: ["refresh_fail": ""]),
            Scenario(
                name: "plan moves during the refresh",
                stubs: ["refresh_sets.json": #"{"current_plan_name": "plan-m2"}"#]),
        ]

    /// One tick on each path from the same runner state: the same report, and the same raw answers
    /// to every megaplan probe; the modes each path reports.
    @Test(arguments: scenarios)
    func bothPathsAnswerAlike(_ scenario: Scenario) async throws {
        let recorder = CommandRecorder()
        try await withChain("probes", wrap: intercepting(before: recorder.before, after: recorder.after)) {
            chain in
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
            expectAlike(answers[0], answers[1], scenario)
        }
    }

    /// The same comparison on a private copy of the stand-ins.
    @Test(arguments: localScenarios)
    func bothPathsAnswerAlikeLocally(_ scenario: Scenario) async throws {
        let runner = try LocalRunner(state: scenario.state, stubs: scenario.stubs)
        defer { runner.remove() }
        expectAlike(try await runner.run(.inProcess), try await runner.run(.command), scenario)
    }

    /// The re-read reuses the plan status and verification list read a moment before. The command
    /// path reads them twice.
    @Test func rereadProbesThePlanOnce() async throws {
        try await withChain("reuse") { chain in
            try chain.project.startSession()
            var probed: [[String]] = []
            for probes in [RunnerProbes.inProcess, .command] {
                try chain.writeState(["current_milestone_index": 0, "current_plan_name": "plan-m1"])
                var reader = chain.reader
                reader.runnerProbes = probes
                let before = chain.project.calls().count
                let tick = await SupervisorTick(reader: reader).run()
                #expect(tick["sync_refresh"] == ["status": "ok"])
                probed.append(planProbes(chain.project.calls().dropFirst(before)))
            }
            let once = ["status plan-m1", "verify-human plan-m1"]
            #expect(probed == [once, once + once])
        }
    }

    /// A chain that moved to another plan while the refresh ran has that plan read.
    @Test func rereadProbesANewPlan() async throws {
        let runner = try LocalRunner(
            state: ["current_milestone_index": 0, "current_plan_name": "plan-m1"],
            stubs: ["refresh_sets.json": #"{"current_plan_name": "plan-m2"}"#])
        defer { runner.remove() }
        _ = try await runner.run(.inProcess)
        #expect(
            planProbes(runner.calls())
                == ["status plan-m1", "verify-human plan-m1", "status plan-m2", "verify-human plan-m2"])
    }

    /// A megaplan the status program cannot call in process (its `megaplan.cli` missing, its
    /// `main` of another shape, its command run by another interpreter) is run as the command, per
    /// probe, with the command's answer; a workspace holding a `megaplan` of its own has the
    /// refresh run as a command (python3 there would import that one).
    @Test(arguments: LocalRunner.Variant.allCases.filter { $0 != .standard })
    func megaplanOfAnotherShapeRunsTheCommands(_ variant: LocalRunner.Variant) async throws {
        let runner = try LocalRunner(
            state: ["current_milestone_index": 0, "current_plan_name": "plan-m1"], variant: variant)
        defer { runner.remove() }
        let inProcess = try await runner.run(.inProcess)
        let command = try await runner.run(.command)
        let observed = try #require(inProcess.observation)
        let megaplanInProcess = variant == .workspaceMegaplan
        #expect(observed.planStatus?.mode == (megaplanInProcess ? .inProcess : .command))
        #expect(observed.verify?.mode == (megaplanInProcess ? .inProcess : .command))
        #expect(inProcess.refresh?.outcome.mode == (megaplanInProcess ? .command : .inProcess))
        #expect(observed.planStatus?.status == 0)
        #expect(strip(observed.planStatus) == strip(command.observation?.planStatus))
        #expect(strip(observed.verify) == strip(command.observation?.verify))
        #expect(strip(inProcess.refresh?.outcome) == strip(command.refresh?.outcome))
    }
}

/// The raw answers of the two paths are the same; each path reports its modes.
private func expectAlike(
    _ inProcess: ObservationResult, _ command: ObservationResult, _ scenario: RunnerProbesTests.Scenario,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(inProcess.refresh?.command == command.refresh?.command, sourceLocation: sourceLocation)
    #expect(
        strip(inProcess.refresh?.outcome) == strip(command.refresh?.outcome), sourceLocation: sourceLocation)
    for (first, second) in [(inProcess.observation, command.observation), (inProcess.reread, command.reread)]
    {
        #expect(strip(first?.planStatus) == strip(second?.planStatus), sourceLocation: sourceLocation)
        #expect(strip(first?.verify) == strip(second?.verify), sourceLocation: sourceLocation)
        #expect(first?.state == second?.state, sourceLocation: sourceLocation)
    }
    #expect(inProcess.refresh?.outcome.mode == .inProcess, sourceLocation: sourceLocation)
    #expect(command.refresh?.outcome.mode == .command, sourceLocation: sourceLocation)
    for observation in [command.observation, command.reread].compactMap({ $0 }) {
        #expect(
            observation.planStatus?.mode == (scenario.hasPlan ? .command : nil),
            sourceLocation: sourceLocation)
        #expect(
            observation.verify?.mode == (scenario.hasPlan ? .command : nil), sourceLocation: sourceLocation)
    }
    let observed = inProcess.observation
    #expect(
        observed?.planStatus?.mode
            == (scenario.hasPlan ? (scenario.statusFallsBack ? .command : .inProcess) : nil),
        sourceLocation: sourceLocation)
    #expect(observed?.verify?.mode == (scenario.hasPlan ? .inProcess : nil), sourceLocation: sourceLocation)
}

/// `status P` and `verify-human P` for each plan probe among the stand-in's recorded calls.
private func planProbes(_ calls: some Sequence<JSONValue>) -> [String] {
    calls.compactMap { call -> String? in
        guard let argv = call["argv"]?.arrayValue?.compactMap(\.stringValue),
            argv.first == "status" || argv.first == "verify-human",
            let plan = argv.firstIndex(of: "--plan").map({ argv[$0 + 1] })
        else { return nil }
        return argv[0] + " " + plan
    }
}

/// A runner on this machine: a private copy of the stand-ins (first on PATH and PYTHONPATH), a
/// workspace with a chain spec and state, and the status program of a folded tick run against it
/// as the runner would run it.
struct LocalRunner {
    /// Stand-ins the status program cannot call in process, or a workspace it cannot refresh in.
    enum Variant: String, CaseIterable, Sendable {
        case standard, noCLIModule, mainOfAnotherShape, commandOfAnotherInterpreter, workspaceMegaplan
    }

    let root: String
    let workspace: String
    let spec: String
    let text: String

    init(state: JSONObject, stubs: [String: String] = [:], variant: Variant = .standard) throws {
        root = try TemporaryDirectory.make(prefix: "mpf-probes-")
        workspace = root + "/app"
        spec = workspace + "/chain.yaml"
        text = chainYAML()
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
        case .noCLIModule:
            // An older megaplan: the command's module has another name.
            try FileSystem.writeAtomically(
                package + "/commands.py",
                bytes: try #require(FileSystem.readBytes(package + "/cli/__init__.py")))
            TemporaryDirectory.remove(package + "/cli")
            script = script.replacingOccurrences(
                of: "from megaplan.cli import", with: "from megaplan.commands import")
        case .mainOfAnotherShape:
            try FileSystem.writeAtomically(
                package + "/cli/__init__.py",
                text: try #require(FileSystem.readText(package + "/cli/__init__.py"))
                    + "\n_main = main\n\ndef main(argv, flavour):\n    return _main(argv)\n\ndef cli_entry():\n    sys.exit(_main())\n"
            )
        case .commandOfAnotherInterpreter:
            script = "#!/bin/sh\nexec python3 -c 'from megaplan.cli import cli_entry; cli_entry()' \"$@\"\n"
        case .standard, .workspaceMegaplan: break
        }
        try FileSystem.writeAtomically(root + "/bin/megaplan", text: script, mode: 0o755)
        try FileSystem.makeDirectories(workspace + "/.stub")
        if variant == .workspaceMegaplan { try FileSystem.makeDirectories(workspace + "/megaplan") }
        for (name, content) in stubs {
            try FileSystem.writeAtomically(workspace + "/.stub/" + name, text: content)
        }
        try FileSystem.makeDirectories(PosixPath.dirname(ChainPaths.stateFile(spec: spec)))
        try FileSystem.writeAtomically(spec, text: text)
        var pinned = state
        pinned["resolved_workspace"] = .string(workspace)
        try FileSystem.writeAtomically(
            ChainPaths.stateFile(spec: spec), text: JSONValue.object(pinned).serialized())
    }

    /// Runs the folded status program on a fresh copy of the state.
    func run(_ probes: RunnerProbes) async throws -> ObservationResult {
        let state = ChainPaths.stateFile(spec: spec)
        let original = try #require(FileSystem.readText(state + ".original") ?? FileSystem.readText(state))
        try FileSystem.writeAtomically(state + ".original", text: original)
        try FileSystem.writeAtomically(state, text: original)
        let cloud = try cloudSpec(sshCloudYAML, path: root + "/cloud.yaml")
        var reader = ChainStatusReader(cloud: cloud, runner: OfflineRunner(), home: root)
        reader.runnerProbes = probes
        let request = reader.request(
            spec: spec, marker: nil,
            mode: .observeAndRefresh(
                RepoCandidates(cloud: cloud, marker: nil),
                specDigest: ValidatedSpec(spec: spec, text: text).sha256))
        let environment =
            "cd / && PATH=\(ShellQuote.quote(root + "/bin")):/usr/local/bin:/usr/bin:/bin PYTHONPATH=\(ShellQuote.quote(root + "/python")) "
        let command = environment + ObservationScript.command(request)
        let output = try await onOwnThread { try BenchProcess.run(["/bin/sh", "-c", command]) }
        return try ObservationResult.decode(
            RunnerOutput(status: 0, stdout: output, stderr: ""), host: "local")
    }

    /// The stand-in's recorded calls.
    func calls() -> [JSONValue] {
        (FileSystem.readText(workspace + "/.stub/calls.jsonl") ?? "").split(separator: "\n").compactMap {
            try? JSONValue.parse(String($0))
        }
    }

    func remove() { TemporaryDirectory.remove(root) }
}

/// A probe's answer without the way it was obtained.
private func strip(_ outcome: ProbeOutcome?) -> ProbeOutcome? {
    outcome.map { ProbeOutcome(status: $0.status, stdout: $0.stdout, stderr: $0.stderr) }
}
