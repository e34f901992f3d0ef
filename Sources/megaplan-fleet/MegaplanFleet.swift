import ArgumentParser

@main
struct MegaplanFleet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "megaplan-fleet",
        abstract: "Run and supervise megaplan chains on remote runners, one project or a whole fleet.",
        discussion: """
            Single-project commands take --cloud-yaml (default: cloud.yaml at the project root) and \
            print the same JSON as `megaplan cloud`. Errors are one JSON envelope on stdout with a \
            stable `error` code and exit status 1; usage errors exit 64.
            """,
        version: "0.1.0",
        subcommands: [
            Init.self, Validate.self, Build.self, Deploy.self, Chain.self, Bootstrap.self, Status.self,
            Supervise.self, Tick.self, Logs.self, Exec.self, Attach.self, Resume.self, Down.self,
            Destroy.self, SSHConfigShow.self, DoctorCommand.self,
        ]
    )
}
