import FleetCore
import RunnerProtocol
import SSHClient

/// `provider: railway`: the runner is a Railway service reached through the `railway` CLI
/// (cloud reference §7.2).
public struct RailwayRunner: Runner {
    public let provider = CloudSpec.Provider.railway
    public var hostLabel: String { "railway:\(service)" }
    public var commandCount: Int { counter.count }

    let railway: LocalProgram
    let docker: LocalProgram?
    let service: String
    let session: String
    let project: String?
    let environment: String?
    private let counter = CommandCounter()

    public init(spec: CloudSpec, sessionOverride: String? = nil, searchPath: String? = nil) throws(FleetError)
    {
        let counter = self.counter
        let located = try LocalProgram.locate(
            "railway", install: "https://docs.railway.app/develop/cli", searchPath: searchPath)
        railway = LocalProgram(path: located.path, counter: CommandCountingHook { counter.increment() })
        docker = (try? LocalProgram.locate("docker", install: "", searchPath: searchPath)).map {
            LocalProgram(path: $0.path, counter: CommandCountingHook { counter.increment() })
        }
        service = spec.railway.service
        session = sessionOverride ?? spec.railway.session
        project = spec.railway.project
        environment = spec.railway.environment
    }

    /// Inserts `--environment E` where the reference puts it for each sub-command.
    public static func scoped(_ arguments: [String], environment: String?) -> [String] {
        guard let environment, let first = arguments.first else { return arguments }
        let flag = ["--environment", environment]
        if first == "link" { return arguments + flag }
        if arguments.count >= 2, first == "service", arguments[1] == "status" {
            return Array(arguments[..<2]) + flag + Array(arguments[2...])
        }
        if ["down", "logs", "ssh", "up", "variables", "volume"].contains(first) {
            return [first] + flag + Array(arguments.dropFirst())
        }
        return arguments
    }

    func railwayRun(
        _ arguments: [String], stdin: [UInt8]? = nil, workingDirectory: String? = nil,
        outputLimit: Int = OutputLimits.capture
    ) async throws(FleetError) -> RunnerOutput {
        try await railway.run(
            Self.scoped(arguments, environment: environment), stdin: stdin,
            workingDirectory: workingDirectory,
            outputLimit: outputLimit)
    }

    func railwayChecked(_ arguments: [String], workingDirectory: String? = nil) async throws(FleetError)
        -> RunnerOutput
    {
        let scoped = Self.scoped(arguments, environment: environment)
        return try await railway.run(scoped, workingDirectory: workingDirectory).checked(
            orElse: railway.failure(scoped))
    }

    public func run(_ command: String, stdin: [UInt8]?, deadline: Duration?, outputLimit: Int?)
        async throws(FleetError) -> RunnerOutput
    {
        try await railwayRun(
            ["ssh", "--service", service, "--", command], stdin: stdin,
            outputLimit: outputLimit ?? OutputLimits.capture)
    }

    public func referenceArgv(_ command: String) -> [String] {
        [railway.path] + Self.scoped(["ssh", "--service", service, "--", command], environment: environment)
    }

    /// The payload travels in a heredoc inside the one `railway ssh` argument, as in the reference
    /// (§7.2): `railway ssh` is not known to forward standard input to the remote command. One
    /// argument is limited to 128 KiB on Linux, so idea files and specs must stay under ~96 KiB.
    public func upload(_ bytes: [UInt8], to path: String) async throws(FleetError) {
        _ = try await exec(RemoteCommands.heredocUpload(to: path, base64: Base64.encode(bytes)))
    }

    public func build(deployDirectory: String, secrets: [(name: String, value: String)])
        async throws(FleetError)
    {
        guard let docker else {
            throw FleetError(
                .providerUnavailable,
                "Missing required CLI 'docker'. Install: https://docs.docker.com/get-docker/")
        }
        let arguments = ["build", "-t", "megaplan-cloud-\(service)", deployDirectory]
        _ = try await docker.run(arguments).checked(
            orElse: "Command failed: docker " + arguments.joined(separator: " "))
    }

    public func deploy(deployDirectory: String, secrets: [(name: String, value: String)])
        async throws(FleetError)
    {
        let empty = secrets.filter { $0.value.isEmpty }.map(\.name)
        if !empty.isEmpty {
            throw FleetError(.missingSecrets, "Missing required secrets: \(empty.joined(separator: ", "))")
        }
        if let project {
            _ = try await railwayChecked(["link", "--project", project], workingDirectory: deployDirectory)
            let status = try await railwayChecked(
                ["service", "status", "--all", "--json"], workingDirectory: deployDirectory)
            guard Self.serviceListed(service, in: status.stdout) else {
                throw FleetError(
                    .railwayServiceMissing,
                    "Railway service '\(service)' was not found after project link. Run this command from the deploy directory, then rerun deploy: railway add --service \(ShellQuote.quote(service))"
                )
            }
        }
        // The Railway CLI takes variable values only as arguments (`--set NAME=value`), so each
        // value is briefly visible in this machine's process list; the README says so.
        for secret in secrets {
            _ = try await railwayChecked(
                ["variables", "--service", service, "--set", "\(secret.name)=\(secret.value)"],
                workingDirectory: deployDirectory)
        }
        _ = try await railwayChecked(
            ["up", "--service", service, "--detach", "--ci"], workingDirectory: deployDirectory)
    }

    /// The service check after `railway link` (§7.2).
    public static func serviceListed(_ service: String, in text: String) -> Bool {
        func matches(_ item: JSONValue) -> Bool {
            item.stringValue == service || item["name"]?.stringValue == service
        }
        if let parsed = try? JSONValue.parse(text) {
            if let items = parsed.arrayValue, items.contains(where: matches) { return true }
            if let items = parsed["services"]?.arrayValue, items.contains(where: matches) { return true }
            if parsed["name"]?.stringValue == service { return true }
        }
        return text.split(whereSeparator: \.isNewline).contains { rawLine in
            let line = String(rawLine).trimmed
            return line == service || line.hasPrefix(service + " ") || line.contains(" \(service) ")
        }
    }

    /// A non-zero exit is `provider_failed` naming the command (§1.9); stderr went to the terminal.
    public func attach() async throws(FleetError) -> Int32 {
        let arguments = Self.scoped(
            ["ssh", "--service", service, "--session", session], environment: environment)
        return try await railway.attach(arguments)
    }

    public func logs(follow: Bool, onLine: @escaping @Sendable (String) async -> Void)
        async throws(FleetError)
    {
        if follow {
            try await railway.follow(
                Self.scoped(["logs", "--service", service], environment: environment), onLine: onLine)
        } else {
            let output = try await railwayChecked(["logs", "--service", service, "--lines", "200"])
            await onLine(output.stdout)
            if !output.stderr.isEmpty { await onLine(output.stderr) }
        }
    }

    public func down() async throws(FleetError) {
        _ = try await railwayChecked(["down", "--service", service])
    }

    public func destroy(volume: String?) async throws(FleetError) {
        _ = try await railwayChecked(["down", "--service", service])
        if let volume { _ = try await railwayChecked(["volume", "delete", volume]) }
    }
}
