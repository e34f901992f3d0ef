import FleetCore
import RunnerProtocol

/// Where a chain lives on its runner: the remote spec path (§5.1) and the workspace, tmux session
/// and extra repositories resolved from state, marker and cloud.yaml (§5.3).
public struct ChainContext: Sendable, Equatable {
    public var workspace: String
    public var session: String
    public var extraRepos: [String]
    public var remoteSpec: String
    public var workspaceSource: String
    public var sessionSource: String
    public var extraRepoSources: [String]

    /// §5.1: `--remote-spec`, else the marker's `remote_spec`, else `chain.spec` in chain mode.
    public static func remoteSpec(override: String?, marker: Marker?, cloud: CloudSpec) throws(FleetError)
        -> String
    {
        if let override, !override.isEmpty { return PosixPath.normalize(override) }
        if let spec = marker?.remoteSpec { return PosixPath.normalize(spec) }
        if cloud.mode == .chain, let spec = cloud.chain?.spec { return spec }
        throw FleetError(
            .missingRemoteSpec,
            "Unable to locate remote chain spec. Pass --remote-spec <path>, run `cloud chain <spec>` first, or set mode: chain in cloud.yaml."
        )
    }

    /// The workspace used when the state does not pin one (everything after the state in §5.3).
    static func fallbackWorkspace(spec: String, marker: Marker?, cloud: CloudSpec) -> (String, String) {
        if let workspace = marker?.workspace { return (PosixPath.normalize(workspace), "marker") }
        if spec.contains("/") {
            let parent = PosixPath.dirname(spec)
            if !["/", ".", ""].contains(parent) { return (parent, "remote_spec") }
        }
        return (cloud.repo.workspace, "spec")
    }

    static func fallbackSession(marker: Marker?, cloud: CloudSpec) -> (String, String) {
        if let session = marker?.chainSession { return (session, "marker") }
        if let session = cloud.chain?.chainSession { return (session, "spec") }
        return ("megaplan-chain", "default")
    }

    public static func resolve(state: ChainState, spec: String, marker: Marker?, cloud: CloudSpec)
        -> ChainContext
    {
        let (workspace, workspaceSource) =
            state.resolvedWorkspace.map { (PosixPath.normalize($0), "chain_state") }
            ?? fallbackWorkspace(spec: spec, marker: marker, cloud: cloud)
        let (session, sessionSource) =
            state.chainSession.map { ($0, "chain_state") } ?? fallbackSession(marker: marker, cloud: cloud)
        let candidates = RepoCandidates(cloud: cloud, marker: marker)
        var repos: [String] = []
        var sources: [String] = []
        for (items, source) in [
            (candidates.beforeState, "spec"), (state.extraRepos, "chain_state"),
            (candidates.afterState, "marker"),
        ] {
            for item in items where !item.isBlank && !repos.contains(item) {
                repos.append(item)
                sources.append(source)
            }
        }
        return ChainContext(
            workspace: workspace, session: session, extraRepos: repos, remoteSpec: spec,
            workspaceSource: workspaceSource, sessionSource: sessionSource, extraRepoSources: sources)
    }

    public var json: JSONValue {
        .object([
            "workspace": .string(workspace),
            "chain_session": .string(session),
            "extra_repos": .strings(extraRepos),
            "remote_spec": .string(remoteSpec),
            "source": [
                "workspace": .string(workspaceSource), "session": .string(sessionSource),
                "extra_repos": .strings(extraRepoSources),
            ],
        ])
    }
}
