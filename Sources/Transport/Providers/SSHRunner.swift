import FleetCore
import RunnerProtocol
import SSHClient

/// `provider: ssh`: a Docker host (or, with `ssh.runtime: host`, a VM that is the runner itself)
/// reached over the shared libssh2 pool (cloud reference §7.4). No `ssh`, `scp` or `rsync`
/// process is ever spawned.
public struct SSHRunner: Runner {
    public let provider = CloudSpec.Provider.ssh
    public var hostLabel: String { endpoint.hostPort }
    public var commandCount: Int { counter.count }

    public let endpoint: SSHEndpoint
    let pool: SSHPool
    let ssh: CloudSpec.SSH
    let workspace: String
    let port: Int
    let cloudPath: String
    private let counter = CommandCounter()

    /// Fails when the pool's ssh_config files are invalid or route the host in a way the tool
    /// does not support (see `SSHEndpoint.resolving`).
    public init(spec: CloudSpec, pool: SSHPool) throws(FleetError) {
        let ssh = spec.ssh ?? CloudSpec.SSH()
        self.ssh = ssh
        self.pool = pool
        endpoint = try SSHEndpoint.resolving(ssh, configuration: pool.configuration)
        workspace = spec.repo.workspace
        port = spec.resources.port
        cloudPath = spec.path
    }

    /// A command line as the host runs it: inside the container with a login shell (§7.4), or in
    /// a login shell on the host itself.
    func wrapped(_ command: String, interactiveInput: Bool) -> String {
        switch ssh.runtime {
        case .docker:
            HostCommands.inContainer(command, container: ssh.container, interactiveInput: interactiveInput)
        case .host: HostCommands.inLoginShell(command)
        }
    }

    /// `ssh -p PORT [-i KEY] TARGET`: the reference's transport and target (§7.4), for messages.
    var referenceTransport: [String] {
        ["ssh", "-p", String(ssh.port)] + (ssh.identityFile.map { ["-i", $0] } ?? [])
            + [ssh.user.map { "\($0)@\(ssh.host)" } ?? ssh.host]
    }

    public func referenceArgv(_ command: String) -> [String] {
        referenceTransport + [wrapped(command, interactiveInput: false)]
    }

    /// `Command failed: <argv>` (§0.5) for a command run on the host itself.
    func hostFailureMessage(_ command: String) -> String {
        "Command failed: " + (referenceTransport + [command]).joined(separator: " ")
    }

    /// Runs a command on the host itself (not in the runner), counting it. `outputLimit` nil is
    /// the pool's `defaultOutputLimit` (`OutputLimits.capture` unless configured).
    func hostRun(
        _ command: String, stdin: [UInt8]? = nil, deadline: Duration? = nil, outputLimit: Int? = nil
    ) async throws(FleetError) -> RunnerOutput {
        counter.increment()
        do {
            let result = try await pool.run(
                command, on: endpoint, stdin: stdin, deadline: deadline, outputLimit: outputLimit)
            return RunnerOutput(
                status: result.exitStatus, stdout: result.stdoutText, stderr: result.stderrText)
        } catch {
            throw Self.fleetError(error)
        }
    }

    func hostExec(_ command: String, stdin: [UInt8]? = nil) async throws(FleetError) -> RunnerOutput {
        let output = try await hostRun(command, stdin: stdin)
        return try output.checked(orElse: hostFailureMessage(command))
    }

    /// `doctor`'s look at the runner: its programs and workspace (inside the container for the
    /// docker runtime), and for that runtime Docker on the host. Two remote commands at most.
    public func check(deadline: Duration) async throws(FleetError) -> [RunnerCheck.Result] {
        let programs = RunnerCheck.programs
        let output = try await run(
            RunnerCheck.command(programs: programs, workspace: workspace), stdin: nil, deadline: deadline,
            outputLimit: 64 << 10)
        var results = RunnerCheck.parse(
            stdout: output.stdout, status: output.status, stderr: output.stderr,
            names: programs.map(\.name) + ["workspace"])
        if ssh.runtime == .docker {
            let docker = [RunnerCheck.Program("docker", "--version")]
            let host = try await hostRun(
                RunnerCheck.command(programs: docker, workspace: nil), deadline: deadline,
                outputLimit: 64 << 10)
            results += RunnerCheck.parse(
                stdout: host.stdout, status: host.status, stderr: host.stderr, names: ["docker"])
        }
        return results
    }

    /// Maps a transport failure to the fleet's stable error kinds.
    public static func fleetError(_ error: SSHError) -> FleetError {
        let kind: FleetError.Kind? =
            switch error.kind {
            case .cancelled: nil
            case .unreachable, .connectionLost: .unreachable
            case .timedOut: .timeout
            case .authFailed: .authFailed
            case .hostKeyUnknown: .hostKeyUnknown
            case .hostKeyChanged: .hostKeyChanged
            case .hostKeyRevoked: .hostKeyRevoked
            case .commandFailed, .protocolError: .remoteError
            }
        return FleetError(.providerFailed, error.message, kind: kind)
    }

    func requireDocker(_ action: String) throws(FleetError) {
        guard ssh.runtime == .docker else {
            throw FleetError(
                .invalidArgs,
                "`\(action)` needs the docker runtime, but ssh.runtime is 'host' in \(cloudPath): the host is the runner, so there is no container to \(action == "build" ? "build" : "manage")"
            )
        }
    }

    public func run(_ command: String, stdin: [UInt8]?, deadline: Duration?, outputLimit: Int?)
        async throws(FleetError) -> RunnerOutput
    {
        try await hostRun(
            wrapped(command, interactiveInput: stdin != nil), stdin: stdin, deadline: deadline,
            outputLimit: outputLimit)
    }

    public func upload(_ bytes: [UInt8], to path: String) async throws(FleetError) {
        _ = try await exec(RemoteCommands.upload(to: path), stdin: Array(Base64.encode(bytes).utf8))
    }

    /// Replaces `remote_dir` with the deploy directory, as the reference does, then builds the
    /// image. The tree is uploaded over SFTP (no rsync/scp process) into a sibling staging
    /// directory and swapped in with renames, so `remote_dir` holds either the old tree or the new
    /// one, never a mix, and keeps no file the new tree lacks (a `.env` is written again by
    /// `deploy`).
    public func build(deployDirectory: String, secrets: [(name: String, value: String)])
        async throws(FleetError)
    {
        try requireDocker("build")
        let id = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let staging = ssh.remoteDir + ".megaplan-sync-" + id
        counter.increment()
        do throws(SSHError) {
            try await pool.uploadDirectory(localPath: deployDirectory, to: staging, on: endpoint)
        } catch {
            _ = try? await hostRun(HostCommands.removeTree(staging))
            throw Self.fleetError(error)
        }
        _ = try await hostExec(
            HostCommands.replaceDirectory(
                ssh.remoteDir, with: staging, aside: ssh.remoteDir + ".megaplan-old-" + id))
        _ = try await hostExec(HostCommands.build(container: ssh.container, remoteDir: ssh.remoteDir))
    }

    /// Secrets travel on stdin into a 0600 `.env` file; they never appear in a command line.
    public func deploy(deployDirectory: String, secrets: [(name: String, value: String)])
        async throws(FleetError)
    {
        try requireDocker("deploy")
        let envText = try EnvFile.render(port: port, secrets: secrets)
        _ = try await hostExec(
            HostCommands.writeEnvFile(remoteDir: ssh.remoteDir), stdin: Array(envText.utf8))
        _ = try await hostExec(HostCommands.removeContainer(ssh.container))
        _ = try await hostExec(HostCommands.runContainer(ssh.container, remoteDir: ssh.remoteDir, port: port))
    }

    /// A PTY is requested, so tmux gets a real terminal (the reference requested none).
    public func attach() async throws(FleetError) -> Int32 {
        let command = HostCommands.attach(container: ssh.runtime == .docker ? ssh.container : nil)
        counter.increment()
        let status: Int32
        do throws(SSHError) {
            status = try await pool.interactive(command, on: endpoint)
        } catch {
            throw Self.fleetError(error)
        }
        // A non-zero exit is `provider_failed` naming the command (§1.9); its stderr went to the terminal.
        guard status == 0 else {
            throw FleetError(.providerFailed, hostFailureMessage(command))
        }
        return 0
    }

    public func logs(follow: Bool, onLine: @escaping @Sendable (String) async -> Void)
        async throws(FleetError)
    {
        let command =
            switch ssh.runtime {
            case .docker: HostCommands.containerLogs(ssh.container, follow: follow)
            case .host: HostCommands.chainLog(workspace: workspace, follow: follow)
            }
        if follow {
            counter.increment()
            let status: Int32
            do {
                status = try await pool.stream(command, on: endpoint, onLine: onLine)
            } catch let error as SSHError {
                throw Self.fleetError(error)
            } catch is CancellationError {
                return
            } catch {
                throw FleetError(.providerFailed, "logs from \(hostLabel) failed: \(error)")
            }
            if status != 0 {
                throw FleetError(.providerFailed, hostFailureMessage(command))
            }
        } else {
            let output = try await hostExec(command)
            await onLine(output.stdout)
            if !output.stderr.isEmpty { await onLine(output.stderr) }
        }
    }

    public func down() async throws(FleetError) {
        try requireDocker("down")
        _ = try await hostExec(HostCommands.stopContainer(ssh.container))
    }

    public func destroy(volume: String?) async throws(FleetError) {
        try requireDocker("destroy")
        _ = try await hostExec(HostCommands.destroy(container: ssh.container, remoteDir: ssh.remoteDir))
    }
}
