import BenchSupport
import FleetCore
import Foundation
import Locks
import SSHClient
import TestSupport
import Testing
import Transport

@testable import RunnerProtocol
@testable import Supervisor

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - one runner host per suite

extension Trait where Self == SharedRunnerHost {
    /// One real sshd runner host per suite (TestSupport's SharedRunnerHost).
    static var supervisorRunnerHost: SharedRunnerHost { SharedRunnerHost() }
}

// MARK: - a chain on the runner host

/// The report keys of §6.3, in order.
let reportKeys = [
    "success", "event", "spec", "effective_status", "next_action", "acted", "refused_reason", "runner",
    "sync",
    "pr", "logs", "sync_refresh", "provider_consistency", "extra_repo_sync", "human_verification",
]

/// The initial-read error report of §6.1a has exactly these keys.
let errorReportKeys = Array(reportKeys.prefix(11))

let humanPrerequisiteReason =
    "human prerequisite policy is 'required' and unmet; a human operator must resolve it via `megaplan user-action resolve` or `megaplan chain override`"
let qualityGateReason =
    "validation policy is 'required' and quality gate is failing; a human operator must resolve the blocker or accept with debt"

/// A chain at its first milestone whose plan has run its course (`running` while its runner lives).
let firstPlanDone: JSONObject = [
    "current_milestone_index": 0, "current_plan_name": "plan-m1", "last_state": "done",
]

/// A project on the suite's runner host with a local cloud.yaml, its own SSH pool and runner.
struct ChainFixture {
    let host: RunnerHost
    let project: TestProject
    let cloud: CloudSpec
    let pool: SSHPool
    let runner: any CommandRunner
    let reader: ChainStatusReader

    var workspace: String { project.workspace }
    var spec: String { project.remoteSpec }
    var session: String { project.session }

    /// `chainYAML` replaces the default chain spec (three milestones m1..m3); `wrap` puts a
    /// fault-injecting runner around the real SSH runner.
    init(
        _ name: String, host: RunnerHost? = nil, chainYAML: String? = nil, extraYAML: String = "",
        wrap: (@Sendable (any CommandRunner) -> any CommandRunner)? = nil
    ) throws {
        let host = try host ?? SharedRunnerHost.host()
        self.host = host
        project = try host.makeProject(name, extraYAML: extraYAML)
        if let chainYAML { try project.write("chain.yaml", chainYAML) }
        // A restarted chain runner stays alive long enough to be seen on a busy machine (the
        // fixture's clean-up ends it).
        try project.stub("chain_sleep", "120\n")
        cloud = try CloudSpec.load(path: project.cloudYAMLPath)
        pool = SSHPool(configuration: host.server.configuration())
        let real = try RunnerFactory.make(for: cloud, pool: pool, home: project.home)
        runner = wrap.map { $0(real) } ?? real
        reader = ChainStatusReader(cloud: cloud, runner: runner, home: project.home)
        try recordValidatedSpec()
    }

    /// Records the spec's digest as a first tick does, so the tests' ticks are the steady state:
    /// one command for the reads (the first tick of a spec is tested on its own).
    func recordValidatedSpec() throws {
        let path = SupervisorTick(reader: reader).validatedSpecPath
        try FileSystem.makeDirectories(PosixPath.dirname(path))
        ValidatedSpec(spec: spec, text: try #require(FileSystem.readText(spec))).save(at: path)
    }

    /// Runs one tick and returns its report with the number of remote commands it issued.
    func tick(dryRun: Bool = false) async -> (TickReport, Int) {
        let before = runner.commandCount
        let report = await SupervisorTick(reader: reader, dryRun: dryRun).run()
        return (report, runner.commandCount - before)
    }

    func writeState(_ state: JSONObject) throws { try project.writeState(state) }

    /// The state file's raw text.
    func stateText() -> String? { FileSystem.readText(ChainPaths.stateFile(spec: spec)) }

    /// Writes the runtime-policy file (§4.3) as `megaplan chain override` would.
    func writeRuntimePolicy(_ object: JSONObject) throws {
        let path = ChainPaths.runtimePolicyFile(spec: spec)
        try project.write(
            String(path.dropFirst(workspace.count + 1)), JSONValue.object(object).serialized() + "\n")
    }

    /// The `sync_refresh` records of the `megaplan.chain` stand-in.
    func syncRefreshCalls() -> [JSONValue] { project.calls().compactMap { $0["sync_refresh"] } }

    /// The `chain start` calls, waiting up to `seconds` for at least `atLeast` of them (tmux
    /// starts the runner asynchronously). It returns as soon as they are there: the generous
    /// bound only matters on a busy machine.
    func chainStarts(atLeast: Int = 1, seconds: Double = 30) async -> [JSONValue] {
        let deadline = Date().addingTimeInterval(seconds)
        while project.chainStarts().count < atLeast, Date() < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return project.chainStarts()
    }

    /// What a restart records: `megaplan chain start --spec S --one`, run in the workspace.
    var expectedChainStart: JSONValue {
        ["argv": ["chain", "start", "--spec", .string(spec), "--one"], "cwd": .string(workspace)]
    }

    func expectedRefresh(prNumber: Int? = nil, extraRepos: [String]? = nil) -> JSONValue {
        [
            "root": .string(workspace), "spec": .string(spec), "branch": nil,
            "pr_number": .optional(prNumber),
            "extra_repos": extraRepos.map(JSONValue.strings) ?? .null,
        ]
    }

    func finish() async {
        await pool.shutdown()
        project.cleanUp()
        _ = try? host.shell("rm -rf \(ShellQuote.quote(PosixPath.dirname(workspace)))")
    }
}

/// Runs `body` with a fresh chain fixture and always shuts its pool down and cleans up.
func withChain(
    _ name: String, host: RunnerHost? = nil, chainYAML: String? = nil, extraYAML: String = "",
    wrap: (@Sendable (any CommandRunner) -> any CommandRunner)? = nil,
    _ body: (ChainFixture) async throws -> Void
) async throws {
    let chain = try ChainFixture(name, host: host, chainYAML: chainYAML, extraYAML: extraYAML, wrap: wrap)
    do {
        try await body(chain)
    } catch {
        await chain.finish()
        throw error
    }
    await chain.finish()
}

/// A chain spec with the given milestones and extra top-level lines.
func chainYAML(_ milestones: [String] = ["m1", "m2", "m3"], _ extra: String = "") -> String {
    "milestones:\n" + milestones.map { "  - label: \($0)\n    idea: ideas/\($0).md\n" }.joined() + extra
}

// MARK: - assertions on reports

extension TickReport {
    var keys: [String] { report.keys }
    subscript(_ key: String) -> JSONValue? { report[key] }
    var event: String? { report["event"]?.stringValue }
    var nextAction: String? { report["next_action"]?.stringValue }
    var refusedReason: String? { report["refused_reason"]?.stringValue }
}

/// The expected stderr line of §6.3.
func summaryLine(_ event: String, acted: Bool, _ action: String, _ reason: String? = nil) -> String {
    "supervisor tick: \(event) | acted=\(acted ? "True" : "False") | next_action=\(action)"
        + (reason.map { " | refused_reason=\($0)" } ?? "")
}

// MARK: - runners for fault injection

/// Wraps a real runner: `before` may fail a command instead of running it (the command still
/// counts as issued), `after` may rewrite a command's output.
final class InterceptingRunner: CommandRunner {
    let inner: any CommandRunner
    let before: @Sendable (String) -> FleetError?
    let after: @Sendable (String, RunnerOutput) -> RunnerOutput
    private let injected = Locked(0)

    init(
        _ inner: any CommandRunner, before: @escaping @Sendable (String) -> FleetError? = { _ in nil },
        after: @escaping @Sendable (String, RunnerOutput) -> RunnerOutput = { $1 }
    ) {
        self.inner = inner
        self.before = before
        self.after = after
    }

    var hostLabel: String { inner.hostLabel }
    var commandCount: Int { inner.commandCount + injected.withLock { $0 } }

    func run(_ command: String, stdin: [UInt8]?, deadline: Duration?, outputLimit: Int?)
        async throws(FleetError)
        -> RunnerOutput
    {
        if let error = before(command) {
            injected.withLock { $0 += 1 }
            throw error
        }
        return after(
            command, try await inner.run(command, stdin: stdin, deadline: deadline, outputLimit: outputLimit))
    }
    func referenceArgv(_ command: String) -> [String] { inner.referenceArgv(command) }
}

/// A runner that cannot be reached; for pure tests that only need a reader.
struct OfflineRunner: CommandRunner {
    var hostLabel: String { "offline.invalid:22" }
    var commandCount: Int { 0 }
    static let error = FleetError(.providerFailed, "offline", kind: .unreachable)

    func run(_ command: String, stdin: [UInt8]?, deadline: Duration?, outputLimit: Int?)
        async throws(FleetError)
        -> RunnerOutput
    {
        throw Self.error
    }
    func referenceArgv(_ command: String) -> [String] { [command] }
}

/// Is this remote command the batched observation script (status read, or refresh + re-read)?
func isObservation(_ command: String) -> Bool { command.hasPrefix("python3 -c ") }
/// The arguments of an observation script (passed to it base64-encoded).
func observationArguments(_ command: String) -> JSONValue? {
    // The command carries the program deflated in base64 (`ObservationScript.command`); inside
    // the program, the arguments are base64 in the same way: the first `b64decode(` of each.
    func firstBase64(after text: String) -> String? {
        guard let start = text.range(of: "b64decode(") else { return nil }
        let isBase64: (Character) -> Bool = {
            $0.isASCII && ($0.isLetter || $0.isNumber || "+/=".contains($0))
        }
        return String(text[start.upperBound...].drop(while: { !isBase64($0) }).prefix(while: isBase64))
    }
    guard isObservation(command), let packed = firstBase64(after: command),
        let program = try? BenchProcess.run([
            "/usr/bin/env", "python3", "-c",
            "import base64, sys, zlib; sys.stdout.write(zlib.decompress(base64.b64decode(sys.argv[1])).decode())",
            packed,
        ]),
        let encoded = firstBase64(after: program), let data = Data(base64Encoded: encoded),
        let text = String(data: data, encoding: .utf8)
    else { return nil }
    return try? JSONValue.parse(text)
}
func isRestart(_ command: String) -> Bool { command.contains("tmux kill-session") }

// MARK: - pure fixtures

/// A cloud.yaml parsed from text (not read from disk).
func cloudSpec(_ yaml: String, path: String = "/home/tester/project/cloud.yaml") throws -> CloudSpec {
    try CloudSpec.parse(text: yaml, path: path)
}

let sshCloudYAML = """
    provider: ssh
    repo:
      url: https://example.invalid/app.git
      workspace: /workspace/app
    mode: chain
    chain:
      spec: /workspace/app/chain.yaml
    ssh:
      host: runner.example
    """

/// Records every command a wrapped runner is asked to run.
final class CommandRecorder: Sendable {
    let commands = Locked<[String]>([])
    let outputs = Locked<[RunnerOutput]>([])
    var before: @Sendable (String) -> FleetError? {
        { [self] command in
            commands.withLock { $0.append(command) }
            return nil
        }
    }
    var after: @Sendable (String, RunnerOutput) -> RunnerOutput {
        { [self] _, output in
            outputs.withLock { $0.append(output) }
            return output
        }
    }
    var all: [String] { commands.withLock { $0 } }
    var answers: [RunnerOutput] { outputs.withLock { $0 } }
}

/// A `wrap` for `withChain`: an InterceptingRunner around the real runner.
func intercepting(
    before: @escaping @Sendable (String) -> FleetError? = { _ in nil },
    after: @escaping @Sendable (String, RunnerOutput) -> RunnerOutput = { $1 }
) -> @Sendable (any CommandRunner) -> any CommandRunner {
    { InterceptingRunner($0, before: before, after: after) }
}
