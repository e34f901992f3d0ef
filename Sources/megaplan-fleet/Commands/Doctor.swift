import ArgumentParser
import Fleet
import FleetCore

/// `megaplan-fleet doctor`: how each runner host of a project or a fleet is reached and what it
/// has, step by step, so the first failing step is named.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check how each runner host is reached and what it has.",
        discussion: """
            For each ssh runner host of the project (--cloud-yaml, default cloud.yaml at the project \
            root) or of every project of a fleet (--fleet): the route with where each setting came \
            from, the name lookup, the TCP connect and the SSH banner (timed), the host key and its \
            known_hosts line, how the session authenticated (or every method tried and why each \
            failed), and on the runner python3, megaplan, tmux, git, the workspace, and docker for \
            the docker runtime. Exit status: 0 when every host is fully usable, 1 otherwise.
            """
    )

    @Option(help: ArgumentHelp("A fleet file: check every project's runner host.", valueName: "path"))
    var fleet: String?

    @OptionGroup var cloud: CloudOptions
    @OptionGroup var hostKeys: HostKeyOptions

    @Option(help: ArgumentHelp("Seconds each step may take (1 to 600).", valueName: "seconds"))
    var timeout = 15

    @Flag(help: "Print one JSON object per host instead of the report.")
    var json = false

    func validate() throws {
        guard (1...600).contains(timeout) else {
            throw ValidationError("--timeout must be from 1 to 600 seconds; got \(timeout)")
        }
        if fleet != nil, cloud.cloudYAML != nil {
            throw ValidationError("--fleet and --cloud-yaml choose the hosts two ways: give one")
        }
    }

    func run() async throws {
        try await reportingErrors {
            var projects: [Doctor.Project] = []
            var defaults: FleetFile.Defaults?
            var secrets: [String: [String]] = [:]
            if let fleet {
                let file = try FleetFile.load(path: FileSystem.resolve(fleet), origin: "from --fleet")
                defaults = file.defaults
                let clouds = file.loadClouds()
                for project in file.projects {
                    let cloud =
                        clouds[project.name]
                        ?? .failure(FleetError(.invalidSpec, "\(project.cloudYAML): not loaded"))
                    projects.append(Doctor.Project(name: project.name, cloud: cloud))
                }
            } else {
                let path = cloud.resolvedPath
                projects = [
                    Doctor.Project(
                        name: PosixPath.basename(PosixPath.dirname(path)),
                        cloud: Result { () throws(FleetError) in try CloudSpec.load(path: path) })
                ]
            }
            for project in projects {
                guard case .success(let spec) = project.cloud else { continue }
                secrets[project.name] = spec.secrets
            }
            let hosts = await Doctor.diagnose(
                projects, ssh: hostKeys.choice.configuration(fleetDefaults: defaults),
                timeout: .seconds(timeout))
            for host in hosts {
                // Every secret of every project on the host, or none can leak through another's line.
                let redactor = Redactor(
                    secretNames: Set(host.projects.flatMap { secrets[$0] ?? [] }).sorted(),
                    environment: ProcessEnvironment.current)
                if json {
                    Output.stdout(redactor.serialized(.object(host.json(redactor))) + "\n")
                } else {
                    Output.stdout(host.text(redactor))
                }
            }
            if !hosts.allSatisfy(\.usable) { throw ExitCode(1) }
        }
    }
}
