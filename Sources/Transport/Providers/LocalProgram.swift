import FleetCore
import SSHClient
import Subprocess
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A program on this machine (docker, railway, gh), spawned without a shell and awaited without
/// blocking the cooperative pool (swift-subprocess waits asynchronously).
public struct LocalProgram: Sendable {
    public let path: String
    public let counter: CommandCountingHook?

    public init(path: String, counter: CommandCountingHook? = nil) {
        self.path = path
        self.counter = counter
    }

    /// Finds `name` on PATH, or fails with the reference's `provider_unavailable` message.
    public static func locate(_ name: String, install: String, searchPath: String? = nil) throws(FleetError)
        -> LocalProgram
    {
        let pathVariable = searchPath ?? (getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin")
        for directory in pathVariable.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0, FileSystem.isRegularFile(candidate) {
                return LocalProgram(path: candidate)
            }
        }
        throw FleetError(.providerUnavailable, "Missing required CLI '\(name)'. Install: \(install)")
    }

    /// Runs to completion, capturing stdout and stderr separately, each up to `outputLimit`
    /// bytes: past it the program's output pipe is closed and the run fails (`remote_error`).
    public func run(
        _ arguments: [String], stdin: [UInt8]? = nil, workingDirectory: String? = nil,
        environment: [String: String] = [:], outputLimit: Int = OutputLimits.capture
    ) async throws(FleetError) -> RunnerOutput {
        counter?.hook()
        do {
            let configuration = configuration(
                arguments, workingDirectory: workingDirectory, environment: environment)
            let result =
                if let stdin {
                    try await Subprocess.run(
                        configuration, input: .array(stdin), output: .bytes(limit: outputLimit),
                        error: .bytes(limit: outputLimit))
                } else {
                    try await Subprocess.run(
                        configuration, output: .bytes(limit: outputLimit),
                        error: .bytes(limit: outputLimit))
                }
            return RunnerOutput(
                status: Self.status(result.terminationStatus),
                stdout: String(decoding: result.standardOutput, as: UTF8.self),
                stderr: String(decoding: result.standardError, as: UTF8.self))
        } catch let error as SubprocessError where error.code == .outputLimitExceeded {
            throw FleetError(
                .providerFailed,
                "\(path) printed more than \(OutputLimits.describe(outputLimit)) on stdout or stderr; stopped there",
                kind: .remoteError)
        } catch {
            throw FleetError(.providerFailed, "\(path): \(error)")
        }
    }

    /// Runs with stderr merged into stdout, handing over one line at a time with its newline, and
    /// a last unfinished line as it is (for `logs -f`; see `LineSplitter`).
    public func stream(
        _ arguments: [String], workingDirectory: String? = nil,
        onLine: @escaping @Sendable (String) async -> Void
    ) async throws(FleetError) -> Int32 {
        counter?.hook()
        do {
            let result = try await Subprocess.run(
                configuration(arguments, workingDirectory: workingDirectory, environment: [:]), input: .none,
                output: .sequence, error: .combinedWithOutput
            ) { execution in
                var splitter = LineSplitter()
                for try await buffer in execution.standardOutput {
                    let lines = buffer.withUnsafeBytes { splitter.append($0) }
                    for line in lines { await onLine(line) }
                }
                if let tail = splitter.finish() { await onLine(tail) }
            }
            return Self.status(result.terminationStatus)
        } catch {
            // Cancelled (an interrupt while following): the caller checks Task.isCancelled.
            if Task.isCancelled { return 128 + SIGINT }
            throw FleetError(.providerFailed, "\(path): \(error)")
        }
    }

    /// Runs with this process's terminal inherited (attach).
    public func interactive(_ arguments: [String], workingDirectory: String? = nil) async throws(FleetError)
        -> Int32
    {
        counter?.hook()
        do {
            let result = try await Subprocess.run(
                configuration(arguments, workingDirectory: workingDirectory, environment: [:]),
                input: .currentStandardInput, output: .currentStandardOutput, error: .currentStandardError)
            return Self.status(result.terminationStatus)
        } catch {
            throw FleetError(.providerFailed, "\(path): \(error)")
        }
    }

    private func configuration(
        _ arguments: [String], workingDirectory: String?, environment: [String: String]
    )
        -> Configuration
    {
        var environmentUpdates: [Environment.Key: String?] = [:]
        for (key, value) in environment { environmentUpdates[Environment.Key(stringLiteral: key)] = value }
        return Configuration(
            executable: .path(FilePath(path)), arguments: Arguments(arguments),
            environment: .inherit.updating(environmentUpdates),
            workingDirectory: workingDirectory.map { FilePath($0) })
    }

    /// `Command failed: <path> <arguments>`, the reference's message when stderr says nothing.
    func failure(_ arguments: [String]) -> String {
        "Command failed: " + ([path] + arguments).joined(separator: " ")
    }

    /// An interactive run whose non-zero exit is `provider_failed` naming the command (§1.9).
    func attach(_ arguments: [String], workingDirectory: String? = nil) async throws(FleetError) -> Int32 {
        let status = try await interactive(arguments, workingDirectory: workingDirectory)
        guard status == 0 else { throw FleetError(.providerFailed, failure(arguments)) }
        return 0
    }

    /// Follows a log stream; an interrupt (Ctrl-C) ends it, and the program dying with it is not an
    /// error.
    func follow(
        _ arguments: [String], workingDirectory: String? = nil,
        onLine: @escaping @Sendable (String) async -> Void
    ) async throws(FleetError) {
        let status = try await stream(arguments, workingDirectory: workingDirectory, onLine: onLine)
        if status != 0, !Task.isCancelled { throw FleetError(.providerFailed, failure(arguments)) }
    }

    static func status(_ termination: TerminationStatus) -> Int32 {
        switch termination {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
}

/// Lets a runner count the local programs it starts on its behalf.
public struct CommandCountingHook: Sendable {
    let hook: @Sendable () -> Void
    public init(_ hook: @escaping @Sendable () -> Void) { self.hook = hook }
}
