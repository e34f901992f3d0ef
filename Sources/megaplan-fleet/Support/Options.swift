import ArgumentParser
import FleetCore
import Transport

/// `--cloud-yaml`, shared by every single-project command.
struct CloudOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The project's cloud.yaml (default: cloud.yaml at the project root).", valueName: "path"))
    var cloudYAML: String?

    var resolvedPath: String { ProjectRoot.cloudYAMLPath(cloudYAML) }
}

/// A bad `--host-key-policy` is a usage error naming the option and the accepted values.
extension HostKeyPolicy: ExpressibleByArgument {}

/// How SSH hosts are trusted, shared by every command that may connect.
struct HostKeyOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "known_hosts file to verify host keys against (default: $MEGAPLAN_FLEET_KNOWN_HOSTS, the fleet file's, or ~/.ssh/known_hosts).",
            valueName: "path"))
    var knownHosts: String?

    @Option(
        help: ArgumentHelp(
            "strict refuses unknown and changed host keys; accept-new records unknown keys and still refuses changed ones.",
            valueName: "policy"))
    var hostKeyPolicy: HostKeyPolicy?

    func configuration(fleetDefaults: FleetFile.Defaults? = nil) -> SSHConfiguration {
        var configuration = SSHConfiguration()
        let environment = ProcessEnvironment.current["MEGAPLAN_FLEET_KNOWN_HOSTS"].flatMap {
            $0.isEmpty ? nil : $0
        }
        if let path = knownHosts ?? environment ?? fleetDefaults?.knownHosts {
            configuration.knownHostsPath = FileSystem.resolve(path)
        }
        configuration.hostKeyPolicy = hostKeyPolicy ?? fleetDefaults?.hostKeyPolicy ?? .strict
        if let defaults = fleetDefaults { configuration.connectionsPerHost = defaults.connectionsPerHost }
        return configuration
    }
}
