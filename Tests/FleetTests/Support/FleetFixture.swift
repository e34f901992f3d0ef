import BenchSupport
import FleetCore
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What a fleet test project is staged as on its runner.
enum ChainShape: String, Sendable, CaseIterable {
    /// A current plan, clean worktree: `running`, outcome ok.
    case running
    /// Every milestone done: `complete`, outcome ok.
    case complete
    /// Waiting on an open PR: `awaiting_pr_merge`, outcome blocked.
    case awaitingMerge
    /// The chain state file is not JSON: outcome error, `remote_error`.
    case corruptState

    var effectiveStatus: EffectiveStatus? {
        switch self {
        case .running: .running
        case .complete: .complete
        case .awaitingMerge: .awaitingPRMerge
        case .corruptState: nil
        }
    }

    /// The chain state file's text on the runner: staged there by `stage`, answered from memory
    /// by `InMemoryRunner`.
    var stateText: String {
        let state: JSONObject
        switch self {
        case .running:
            state = ["current_milestone_index": 0, "current_plan_name": "plan-m1", "last_state": "executing"]
        case .complete:
            state = ["current_milestone_index": 3, "last_state": "done"]
        case .awaitingMerge:
            state = [
                "current_milestone_index": 0, "current_plan_name": "plan-m1",
                "last_state": "awaiting_pr_merge",
                "pr_number": 7, "pr_state": "open",
            ]
        case .corruptState:
            return "{ this is not json\n"
        }
        return JSONValue.object(state).serialized(.pretty) + "\n"
    }

    func stage(_ project: TestProject) throws {
        let path = ChainPaths.stateFile(spec: project.remoteSpec)
        try project.write(String(path.dropFirst(project.workspace.count + 1)), stateText)
    }
}

/// One project of a test fleet and what its line must say.
struct FleetMember: Sendable {
    var name: String
    var project: TestProject
    var tags: [String] = []
    /// nil: the project succeeds (ok or blocked, from its shape).
    var expectedErrorKind: FleetError.Kind?
    var shape: ChainShape = .running
    /// The project's own `deadline:` in the fleet file, in seconds.
    var deadline: Double?
}

/// A host of the broken-hosts scenario: healthy, or broken in one way that has its own kind.
/// `FleetRunTests` makes each a real sshd host and breaks it; `InMemoryFleetTests` plays it with
/// a runner in memory.
enum ScenarioHost: String, Sendable, CaseIterable {
    case healthyA, healthyB
    /// Stopped: nothing listens.
    case down
    /// Its host key changed after known_hosts recorded it.
    case rotated
    /// Its key is marked `@revoked` in known_hosts.
    case revoked
    /// Accepts the connection, then never answers.
    case frozen
    /// Every command prints junk and succeeds: the status read cannot be decoded.
    case garbage

    /// The kind every project on this host reports; nil on a healthy host.
    var errorKind: FleetError.Kind? {
        switch self {
        case .healthyA, .healthyB: nil
        case .down: .unreachable
        case .rotated: .hostKeyChanged
        case .revoked: .hostKeyRevoked
        case .frozen: .timeout
        case .garbage: .remoteError
        }
    }
}

/// One project of a fleet scenario: where it runs, what its chain is, and what its line must say.
struct ScenarioProject: Sendable {
    var name: String
    var host: ScenarioHost
    var shape: ChainShape
    /// The project's own `deadline:` in the fleet file, in seconds.
    var deadline: Double? = nil

    /// The host's kind, else the chain's (a corrupt state is a `remote_error`).
    var expectedErrorKind: FleetError.Kind? {
        host.errorKind ?? (shape == .corruptState ? .remoteError : nil)
    }

    /// 54 projects on seven hosts: 36 healthy chains of every shape, one corrupt chain on a
    /// healthy host, and four to six projects on each broken host.
    static let brokenHosts: [ScenarioProject] = {
        let shapes: [ChainShape] = [.running, .running, .complete, .awaitingMerge, .running, .complete]
        var projects: [ScenarioProject] = []
        for (label, host) in [("a", ScenarioHost.healthyA), ("b", .healthyB)] {
            for index in 0..<18 {
                projects.append(
                    .init(name: "healthy-\(label)-\(index)", host: host, shape: shapes[index % 6]))
            }
        }
        projects.append(.init(name: "corrupt-state", host: .healthyA, shape: .corruptState))
        for (prefix, host, count) in [
            ("down", ScenarioHost.down, 4), ("rotated", .rotated, 4), ("revoked", .revoked, 2),
            ("frozen", .frozen, 6), ("garbage", .garbage, 3),
        ] {
            for index in 0..<count {
                projects.append(.init(name: "\(prefix)-\(index)", host: host, shape: .running))
            }
        }
        return projects
    }()

    /// A healthy project and two on a frozen host: one ended by its own `deadline:` (`short`
    /// seconds), the other by the run's.
    static func deadlines(short: Double) -> [ScenarioProject] {
        [
            .init(name: "healthy", host: .healthyA, shape: .running, deadline: short * 5),
            .init(name: "frozen-short", host: .frozen, shape: .running, deadline: short),
            .init(name: "frozen-run", host: .frozen, shape: .running),
        ]
    }
}

/// A directory holding a fleet file, a combined known_hosts file and a private HOME.
final class FleetDirectory: Sendable {
    let path: String
    var home: String { path + "/home" }
    var knownHosts: String { path + "/known_hosts" }
    var fleetFile: String { path + "/fleet.yaml" }

    init() throws {
        path = try TemporaryDirectory.make(prefix: "mpf-fleet-tests-")
        try FileSystem.makeDirectories(path + "/home")
    }

    deinit { TemporaryDirectory.remove(path) }

    /// One known_hosts file for the shared pool: every server's current key.
    func writeKnownHosts(_ servers: [SSHServer]) throws {
        let lines = try servers.map { try $0.knownHostsLine() }
        try FileSystem.writeAtomically(knownHosts, text: lines.joined(separator: "\n") + "\n")
    }

    /// Writes fleet.yaml listing `members` (file order = member order); returns its path.
    @discardableResult
    func writeFleet(_ members: [FleetMember], defaults: [String: String] = [:], name: String = "fleet.yaml")
        throws -> String
    {
        var text = "version: 1\n"
        if !defaults.isEmpty {
            text += "defaults:\n"
            for key in defaults.keys.sorted() { text += "  \(key): \(defaults[key]!)\n" }
        }
        text += "projects:\n"
        for member in members {
            text += "  - name: \(member.name)\n    cloud_yaml: \(member.project.cloudYAMLPath)\n"
            if !member.tags.isEmpty { text += "    tags: [\(member.tags.joined(separator: ", "))]\n" }
            if let deadline = member.deadline { text += "    deadline: \(deadline)\n" }
        }
        let target = path + "/" + name
        try FileSystem.writeAtomically(target, text: text)
        return target
    }
}

extension TestProject {
    /// Removes the runner-side workspace too (TestProject.cleanUp keeps it).
    func removeEverywhere() {
        cleanUp()
        let parent = PosixPath.dirname(workspace)
        if parent.contains("/fleet-tests/") {
            _ = try? host.shell("rm -rf \(ShellQuote.quote(parent))")
        }
    }
}

/// Creates projects in parallel (each is a handful of `runuser` calls).
func makeProjects(
    _ requests: [(host: RunnerHost, name: String)],
    extraYAML: @escaping @Sendable (String) -> String = { _ in "" }
) async throws -> [TestProject] {
    try await withThrowingTaskGroup(of: (Int, TestProject).self) { group in
        for (index, request) in requests.enumerated() {
            group.addTask {
                (index, try request.host.makeProject(request.name, extraYAML: extraYAML(request.name)))
            }
        }
        var result = [TestProject?](repeating: nil, count: requests.count)
        for try await (index, project) in group { result[index] = project }
        return result.map { $0! }
    }
}

/// A line of JSON output, parsed, with its raw text.
struct OutputLine {
    var raw: String
    var json: JSONValue
    var isSummary: Bool { json["summary"] != nil }
}

func parseLines(_ text: String) throws -> [OutputLine] {
    try text.split(separator: "\n", omittingEmptySubsequences: true).map {
        OutputLine(raw: String($0), json: try JSONValue.parse(String($0)))
    }
}

/// The top-level keys of a JSON object line, in the order they appear in its text.
func keyOrder(_ value: JSONValue) -> [String] {
    guard case .object(let object) = value else { return [] }
    return object.entries.map(\.key)
}
