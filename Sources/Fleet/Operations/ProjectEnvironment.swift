import FleetCore
import SSHClient
import Transport

/// Everything a single-project operation needs: the validated cloud.yaml, its runner, the
/// redactor built from its secrets, and the local directories the reference uses.
public struct ProjectEnvironment: Sendable {
    public let cloud: CloudSpec
    public let runner: any Runner
    public let redactor: Redactor
    public let environment: [String: String]
    public let root: String
    public let home: String

    public init(
        cloud: CloudSpec, runner: any Runner, environment: [String: String], root: String,
        home: String = FileSystem.homeDirectory()
    ) {
        self.cloud = cloud
        self.runner = runner
        self.environment = environment
        self.redactor = Redactor(secretNames: cloud.secrets, environment: environment)
        self.root = root
        self.home = home
    }

    /// Loads the project's cloud.yaml (`adjust` may override it in memory), gives `body` its
    /// runner, then shuts the SSH pool down on every path, so no I/O thread is inside libssh2 when
    /// the process exits.
    public static func with<T>(
        cloudYAML path: String, ssh: SSHConfiguration, sessionOverride: String? = nil,
        adjust: (inout CloudSpec) throws -> Void = { _ in }, _ body: (ProjectEnvironment) async throws -> T
    ) async throws -> T {
        var spec = try CloudSpec.load(path: path)
        try adjust(&spec)
        let pool = SSHPool(configuration: ssh)
        do {
            let runner = try RunnerFactory.make(for: spec, pool: pool, sessionOverride: sessionOverride)
            let project = ProjectEnvironment(
                cloud: spec, runner: runner, environment: ProcessEnvironment.current, root: ProjectRoot.find()
            )
            let result = try await body(project)
            await pool.shutdown()
            return result
        } catch {
            await pool.shutdown()
            throw error
        }
    }

    /// The persistent deploy directory of local and ssh (§4.9); nil for Railway, which uses a
    /// temporary one.
    public var persistentDeployDirectory: String? {
        switch cloud.provider {
        case .railway: nil
        case .local: "\(home)/.megaplan/cloud/\(cloud.local?.composeProject ?? "megaplan-cloud")"
        case .ssh: "\(home)/.megaplan/cloud/ssh-\(cloud.ssh?.host ?? "localhost")"
        }
    }

    /// Materializes the deploy directory (§8.1) and runs `body` with it; a Railway temporary
    /// directory is removed afterwards.
    public func withDeployDirectory<T>(_ body: (String) async throws(FleetError) -> T)
        async throws(FleetError) -> T
    {
        if let directory = persistentDeployDirectory {
            try DeployDirectory.materialize(cloud, into: directory, below: home)
            return try await body(directory)
        }
        let directory = try TemporaryDirectory.make(prefix: "megaplan-cloud-")
        defer { TemporaryDirectory.remove(directory) }
        try DeployDirectory.materialize(cloud, into: directory)
        return try await body(directory)
    }

    /// `secrets` names with their local values (`""` when unset), in order (§1.4).
    public var secretValues: [(name: String, value: String)] {
        cloud.secrets.map { ($0, environment[$0] ?? "") }
    }
}

/// Output to relay to the user after redaction (§1.16).
public struct RelayedOutput: Sendable, Equatable {
    public var stdout: String
    public var stderr: String

    public init(stdout: String = "", stderr: String = "") {
        self.stdout = stdout
        self.stderr = stderr
    }

    init(_ output: RunnerOutput) { self.init(stdout: output.stdout, stderr: output.stderr) }
}
