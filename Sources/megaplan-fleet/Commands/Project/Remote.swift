import ArgumentParser
import Fleet
import FleetCore

#if canImport(Glibc)
    import Glibc
#endif

struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one shell command line inside the runner and relay its output, redacted.")

    @Argument(help: ArgumentHelp("The command line, as one argument.", valueName: "command"))
    var command: String

    @OptionGroup var cloud: CloudOptions
    @OptionGroup var hostKeys: HostKeyOptions

    func run() async throws {
        try await ProjectSession.run(cloud, hostKeys) { project in
            let output = try await project.runner.exec(command)
            ProjectSession.relay(
                RelayedOutput(stdout: output.stdout, stderr: output.stderr), project.redactor)
        }
    }
}

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream the runner's logs, redacted line by line.",
        discussion:
            "Follows until interrupted (Ctrl-C ends it cleanly); --no-follow prints the last 200 lines.")

    @Flag(help: "Print the recent logs and exit instead of following.")
    var noFollow = false

    @OptionGroup var cloud: CloudOptions
    @OptionGroup var hostKeys: HostKeyOptions

    func run() async throws {
        let (cloud, hostKeys, follow) = (self.cloud, self.hostKeys, !noFollow)
        try await reportingErrors(redactor: ProjectSession.redactor(for: cloud)) {
            do {
                try await Interrupts.cancellable {
                    try await ProjectSession.with(cloud, hostKeys) { project in
                        let redactor = project.redactor
                        try await project.runner.logs(follow: follow) { line in
                            Output.remote(line, to: STDOUT_FILENO, redactor: redactor)
                        }
                    }
                }
            } catch is CancellationError {
            } catch  where Interrupts.exitStatus != nil {
                // Interrupted: whatever the log program did on its way down is not an error.
            }
        }
        if let status = Interrupts.exitStatus { throw ExitCode(status) }
    }
}

struct Attach: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Attach your terminal to the runner's agent tmux session.",
        discussion: """
            Raw by design: the terminal is connected straight to the session, so nothing is \
            redacted. ssh requests a PTY; --session is for Railway only.
            """)

    @Option(help: ArgumentHelp("Railway session to attach to instead of railway.session.", valueName: "name"))
    var session: String?

    @OptionGroup var cloud: CloudOptions
    @OptionGroup var hostKeys: HostKeyOptions

    func run() async throws {
        var status: Int32 = 0
        try await reportingErrors(redactor: ProjectSession.redactor(for: cloud)) {
            status = try await ProjectSession.with(cloud, hostKeys, sessionOverride: session) { project in
                try await project.runner.attach()
            }
        }
        if status != 0 { throw ExitCode(status) }
    }
}

struct Supervise: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One supervisor tick for this project's chain: observe, decide, at most one restart.",
        discussion: """
            Prints the one-line summary on stderr and the report JSON on stdout; exit status 0 when \
            the report's success is true, else 1. Never merges, resets, force-pushes or deletes \
            branches. A tick already running on the same chain makes this one report `skipped: locked`.
            """)

    @Flag(help: "Required: supervise the chain (kept for compatibility with megaplan cloud).")
    var chain = false

    @OptionGroup var chainSpec: ChainSpecOption

    @Flag(help: "Observe and decide, print what would run, change nothing on the runner.")
    var dryRun = false

    @OptionGroup var cloud: CloudOptions
    @OptionGroup var hostKeys: HostKeyOptions

    func run() async throws {
        var success = true
        try await reportingErrors(redactor: ProjectSession.redactor(for: cloud)) {
            // As the reference does, an invalid cloud.yaml is reported before the missing --chain.
            _ = try CloudSpec.load(path: cloud.resolvedPath)
            guard chain else {
                throw FleetError(
                    .invalidArgs,
                    "`cloud supervise` requires --chain. Try `megaplan cloud supervise --chain`.")
            }
            try await ProjectSession.with(cloud, hostKeys) { project in
                let tick = await ProjectOperation(
                    dryRun ? .dryRun : .tick, remoteSpecOverride: chainSpec.remoteSpec
                )
                .run(cloud: project.cloud, runner: project.runner)
                Output.remote(tick.summary, to: STDERR_FILENO, redactor: project.redactor, always: true)
                Output.document(.object(tick.report), redactor: project.redactor)
                success = tick.outcome != .error
            }
        }
        if !success { throw ExitCode(1) }
    }
}
