import Fleet
import FleetCore

#if canImport(Glibc)
    import Glibc
#endif

/// The single-project commands' options turned into a project (`ProjectEnvironment.with`), and
/// their redacted output.
enum ProjectSession {
    static func with<T>(
        _ cloud: CloudOptions, _ hostKeys: HostKeyOptions, sessionOverride: String? = nil,
        overrides: RepoOverrides? = nil, _ body: (ProjectEnvironment) async throws -> T
    ) async throws -> T {
        try await ProjectEnvironment.with(
            cloudYAML: cloud.resolvedPath, ssh: hostKeys.choice.configuration(),
            sessionOverride: sessionOverride,
            adjust: { try overrides?.apply(to: &$0) }, body)
    }

    /// A single-project command's whole run: the project opened for `body`, and any error reported
    /// redacted with the project's secrets.
    static func run(
        _ cloud: CloudOptions, _ hostKeys: HostKeyOptions, overrides: RepoOverrides? = nil,
        _ body: (ProjectEnvironment) async throws -> Void
    ) async throws {
        try await reportingErrors(redactor: redactor(for: cloud)) {
            try await with(cloud, hostKeys, overrides: overrides, body)
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
