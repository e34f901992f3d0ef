import FleetCore
import SSHClient
import Transport

/// How SSH hosts are trusted, as the command line chose (each nil when not given): resolved here
/// against `$MEGAPLAN_FLEET_KNOWN_HOSTS` and the fleet file's defaults, for single-project
/// commands and fleets alike.
public struct SSHClientChoice: Sendable {
    public var knownHosts: String?
    public var hostKeyPolicy: HostKeyPolicy?
    public var sshConfig: String?

    public init(knownHosts: String? = nil, hostKeyPolicy: HostKeyPolicy? = nil, sshConfig: String? = nil) {
        self.knownHosts = knownHosts
        self.hostKeyPolicy = hostKeyPolicy
        self.sshConfig = sshConfig
    }

    /// The pool's configuration: the choice, else the environment, else the fleet file's defaults.
    public func configuration(fleetDefaults: FleetFile.Defaults? = nil) -> SSHConfiguration {
        var configuration = SSHConfiguration()
        let environment = ProcessEnvironment.current["MEGAPLAN_FLEET_KNOWN_HOSTS"].flatMap {
            $0.isEmpty ? nil : $0
        }
        if let path = knownHosts ?? environment ?? fleetDefaults?.knownHosts {
            configuration.knownHostsPath = FileSystem.resolve(path)
            configuration.knownHostsChosen = true
        }
        configuration.clientConfigFiles =
            SSHConfigResolver.standard(path: sshConfig ?? fleetDefaults?.sshConfig).files
        configuration.hostKeyPolicyChosen =
            hostKeyPolicy != nil || fleetDefaults?.hostKeyPolicyIsExplicit == true
        configuration.hostKeyPolicy = hostKeyPolicy ?? fleetDefaults?.hostKeyPolicy ?? .strict
        if let defaults = fleetDefaults { configuration.connectionsPerHost = defaults.connectionsPerHost }
        return configuration
    }
}
