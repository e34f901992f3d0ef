import FleetCore
import SSHClient

/// Builds the runner for a cloud.yaml (the prelude of cloud reference §1.1, step 3). SSH runners
/// share the caller's pool, so projects on one host share its connections.
public enum RunnerFactory {
    public static func make(
        for spec: CloudSpec, pool: @autoclosure () -> SSHPool, sessionOverride: String? = nil,
        home: String = FileSystem.homeDirectory()
    ) throws(FleetError) -> any Runner {
        if sessionOverride != nil, spec.provider != .railway {
            throw FleetError(.invalidArgs, "--session is only supported for provider: railway")
        }
        switch spec.provider {
        case .railway: return try RailwayRunner(spec: spec, sessionOverride: sessionOverride)
        case .local: return try ComposeRunner(spec: spec, home: home)
        case .ssh: return try SSHRunner(spec: spec, pool: pool())
        }
    }
}
