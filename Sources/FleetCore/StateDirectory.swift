/// Where runs keep what they remember between them: per-chain markers, locks, the digests of chain
/// specs already validated, and each project's status history. `~/.megaplan` by default, shared
/// with the Python tool's markers; fleet runs can be given another (`--state-dir`,
/// `$MEGAPLAN_FLEET_STATE_DIR`, `defaults.state_dir`), for instance a persistent volume when HOME
/// is thrown away after every run.
public struct StateDirectory: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    /// Every directory below this one, down to a file the tool writes, must be ours and private
    /// (`FileSystem.secureDirectory`). A directory given explicitly is the operator's (a volume's
    /// mount point may belong to a group) and is itself left as it is; `~/.megaplan` is ours.
    public var checkedBelow: String

    public init(path: String) {
        self.path = path
        checkedBelow = path
    }

    /// `<home>/.megaplan`, the reference's location.
    public init(home: String = FileSystem.homeDirectory()) {
        path = home + "/.megaplan"
        checkedBelow = home
    }

    public var description: String { path }

    /// The environment variable that names a state directory for fleet runs.
    public static let environmentVariable = "MEGAPLAN_FLEET_STATE_DIR"

    /// The option, else the environment, else the fleet file's `defaults.state_dir`, else
    /// `<home>/.megaplan`.
    public static func resolve(
        option: String?, environment: [String: String], fleetDefault: String?,
        home: String = FileSystem.homeDirectory()
    ) -> StateDirectory {
        let fromEnvironment = environment[environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
        if let chosen = option ?? fromEnvironment { return StateDirectory(path: FileSystem.resolve(chosen)) }
        return fleetDefault.map(StateDirectory.init(path:)) ?? StateDirectory(home: home)
    }

    /// `cloud/markers/<K>/`, K = the first 16 hex characters of the SHA-256 of the resolved
    /// cloud.yaml path (§4.8): the chain marker, its lock, the validated spec and the history.
    public func markerDirectory(forCloudYAML resolvedPath: String) -> String {
        let key = String(Digest.sha256Hex(resolvedPath).prefix(16))
        return "\(path)/cloud/markers/\(key)"
    }

    /// The chain's lock (`supervise.lock` in its marker directory): held by a supervise tick, and
    /// for writing the chain's status history.
    public func chainLock(forCloudYAML resolvedPath: String) -> String {
        markerDirectory(forCloudYAML: resolvedPath) + "/supervise.lock"
    }

    /// `fleet/locks/`: one lock per fleet file and shard.
    public var fleetLocks: String { path + "/fleet/locks" }
}
