import ArgumentParser
import Fleet
import FleetCore

struct Build: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the runner image from a freshly written deploy directory.",
        discussion: """
            ssh: the directory is synced over SFTP and built on the host. local: the .env the compose \
            file names is written first (mode 0600, what deploy writes). Prints nothing on success.
            """)

    @OptionGroup var cloud: CloudOptions
    @OptionGroup var hostKeys: HostKeyOptions

    func run() async throws { try await DeployDirectoryStep.build.run(cloud, hostKeys) }
}

struct Deploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start or replace the runner with the configured secrets.",
        discussion: """
            Secret values come from the local environment (unset counts as empty; Railway refuses \
            empty values). ssh writes them to a mode-0600 .env through standard input. Prints \
            nothing on success.
            """)

    @OptionGroup var cloud: CloudOptions
    @OptionGroup var hostKeys: HostKeyOptions

    func run() async throws { try await DeployDirectoryStep.deploy.run(cloud, hostKeys) }
}

/// Build and deploy both hand the runner a freshly written deploy directory.
private enum DeployDirectoryStep {
    case build, deploy

    func run(_ cloud: CloudOptions, _ hostKeys: HostKeyOptions) async throws {
        try await ProjectSession.run(cloud, hostKeys) { project in
            try await project.withDeployDirectory { directory throws(FleetError) in
                switch self {
                case .build:
                    try await project.runner.build(deployDirectory: directory, secrets: project.secretValues)
                case .deploy:
                    try await project.runner.deploy(deployDirectory: directory, secrets: project.secretValues)
                }
            }
        }
    }
}

struct Down: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop the runner without deleting its data.")

    @OptionGroup var cloud: CloudOptions
    @OptionGroup var hostKeys: HostKeyOptions

    func run() async throws {
        try await ProjectSession.run(cloud, hostKeys) { project in try await project.runner.down() }
    }
}

struct Destroy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tear the runner down and delete its volume.",
        discussion: "Asks for confirmation on standard input unless --yes is given. Markers are kept.")

    @OptionGroup var cloud: CloudOptions
    @OptionGroup var hostKeys: HostKeyOptions

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    func run() async throws {
        try await reportingErrors(redactor: ProjectSession.redactor(for: cloud)) {
            // The prelude (spec, provider CLI) runs before the prompt, as in the reference (§1.1).
            try await ProjectSession.with(cloud, hostKeys) { project in
                let volume = project.cloud.resources.volume
                if !yes {
                    Output.stdout(
                        "Destroy cloud deployment and delete volume \(pythonRepr(volume ?? "<no volume>"))? [y/N]: "
                    )
                    // End of input counts as "no" (the reference crashed there, §12.4).
                    let answer = (readLine() ?? "").trimmed.lowercased()
                    guard answer == "y" || answer == "yes" else { throw ExitCode(1) }
                }
                try await project.runner.destroy(volume: volume)
                if let directory = project.persistentDeployDirectory { TemporaryDirectory.remove(directory) }
            }
        }
    }
}
