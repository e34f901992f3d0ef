import ArgumentParser
import Fleet
import FleetCore

struct Chain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Upload a chain spec and its idea files, and start the chain in tmux on the runner.",
        discussion: """
            Prints the launch command's output (redacted), then the provenance JSON, and records \
            the marker that status and supervise read.
            """)

    @Argument(help: ArgumentHelp("The local chain spec.", valueName: "spec"))
    var spec: String

    @Option(
        help: ArgumentHelp(
            "Directory holding the milestones' idea files (default: the spec's directory).", valueName: "dir")
    )
    var ideaDir: String?

    @OptionGroup var project: DeployedProjectOptions

    func run() async throws {
        try await project.run { project in
            let result = try await ChainLauncher(project: project).launch(
                specPath: spec, ideaDirectory: ideaDir)
            ProjectSession.relay(result.launchOutput, project.redactor)
            Output.document(.object(result.provenance), redactor: project.redactor)
        }
    }
}

struct Bootstrap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start one plan on the runner from a local idea file (megaplan init --auto-start).")

    @Argument(help: ArgumentHelp("The local idea file.", valueName: "idea-file"))
    var ideaFile: String

    @Option(help: ArgumentHelp("Plan name passed as --name.", valueName: "name"))
    var planName: String?

    @Option(help: ArgumentHelp("Robustness passed to megaplan init.", valueName: "level"))
    var robustness = "standard"

    @OptionGroup var project: DeployedProjectOptions

    func run() async throws {
        try await project.run { project in
            try await PlanCommands.bootstrap(
                project, ideaFile: ideaFile, planName: planName, robustness: robustness
            ) { output in ProjectSession.relay(output, project.redactor) }
        }
    }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the plan's next step (from megaplan status) on the runner.")

    @Option(help: ArgumentHelp("The plan to resume.", valueName: "plan"))
    var plan: String?

    @OptionGroup var cloud: CloudOptions
    @OptionGroup var hostKeys: HostKeyOptions

    func run() async throws {
        try await ProjectSession.run(cloud, hostKeys) { project in
            ProjectSession.relay(try await PlanCommands.resume(project, plan: plan), project.redactor)
        }
    }
}

/// The options of a command that starts work on the runner from local files (`chain`,
/// `bootstrap`): the project, how hosts are trusted, and the repository overrides.
struct DeployedProjectOptions: ParsableArguments {
    @OptionGroup var repo: RepoOverrides
    @OptionGroup var cloud: CloudOptions
    @OptionGroup var hostKeys: HostKeyOptions

    /// Runs `body` on the project once its deploy directory is rendered (errors redacted).
    func run(_ body: (ProjectEnvironment) async throws -> Void) async throws {
        try await ProjectSession.run(cloud, hostKeys, overrides: repo) { project in
            try await project.withDeployDirectory { _ throws(FleetError) in }
            try await body(project)
        }
    }
}

/// `--repo-url`, `--repo-branch`, `--repo-workspace`: in-memory overrides for `chain` and
/// `bootstrap` (§1.1 step 2); cloud.yaml on disk is never rewritten.
struct RepoOverrides: ParsableArguments {
    @Option(help: ArgumentHelp("Repository URL to use instead of repo.url.", valueName: "url"))
    var repoURL: String?

    @Option(help: ArgumentHelp("Branch to use instead of repo.branch.", valueName: "branch"))
    var repoBranch: String?

    @Option(
        help: ArgumentHelp("Absolute workspace path to use instead of repo.workspace.", valueName: "path"))
    var repoWorkspace: String?

    func apply(to spec: inout CloudSpec) throws(FleetError) {
        if let repoURL, !repoURL.isEmpty { spec.repo.url = repoURL }
        if let repoBranch, !repoBranch.isEmpty { spec.repo.branch = repoBranch }
        for (label, value) in [("repo.url", spec.repo.url), ("repo.branch", spec.repo.branch)] {
            if let problem = CloudSpec.Repo.optionLike(value, label: label) {
                throw FleetError(.invalidSpec, problem)
            }
        }
        if let repoWorkspace {
            guard !repoWorkspace.isBlank else {
                throw FleetError(.invalidSpec, "`repo.workspace` must be a non-empty string")
            }
            guard repoWorkspace.hasPrefix("/") else {
                throw FleetError(
                    .invalidSpec,
                    "`repo.workspace` must be an absolute POSIX path; got \(pythonRepr(repoWorkspace))")
            }
            spec.repo.workspace = PosixPath.normalize(repoWorkspace)
        }
    }
}
