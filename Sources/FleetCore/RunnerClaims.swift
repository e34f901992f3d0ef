/// What a project's runner occupies on its host. Two projects of one fleet that share any claim
/// drive the same runner, so each tick of one would observe and restart the other's chain.
extension CloudSpec {
    /// One line per resource, readable in an error message (`container agent on host example:22`).
    public var runnerClaims: [String] {
        switch provider {
        case .ssh:
            let ssh = ssh ?? SSH()
            let host = HostAddress.display(host: Self.comparableHost(ssh.host), port: ssh.port)
            switch ssh.runtime {
            case .docker:
                // Docker and the file system are host-wide: the SSH user does not separate them.
                return [
                    "container \(ssh.container) on host \(host)",
                    "remote_dir \(PosixPath.normalize(ssh.remoteDir)) on host \(host)",
                ]
            case .host:
                // The runner is the account itself: its files and its tmux server.
                let account = "\(ssh.user.map { "\($0)@" } ?? "")\(host)"
                return [
                    "workspace \(PosixPath.normalize(repo.workspace)) of \(account)",
                    "tmux session \(chainSessionName) of \(account)",
                ]
            }
        case .local:
            return ["compose project \((local ?? Local()).composeProject)"]
        case .railway:
            // Without `railway.project` the service lives in whichever project the deploy
            // directory is linked to, which cannot be known here.
            guard let project = railway.project else { return [] }
            return [
                "railway service \(railway.service) of project \(project) (environment \(railway.environment ?? "default"))"
            ]
        }
    }

    /// Host names compare case-insensitively, with a final dot dropped (IPv6 literals are already
    /// in one spelling: `HostAddress.canonical`, applied when cloud.yaml is read).
    static func comparableHost(_ host: String) -> String {
        var name = host.lowercased()
        if name.hasSuffix("."), name.count > 1 { name.removeLast() }
        return name
    }
}

extension FleetFile {
    /// The first pair of projects whose runners overlap, as the error every fleet command reports
    /// before doing anything. Projects whose cloud.yaml does not load are left to their own error.
    public static func sharedRunnerError(
        _ projects: [(name: String, spec: CloudSpec)], fleetPath: String
    ) -> FleetError? {
        var owners: [String: String] = [:]
        for project in projects {
            for claim in project.spec.runnerClaims {
                if let other = owners[claim], other != project.name {
                    return FleetError(
                        .invalidFleet,
                        "\(fleetPath): projects '\(other)' and '\(project.name)' share one runner (\(claim)): each tick of one would act on the other's chain; give each project its own"
                    )
                }
                owners[claim] = project.name
            }
        }
        return nil
    }

    /// Every project's cloud.yaml, loaded once, by project name: what the fleet commands check
    /// here and then hand to each project's actor.
    public func loadClouds() -> [String: Result<CloudSpec, FleetError>] {
        Dictionary(
            uniqueKeysWithValues: projects.map { project in
                (
                    project.name,
                    Result { () throws(FleetError) in try CloudSpec.load(path: project.cloudYAML) }
                )
            })
    }

    /// Refuses the fleet when two projects share a runner (`clouds` from `loadClouds`).
    public func checkDistinctRunners(_ clouds: [String: Result<CloudSpec, FleetError>]) throws(FleetError) {
        let specs = projects.compactMap { project in
            (try? clouds[project.name]?.get()).map { (name: project.name, spec: $0) }
        }
        if let error = Self.sharedRunnerError(specs, fleetPath: path) { throw error }
    }
}
