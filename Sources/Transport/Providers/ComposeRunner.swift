import FleetCore
import RunnerProtocol
import SSHClient

#if canImport(Glibc)
    import Glibc
#endif

/// `provider: local`: the runner is the `agent` service of a docker compose project on this
/// machine (cloud reference §7.3).
public struct ComposeRunner: Runner {
    public let provider = CloudSpec.Provider.local
    public var hostLabel: String { "localhost" }
    public var commandCount: Int { counter.count }

    let docker: LocalProgram
    let dockerCompose: LocalProgram?
    let project: String
    let port: Int
    /// `~/.megaplan/cloud/<compose_project>/`, the working directory of every call.
    public let deployDirectory: String
    /// The state tree the deploy directory lives in, checked by `FileSystem.secureDirectory`.
    let home: String
    private let counter = CommandCounter()

    public init(spec: CloudSpec, home: String = FileSystem.homeDirectory(), searchPath: String? = nil)
        throws(FleetError)
    {
        let local = spec.local ?? CloudSpec.Local()
        let counter = self.counter
        var docker = try LocalProgram.locate(
            "docker", install: "https://docs.docker.com/get-docker/", searchPath: searchPath)
        docker = LocalProgram(path: docker.path, counter: CommandCountingHook { counter.increment() })
        self.docker = docker
        dockerCompose = (try? LocalProgram.locate("docker-compose", install: "", searchPath: searchPath)).map
        {
            LocalProgram(path: $0.path, counter: CommandCountingHook { counter.increment() })
        }
        project = local.composeProject
        port = spec.resources.port
        deployDirectory = "\(home)/.megaplan/cloud/\(local.composeProject)"
        self.home = home
    }

    /// The deploy directory exists, is ours and no one else can write to it (it holds `.env`).
    func secureDeployDirectory() throws(FleetError) {
        try FileSystem.secureDirectory(deployDirectory, below: home, createMode: 0o755)
    }

    var composeFile: String { deployDirectory + "/docker-compose.yaml" }

    /// `docker compose -p P -f F <args>`, falling back to `docker-compose` when this docker has no
    /// compose plugin.
    func compose(_ arguments: [String], stdin: [UInt8]? = nil, outputLimit: Int = OutputLimits.capture)
        async throws(FleetError) -> RunnerOutput
    {
        try secureDeployDirectory()
        let prefix = ["-p", project, "-f", composeFile]
        let output = try await docker.run(
            ["compose"] + prefix + arguments, stdin: stdin, workingDirectory: deployDirectory,
            outputLimit: outputLimit)
        if output.status != 0, let dockerCompose, Self.lacksComposePlugin(output) {
            return try await dockerCompose.run(
                prefix + arguments, stdin: stdin, workingDirectory: deployDirectory, outputLimit: outputLimit)
        }
        return output
    }

    /// How a docker client without the compose plugin answers `docker compose -p …`: 20.10 takes
    /// `-p` for its own flag, 23-27 say "'compose' is not a docker command", 28 "unknown command".
    static func lacksComposePlugin(_ output: RunnerOutput) -> Bool {
        let combined = (output.stderr + output.stdout).lowercased()
        return combined.contains("unknown shorthand flag")
            || combined.contains("'compose' is not a docker command")
            || combined.contains("unknown command: docker compose")
    }

    func composeChecked(_ arguments: [String], stdin: [UInt8]? = nil) async throws(FleetError) -> RunnerOutput
    {
        try await compose(arguments, stdin: stdin).checked(
            orElse: docker.failure(["compose", "-p", project, "-f", composeFile] + arguments))
    }

    public func run(_ command: String, stdin: [UInt8]?, deadline: Duration?, outputLimit: Int?)
        async throws(FleetError) -> RunnerOutput
    {
        try await compose(
            ["exec", "-T", "agent", "bash", "-lc", command], stdin: stdin,
            outputLimit: outputLimit ?? OutputLimits.capture)
    }

    public func referenceArgv(_ command: String) -> [String] {
        [
            docker.path, "compose", "-p", project, "-f", composeFile, "exec", "-T", "agent", "bash", "-lc",
            command,
        ]
    }

    public func upload(_ bytes: [UInt8], to path: String) async throws(FleetError) {
        _ = try await composeChecked(
            ["exec", "-T", "agent", "bash", "-lc", RemoteCommands.upload(to: path)],
            stdin: Array(Base64.encode(bytes).utf8))
    }

    /// Compose refuses to build a service whose `env_file` is missing (v1 and v2 alike), so the
    /// `.env` is written first, with what `deploy` writes; `deploy` rewrites it with the secrets of
    /// its own run.
    public func build(deployDirectory: String, secrets: [(name: String, value: String)])
        async throws(FleetError)
    {
        try writeEnvFile(secrets)
        _ = try await composeChecked(["build"])
    }

    public func deploy(deployDirectory: String, secrets: [(name: String, value: String)])
        async throws(FleetError)
    {
        try writeEnvFile(secrets)
        _ = try await composeChecked(["up", "-d"])
    }

    /// The `.env` the compose file names: `PORT` and the secrets, mode 0600.
    private func writeEnvFile(_ secrets: [(name: String, value: String)]) throws(FleetError) {
        try secureDeployDirectory()
        try FileSystem.writeAtomically(
            deployDirectory + "/.env", text: try EnvFile.render(port: port, secrets: secrets), mode: 0o600)
    }

    /// A non-zero exit is `provider_failed` naming the command (§1.9); stderr went to the terminal.
    public func attach() async throws(FleetError) -> Int32 {
        let (program, prefix) = try await uncapturedCompose()
        return try await program.attach(
            prefix + ["exec", "agent", "tmux", "attach", "-t", "agent"], workingDirectory: deployDirectory)
    }

    /// The program and leading arguments for a compose call whose output goes straight to the user
    /// (attach, logs -f), where the fallback cannot be decided from the call's own output: `docker
    /// compose version` is asked first.
    private func uncapturedCompose() async throws(FleetError) -> (LocalProgram, [String]) {
        try secureDeployDirectory()
        let prefix = ["-p", project, "-f", composeFile]
        let probe = try await docker.run(["compose", "version"], workingDirectory: deployDirectory)
        if probe.status != 0, let dockerCompose, Self.lacksComposePlugin(probe) {
            return (dockerCompose, prefix)
        }
        return (docker, ["compose"] + prefix)
    }

    public func logs(follow: Bool, onLine: @escaping @Sendable (String) async -> Void)
        async throws(FleetError)
    {
        let colour = Self.logColours ? [] : ["--no-color"]
        if follow {
            let (program, prefix) = try await uncapturedCompose()
            try await program.follow(
                prefix + ["logs"] + colour + ["-f", "agent"], workingDirectory: deployDirectory,
                onLine: onLine)
        } else {
            let output = try await composeChecked(["logs"] + colour + ["--tail", "200", "agent"])
            await onLine(output.stdout)
            if !output.stderr.isEmpty { await onLine(output.stderr) }
        }
    }

    /// Compose colours its log lines; as for the rest of the tool's output, colour reaches only a
    /// terminal (the relayed lines go to stdout) and `NO_COLOR` turns it off. Compose v1 and v2
    /// both take `--no-color`.
    static var logColours: Bool {
        isatty(STDOUT_FILENO) == 1 && (ProcessEnvironment.current["NO_COLOR"] ?? "").isEmpty
    }

    public func down() async throws(FleetError) { _ = try await composeChecked(["stop"]) }

    public func destroy(volume: String?) async throws(FleetError) {
        _ = try await composeChecked(["down", "--volumes", "--remove-orphans"])
    }
}

/// The `.env` text of local and ssh deploys: `PORT=<port>` then `NAME=value` per secret (§7.3).
public enum EnvFile {
    /// Docker's and Compose's env-file readers take each line's value literally and have no escape
    /// for a line break, so a value holding one would end its line early and could define another
    /// variable: such a value is refused, naming the secret and never showing its value.
    public static func render(port: Int, secrets: [(name: String, value: String)]) throws(FleetError)
        -> String
    {
        let lineEnds: Set<UInt8> = [0x0A, 0x0D, 0x00]
        if let broken = secrets.first(where: { $0.value.utf8.contains(where: lineEnds.contains) }) {
            throw FleetError(
                .invalidArgs,
                "secret \(broken.name) contains a line break or NUL, which a docker env file cannot carry; store it without one (for example base64-encoded)"
            )
        }
        let lines = ["PORT=\(port)"] + secrets.map { "\($0.name)=\($0.value)" }
        return lines.joined(separator: "\n") + "\n"
    }
}
