import ArgumentParser
import Fleet
import FleetCore

/// `--cloud-yaml`, shared by every single-project command.
struct CloudOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The project's cloud.yaml (default: cloud.yaml at the project root).", valueName: "path"))
    var cloudYAML: String?

    var resolvedPath: String { ProjectRoot.cloudYAMLPath(cloudYAML) }
}

/// `--remote-spec`, shared by the two commands that read a chain (`status --chain`, `supervise`).
struct ChainSpecOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Remote chain spec path (default: from the marker or chain.spec).", valueName: "path"))
    var remoteSpec: String?
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

    @Option(
        help: ArgumentHelp(
            "OpenSSH client configuration to read instead of ~/.ssh/config and /etc/ssh/ssh_config (default: the fleet file's defaults.ssh_config); none reads neither.",
            valueName: "path"))
    var sshConfig: String?

    var choice: SSHClientChoice {
        SSHClientChoice(knownHosts: knownHosts, hostKeyPolicy: hostKeyPolicy, sshConfig: sshConfig)
    }
}
