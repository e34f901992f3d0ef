import FleetCore

/// `provider: local`: the runner is the `agent` service of a docker compose project on this
/// machine (cloud reference §7.3).
public struct ComposeRunner: Runner {
    public let provider = CloudSpec.Provider.local
    public let supportsSession = false
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
        let combined = (output.stderr + output.stdout).lowercased()
        if output.status != 0, let dockerCompose,
            combined.contains("unknown shorthand flag")
                || combined.contains("docker: 'compose' is not a docker command")
        {
            return try await dockerCompose.run(
                prefix + arguments, stdin: stdin, workingDirectory: deployDirectory, outputLimit: outputLimit)
        }
        return output
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

    public func upload(_ bytes: [UInt8], to path: String) async throws(FleetError) {
        _ = try await composeChecked(
            ["exec", "-T", "agent", "bash", "-lc", RemoteCommands.upload(to: path)],
            stdin: Array(Base64.encode(bytes).utf8))
    }

    public func build(deployDirectory: String) async throws(FleetError) {
        _ = try await composeChecked(["build"])
    }

    public func deploy(deployDirectory: String, secrets: [(name: String, value: String)])
        async throws(FleetError)
    {
        try secureDeployDirectory()
        try FileSystem.writeAtomically(
            self.deployDirectory + "/.env", text: try EnvFile.render(port: port, secrets: secrets),
            mode: 0o600)
        _ = try await composeChecked(["up", "-d"])
    }

    /// A non-zero exit is `provider_failed` naming the command (§1.9); stderr went to the terminal.
    public func attach() async throws(FleetError) -> Int32 {
        try secureDeployDirectory()
        let arguments = [
            "compose", "-p", project, "-f", composeFile, "exec", "agent", "tmux", "attach", "-t", "agent",
        ]
        return try await docker.attach(arguments, workingDirectory: deployDirectory)
    }

    public func logs(follow: Bool, onLine: @escaping @Sendable (String) async -> Void)
        async throws(FleetError)
    {
        if follow {
            try secureDeployDirectory()
            try await docker.follow(
                ["compose", "-p", project, "-f", composeFile, "logs", "-f", "agent"],
                workingDirectory: deployDirectory, onLine: onLine)
        } else {
            let output = try await composeChecked(["logs", "--tail", "200", "agent"])
            await onLine(output.stdout)
            if !output.stderr.isEmpty { await onLine(output.stderr) }
        }
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
