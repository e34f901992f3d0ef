import FleetCore
import Locks
import RunnerProtocol

/// What one command run inside a runner returned.
public struct RunnerOutput: Sendable, Equatable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// What status reads and supervise ticks need of a runner: run a command and say where. Small, so
/// the fleet's behaviour can be tested against a runner in memory (see `Runner` for the rest).
public protocol CommandRunner: Sendable {
    /// The host the runner is reached through, for fleet lines and per-host limits.
    var hostLabel: String { get }
    /// Remote commands issued so far (tests and benchmarks count round trips with it).
    var commandCount: Int { get }

    /// Runs one shell command line inside the runner and returns its exit status and output,
    /// whatever the status. Failing to reach the runner throws, and so does output over
    /// `outputLimit` bytes on either stream (`remote_error`; the command is stopped there); nil
    /// is the provider's bound for a captured command (`OutputLimits.capture` unless configured).
    func run(_ command: String, stdin: [UInt8]?, deadline: Duration?, outputLimit: Int?)
        async throws(FleetError)
        -> RunnerOutput
    /// The argument vector the reference runs for `command` (§7.2–§7.4), for the §0.5 message of a
    /// command that fails with nothing on stderr.
    func referenceArgv(_ command: String) -> [String]
}

/// A remote runner as the reference's provider contract describes it (cloud reference §7.1):
/// one type per provider, each turning these operations into its own command lines.
public protocol Runner: CommandRunner {
    var provider: CloudSpec.Provider { get }
    func upload(_ bytes: [UInt8], to path: String) async throws(FleetError)
    /// Builds the runner image. `secrets` are those `deploy` passes: local writes them to the
    /// `.env` its compose file names, which Compose reads even to build.
    func build(deployDirectory: String, secrets: [(name: String, value: String)]) async throws(FleetError)
    func deploy(deployDirectory: String, secrets: [(name: String, value: String)]) async throws(FleetError)
    /// An interactive session on the runner's `agent` tmux session, with the terminal inherited.
    func attach() async throws(FleetError) -> Int32
    /// Relays the logs: when following, each line with its newline and an unfinished last line as
    /// it is; otherwise the recent logs' stdout, then their stderr, whole.
    func logs(follow: Bool, onLine: @escaping @Sendable (String) async -> Void) async throws(FleetError)
    func down() async throws(FleetError)
    func destroy(volume: String?) async throws(FleetError)
}

extension CommandRunner {
    /// `run` with the bound of a captured command (`OutputLimits.capture` per stream).
    public func run(_ command: String, stdin: [UInt8]?, deadline: Duration?) async throws(FleetError)
        -> RunnerOutput
    {
        try await run(command, stdin: stdin, deadline: deadline, outputLimit: nil)
    }

    /// `ssh_exec` of the reference (§0.5): a non-zero exit is an error carrying the remote stderr.
    public func exec(_ command: String, stdin: [UInt8]? = nil, deadline: Duration? = nil)
        async throws(FleetError)
        -> RunnerOutput
    {
        let output = try await run(command, stdin: stdin, deadline: deadline)
        return try output.checked(orElse: failureMessage(command))
    }

    /// `Command failed: <argv>` (§0.5): the reference's argument vector joined with spaces, unquoted.
    public func failureMessage(_ command: String) -> String {
        "Command failed: " + referenceArgv(command).joined(separator: " ")
    }

    /// The remote file's text (`cat`), an error when it cannot be read.
    public func readFile(_ path: String) async throws(FleetError) -> String {
        try await exec("cat \(ShellQuote.quote(path))").stdout
    }

    /// `cd ws && megaplan status [--plan P]`, parsed as a JSON object (§7.1).
    public func statusPayload(plan: String?, workspace: String) async throws(FleetError) -> JSONObject {
        let output = try await exec(RemoteCommands.planStatus(workspace: workspace, plan: plan))
        return try RemoteCommands.parseStatusPayload(output.stdout)
    }
}

extension RunnerOutput {
    /// The rule of §0.5: a non-zero exit is `provider_failed` carrying the trimmed stderr, or
    /// `fallback` when stderr is empty.
    public func checked(orElse fallback: @autoclosure () -> String) throws(FleetError) -> RunnerOutput {
        guard status != 0 else { return self }
        let message = stderr.trimmed
        throw FleetError(.providerFailed, message.isEmpty ? fallback() : message)
    }
}

/// A thread-safe count of remote commands, shared by the runner implementations.
final class CommandCounter: Sendable {
    private let value = Locked(0)
    func increment() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}
