import Fleet
import FleetCore
import Transport

#if canImport(Glibc)
    import Glibc
#endif

/// Loads one project and gives a command its runner, then shuts the SSH pool down on every path,
/// so no I/O thread is inside libssh2 when the process exits.
enum ProjectSession {
    static func with<T>(
        _ cloud: CloudOptions, _ hostKeys: HostKeyOptions, sessionOverride: String? = nil,
        overrides: RepoOverrides? = nil, _ body: (ProjectEnvironment) async throws -> T
    ) async throws -> T {
        var spec = try CloudSpec.load(path: cloud.resolvedPath)
        try overrides?.apply(to: &spec)
        let pool = SSHPool(configuration: hostKeys.configuration())
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

    /// The redactor for a cloud.yaml that may not load (errors are redacted for token shapes).
    static func redactor(for cloud: CloudOptions) -> Redactor {
        guard let spec = try? CloudSpec.load(path: cloud.resolvedPath) else { return .shapesOnly }
        return Redactor(secretNames: spec.secrets, environment: ProcessEnvironment.current)
    }

    /// Writes relayed remote output, redacted (§1.16).
    static func relay(_ output: RelayedOutput, _ redactor: Redactor) {
        if !output.stdout.isEmpty { Output.remote(output.stdout, to: STDOUT_FILENO, redactor: redactor) }
        if !output.stderr.isEmpty { Output.remote(output.stderr, to: STDERR_FILENO, redactor: redactor) }
    }
}
