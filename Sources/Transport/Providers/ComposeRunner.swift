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
    }

    var composeFile: String { deployDirectory + "/docker-compose.yaml" }

    /// `docker compose -p P -f F <args>`, falling back to `docker-compose` when this docker has no
    /// compose plugin.
    func compose(_ arguments: [String], stdin: [UInt8]? = nil, outputLimit: Int = OutputLimits.capture)
        async throws(FleetError) -> RunnerOutput
    {
        try FileSystem.makeDirectories(deployDirectory)
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

    public func run(_ command: String, stdin: [UInt8]?, deadline: Duration?, outputLimit: Int)
        async throws(FleetError) -> RunnerOutput
    {
        try await compose(
            ["exec", "-T", "agent", "bash", "-lc", command], stdin: stdin, outputLimit: outputLimit)
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
        try FileSystem.writeAtomically(
            self.deployDirectory + "/.env", text: EnvFile.render(port: port, secrets: secrets), mode: 0o600)
        _ = try await composeChecked(["up", "-d"])
    }

    /// A non-zero exit is `provider_failed` naming the command (§1.9); stderr went to the terminal.
    public func attach() async throws(FleetError) -> Int32 {
        try FileSystem.makeDirectories(deployDirectory)
        let arguments = [
            "compose", "-p", project, "-f", composeFile, "exec", "agent", "tmux", "attach", "-t", "agent",
        ]
        return try await docker.attach(arguments, workingDirectory: deployDirectory)
    }

    public func logs(follow: Bool, onLine: @escaping @Sendable (String) async -> Void)
        async throws(FleetError)
    {
        if follow {
            try FileSystem.makeDirectories(deployDirectory)
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
    public static func render(port: Int, secrets: [(name: String, value: String)]) -> String {
        let lines = ["PORT=\(port)"] + secrets.map { "\($0.name)=\($0.value)" }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Standard base64 without line breaks, as the reference's upload payload (§7.1).
public enum Base64 {
    private static let alphabet = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [18, 12, 6, 0].map { alphabet[Int((value >> $0) & 63)] }
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let value = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            out.append(alphabet[Int((value >> 18) & 63)])
            out.append(alphabet[Int((value >> 12) & 63)])
            out.append(rest == 2 ? alphabet[Int((value >> 6) & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }
}
