import ArgumentParser
import Fleet
import FleetCore

#if canImport(Glibc)
    import Glibc
#endif

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a plan's or chain's status on the runner, or the whole fleet's with --all.",
        usage: """
            megaplan-fleet status [--plan <plan>] [--cloud-yaml <path>] [<host-key-options>]
            megaplan-fleet status --chain [--remote-spec <path>] [--cloud-yaml <path>] [<host-key-options>]
            megaplan-fleet status (--all | --project <name>... | --tag <tag>... | --shard <K/N>) [--format jsonl|table] [--outcome <outcome>...] [--status <status>...] [--quiet] [<fleet-options>]
            """,
        discussion: """
            Without --chain: the runner's `megaplan status` JSON. With --chain: the chain status \
            payload on stdout and a readable summary on stderr. With --all (or --project/--tag): \
            one JSON line per project of the fleet file, read-only, then a summary line.
            """)

    @Flag(help: "Report the chain (state, runner, PR, verification) instead of one plan.")
    var chain = false

    @OptionGroup var chainSpec: ChainSpecOption

    @Option(help: ArgumentHelp("The plan to report.", valueName: "plan"))
    var plan: String?

    @OptionGroup var cloud: CloudOptions
    @OptionGroup var hostKeys: HostKeyOptions
    @OptionGroup var fleet: FleetOptions

    func run() async throws {
        if fleet.selectsFleet {
            let code = await FleetCommand.execute(
                .status, options: fleet, hostKeys: hostKeys, dryRun: false, takesLock: false)
            throw ExitCode(code)
        }
        try await ProjectSession.run(cloud, hostKeys) { project in
            if chain {
                let status = await ProjectOperation(.statusRead, remoteSpecOverride: chainSpec.remoteSpec)
                    .run(cloud: project.cloud, runner: project.runner)
                if let failure = status.failure { throw failure }
                Output.remote(status.summary, to: STDERR_FILENO, redactor: project.redactor, always: true)
                Output.document(.object(status.report), redactor: project.redactor)
            } else {
                let payload = try await project.runner.statusPayload(
                    plan: plan, workspace: project.cloud.repo.workspace)
                Output.document(.object(payload), redactor: project.redactor)
            }
        }
    }
}
