import ArgumentParser
import FleetCore

/// `megaplan-fleet ssh-config HOST`: how the OpenSSH client configuration resolves a host, in
/// `ssh -G`'s format, so a platform engineer can compare it with what ssh would do.
struct SSHConfigShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ssh-config",
        abstract: "Print how ssh_config resolves a host, in the format of `ssh -G`.",
        discussion: """
            Reads ~/.ssh/config then /etc/ssh/ssh_config (or --ssh-config) and prints one \
            `keyword value` line for each keyword megaplan-fleet honours, with OpenSSH's defaults. \
            Keywords that change security and are not honoured are listed on stderr.
            """
    )

    @Argument(help: "The destination: a host name or an alias from the configuration.")
    var host: String

    @Option(
        help: ArgumentHelp(
            "Configuration file to read instead of ~/.ssh/config and /etc/ssh/ssh_config; none reads neither.",
            valueName: "path"))
    var sshConfig: String?

    @Option(help: ArgumentHelp("Remote user, as `ssh -l` (wins over the configuration).", valueName: "user"))
    var user: String?

    @Option(help: ArgumentHelp("Port, as `ssh -p` (wins over the configuration).", valueName: "port"))
    var port: Int?

    func run() async throws {
        try await reportingErrors {
            if let port, !CloudSpec.SSH.portRange.contains(port) {
                throw FleetError(.invalidArgs, "--port must be a port number from 1 to 65535; got \(port)")
            }
            let context = SSHConfigResolver.Context.current
            let settings = try SSHConfigResolver.standard(path: sshConfig, context: context)
                .resolve(host: host, user: user, port: port)
            Output.stdout(try settings.openSSHLines(context: context).joined(separator: "\n") + "\n")
            for keyword in settings.unsupported {
                Output.stderr("megaplan-fleet does not honour \(keyword)\n")
            }
        }
    }
}
