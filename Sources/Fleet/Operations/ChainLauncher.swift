import FleetCore
import RunnerProtocol
import Transport

/// `chain SPEC`: preflight, upload every milestone's idea and the spec, start the chain in tmux
/// and record the marker (cloud reference §1.5, steps in its order).
public struct ChainLauncher: Sendable {
    public let project: ProjectEnvironment

    public init(project: ProjectEnvironment) { self.project = project }

    public struct Result: Sendable {
        public var launchOutput: RelayedOutput
        public var provenance: JSONObject
        public var markerPath: String
    }

    public func launch(specPath: String, ideaDirectory: String?) async throws(FleetError) -> Result {
        let cloud = project.cloud
        let localSpec = FileSystem.resolve(specPath)
        var chain = try ChainSpec.load(path: localSpec)
        if !chain.declaresBaseBranch { chain.baseBranch = cloud.repo.branch }
        var expanded: [[String]]?
        if chain.milestones.contains(where: { $0.profile != nil }),
            case .expanded(let models) = try await ProfileExpansion.expand(
                chain, workspace: cloud.repo.workspace, runner: project.runner)
        {
            expanded = models
        }
        let preflight = try Preflight.run(
            chain: chain, projectDirectory: project.root, defaultAgent: cloud.agent(for: "default"),
            expanded: expanded)
        let ideaDir = ideaDirectory.map { FileSystem.resolve($0) } ?? PosixPath.dirname(localSpec)
        let workspace = cloud.repo.workspace
        let remoteSpec = PosixPath.join(workspace, "chain.yaml")

        var sources: [(local: String, remote: String)] = []
        for milestone in chain.milestones {
            let local = try IdeaFiles.locate(
                label: milestone.label, idea: milestone.idea, workspace: workspace, ideaDirectory: ideaDir,
                root: project.root)
            sources.append((local, remoteIdeaPath(milestone.idea)))
        }

        let missing = cloud.secrets.filter { (project.environment[$0] ?? "").isEmpty }.sorted()
        if !missing.isEmpty {
            throw FleetError(
                .cloudPreflightFailed,
                "Missing configured cloud secrets in the local environment: \(missing.joined(separator: ", "))",
                extra: [
                    "missing_commands": [], "missing_env": .strings(missing), "preflight": .object(preflight),
                ])
        }

        let runner = project.runner
        let ensure = try await runner.run(
            RemoteCommands.ensureRepo(url: cloud.repo.url, branch: cloud.repo.branch, workspace: workspace),
            stdin: nil,
            deadline: nil)
        if ensure.status != 0 {
            throw FleetError(
                .providerFailed,
                "ensure repo checkout failed for \(cloud.repo.url)@\(cloud.repo.branch) into \(workspace) (exit \(ensure.status))"
            )
        }

        let commands = preflight["runtime_commands"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if !commands.isEmpty {
            let probe = try await runner.run(
                RemoteCommands.dependencyProbe(commands), stdin: nil, deadline: nil)
            if probe.status != 0 {
                let detail =
                    [probe.stderr.trimmed, probe.stdout.trimmed].first { !$0.isEmpty }
                    ?? "remote dependency check failed"
                throw FleetError(.providerFailed, detail)
            }
            let absent = Set(probe.stdout.split(whereSeparator: { $0.isWhitespace }).map(String.init))
                .sorted()
            if !absent.isEmpty {
                throw FleetError(
                    .agentDepsMissing,
                    "Remote cloud runner is missing required runtime commands: \(absent.joined(separator: ", "))",
                    extra: [
                        "missing_commands": .strings(absent), "missing_env": [],
                        "preflight": .object(preflight),
                    ])
            }
        }

        let head = try await runner.run(
            RemoteCommands.repoHead(workspace: workspace), stdin: nil, deadline: nil)
        var checkedOutBranch: String?
        var headSHA: String?
        if head.status == 0 {
            let lines = head.stdout.split(whereSeparator: \.isNewline).map { String($0).trimmed }.filter {
                !$0.isEmpty
            }
            checkedOutBranch = lines.first
            headSHA = lines.count > 1 ? lines[1] : nil
        }

        for source in sources {
            guard let bytes = FileSystem.readBytes(source.local) else {
                throw FleetError(
                    .providerFailed, "cannot read idea file \(source.local) (is it a directory?)")
            }
            try await runner.upload(bytes, to: source.remote)
        }
        try await runner.upload(try specBytes(localSpec, chain: chain), to: remoteSpec)

        let session = cloud.chainSessionName
        let launch = try await runner.exec(
            RemoteCommands.tmuxLaunch(workspace: workspace, spec: remoteSpec, session: session))
        let combined = launch.stdout + "\n" + launch.stderr
        let tmuxStatus =
            combined.contains("already running")
            ? "already_running" : combined.contains("started \(session) session") ? "started" : "unknown"

        let summaries = preflight["milestones"]?.arrayValue ?? []
        let provenance: JSONObject = [
            "success": true,
            "event": "cloud_chain_launched",
            "remote_spec": .string(remoteSpec),
            "current_milestone": .optional(chain.milestones.first?.label),
            "plan_name": .null,
            "pr_number": .null,
            "repo": [
                "url": .string(cloud.repo.url), "branch": .string(cloud.repo.branch),
                "workspace": .string(workspace),
                "head": .optional(headSHA), "checked_out_branch": .optional(checkedOutBranch),
            ],
            "chain": [
                "base_branch": .string(chain.baseBranch), "milestone_count": .int(chain.milestones.count),
                "resolved_phase_map_summary": .array(summaries),
                "prerequisite_policy": .string(chain.prerequisitePolicy),
                "validation_policy": .string(chain.validationPolicy),
                "review_policy": ["clean_milestone_pr": .string(chain.cleanMilestonePR)],
            ],
            "megaplan": ["ref": .string(cloud.megaplanRef), "install_source": "cloud_image_runtime"],
            "uploaded_idea_count": .int(chain.milestones.count),
            "tmux": ["session": .string(session), "status": .string(tmuxStatus)],
        ]
        let marker = Marker([
            "remote_spec": .string(remoteSpec),
            "started_at": .string(Timestamp.now()),
            "base_branch": .string(chain.baseBranch),
            "provenance": .object(provenance),
            "workspace": .string(workspace),
            "chain_session": .string(session),
            "extra_repos": .strings(cloud.extraRepos),
            "provider": .string(cloud.provider.rawValue),
            "provider_identity": .optional(cloud.providerIdentity),
        ])
        try marker.write(forCloudYAML: cloud.path, home: project.home)
        return Result(
            launchOutput: RelayedOutput(launch), provenance: provenance,
            markerPath: Marker.path(forCloudYAML: cloud.path, home: project.home))
    }

    /// Where a milestone's idea file is uploaded: as written (§3.5: relative to the remote
    /// command's working directory), except on an `ssh.runtime: host` runner, whose commands start
    /// in the SSH user's home, shared by every project on that account: there a relative idea goes
    /// under the workspace, where the chain engine (`tmux -c W`) looks for it.
    func remoteIdeaPath(_ idea: String) -> String {
        let cloud = project.cloud
        guard cloud.provider == .ssh, cloud.ssh?.runtime == .host, !idea.hasPrefix("/") else { return idea }
        return PosixPath.join(cloud.repo.workspace, idea)
    }

    /// The spec's own bytes, or, when the base branch was injected, the top-level mapping with
    /// `base_branch` appended as the last key (§1.5 step 12).
    func specBytes(_ path: String, chain: ChainSpec) throws(FleetError) -> [UInt8] {
        guard let original = FileSystem.readBytes(path) else {
            throw FleetError(.invalidSpec, "spec file not found: \(path)")
        }
        if chain.declaresBaseBranch { return original }
        let reader = try YAMLReader(path: path)
        let mapping = try reader.rootMapping(kind: "chain spec")
        var pairs = mapping.map { ($0.key, $0.value) }
        pairs.append((YAMLNode("base_branch"), YAMLNode(chain.baseBranch)))
        do {
            return Array(try YAMLEmitter.document(.mapping(YAMLNode.Mapping(pairs))).utf8)
        } catch {
            throw FleetError(
                .invalidSpec, "\(path): cannot write the chain spec with base_branch: \(error.message)")
        }
    }
}
