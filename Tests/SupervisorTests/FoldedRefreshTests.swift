import BenchSupport
import FleetCore
import PropertyBased
import TestSupport
import Testing
import Transport

@testable import RunnerProtocol
@testable import Supervisor

/// The folded tick: the runner builds the §6.4 refresh from the state it reads, and must build
/// exactly the command the client would, or decline and leave it to the client.
@Suite("Folded sync refresh")
struct FoldedRefreshTests {
    /// Values the runner and the client could read differently: quotes, Unicode, whitespace
    /// Python strips and Swift does not (and back), canonically equal spellings.
    static let names: [String] = [
        "/srv/app", "/srv//app/./", "//srv/app/", "/srv/../app", "/srv/with space", "/srv/it's", "/srv/\"q\"",
        "/srv/back\\slash", "/srv/日本", "/srv/🙂",
        "/srv/caf\u{E9}", "/srv/cafe\u{301}", "/srv/line\nbreak", " /srv/padded ", "\u{A0}/srv/nbsp",
        "\u{1C}",
        "", "  ", "\u{85}", "/srv/$(id)", "/srv/\u{7F}",
    ]
    static let values: [JSONValue] =
        names.map(JSONValue.string) + [.null, .int(5), .bool(true), ["/srv/list"], ["k": "v"]]
    static let prNumbers: [JSONValue?] = [
        nil, .null, .int(42), .int(-1), .int(Int.max), .bool(true), .double(42.0), .double(42.9),
        .double(1e19),
        .string("42"), .string(" 42 "), .string("+7"), .string("4 2"), .string("x"), .string("\u{A0}42"),
        .string("\u{1C}42"), .array([]),
    ]
    static let cloudRepos: [[String]] = [
        [], ["/srv/shared"], ["/srv/caf\u{E9}", "/srv/shared"], ["/srv/with space"],
    ]

    /// A spec on this machine and the folded script run against it locally, as a runner would.
    struct LocalChain {
        let root: String
        let spec: String
        let digest: String

        init() throws {
            root = try TemporaryDirectory.make(prefix: "mpf-fold-")
            spec = root + "/app/chain.yaml"
            try FileSystem.makeDirectories(PosixPath.dirname(ChainPaths.stateFile(spec: spec)))
            let text = chainYAML()
            try FileSystem.writeAtomically(spec, text: text)
            digest = ValidatedSpec(spec: spec, text: text).sha256
        }

        /// Runs the folded script on `state`; returns its result and the client's status read
        /// (nil when the client rejects it).
        func fold(state: JSONObject, marker: Marker, cloudRepos: [String]) async throws -> (
            ObservationResult, ChainStatus?
        ) {
            try await fold(
                stateText: JSONValue.object(state).serialized(), marker: marker, cloudRepos: cloudRepos)
        }

        /// The same, with the state file's text as given (numbers JSONValue cannot hold).
        func fold(stateText: String, marker: Marker, cloudRepos: [String]) async throws -> (
            ObservationResult, ChainStatus?
        ) {
            let cloudYAML =
                cloudRepos.isEmpty
                ? sshCloudYAML
                : sshCloudYAML + "\nextra_repos:\n"
                    + cloudRepos.map { "  - \(JSONValue.string($0).serialized())\n" }.joined()
            let cloud = try cloudSpec(cloudYAML, path: root + "/cloud.yaml")
            try FileSystem.writeAtomically(ChainPaths.stateFile(spec: spec), text: stateText)
            let reader = ChainStatusReader(cloud: cloud, runner: OfflineRunner(), home: root)
            let request = reader.request(
                spec: spec, marker: marker,
                mode: .observeAndRefresh(RepoCandidates(cloud: cloud, marker: marker), specDigest: digest))
            let command = ObservationScript.command(request) + " 2>/dev/null"
            let output = try await onOwnThread { try BenchProcess.run(["/bin/sh", "-c", command]) }
            let result = try ObservationResult.decode(
                RunnerOutput(status: 0, stdout: output, stderr: ""), host: "local")
            return (result, try? reader.status(of: result.observation, spec: spec, marker: marker))
        }
    }

    /// Ordinary states, whatever their quoting, Unicode or PR number spelling, are folded into the
    /// one command, with the client's refresh.
    @Test(arguments: [
        ["pr_number": 42] as JSONObject,
        ["pr_number": "42", "resolved_workspace": "/srv/it's here", "chain_session": "chain \"b\""],
        ["pr_number": 42.0, "extra_repos": ["/srv/日本", "/srv/shared", "/srv/🙂"]],
        [
            "pr_number": true, "current_milestone_index": 2, "completed": [["label": "m1"]],
            "last_state": "done",
        ],
        ["pr_number": " +7 ", "resolved_workspace": "/srv/$(id) `x`", "extra_repos": []],
        ["pr_number": 1, "resolved_workspace": "//srv/./app//"],
    ])
    func ordinaryStatesAreFolded(_ state: JSONObject) async throws {
        let chain = try LocalChain()
        defer { TemporaryDirectory.remove(chain.root) }
        let marker = Marker(["extra_repos": ["/srv/marker", "/srv/shared"]])
        let (result, status) = try await chain.fold(state: state, marker: marker, cloudRepos: ["/srv/cloud"])
        let client = try #require(status)
        #expect(result.refresh?.command == client.syncRefreshCommand)
        // The state's workspace is a remote path like any other: normalized on both sides (§0.6).
        if let workspace = state["resolved_workspace"]?.stringValue {
            #expect(client.context.workspace == PosixPath.normalize(workspace))
        }
    }

    /// An index beyond 64 bits is only compared: the client classifies the chain, and the runner
    /// folds the same refresh.
    @Test(arguments: [
        "1180591620717411303424", "-1180591620717411303424", "\"99999999999999999999999\"", "1e300",
    ])
    func hugeMilestoneIndexIsFolded(_ index: String) async throws {
        let chain = try LocalChain()
        defer { TemporaryDirectory.remove(chain.root) }
        let (result, status) = try await chain.fold(
            stateText: #"{"pr_number": 42, "current_milestone_index": "# + index + "}",
            marker: Marker(["extra_repos": []]), cloudRepos: [])
        let client = try #require(status)
        #expect((client.effectiveStatus == .complete) == !index.hasPrefix("-"))
        #expect(result.refresh?.command == client.syncRefreshCommand)
    }

    /// A state nested deeper than the client's JSON reader allows fails the status read there, so
    /// the runner must not refresh it either.
    @Test func tooDeepAStateIsNotRefreshed() async throws {
        let chain = try LocalChain()
        defer { TemporaryDirectory.remove(chain.root) }
        var deep: JSONValue = 1
        for _ in 0..<600 { deep = [deep] }
        let (result, status) = try await chain.fold(
            state: ["pr_number": 1, "notes": deep], marker: Marker(["extra_repos": []]), cloudRepos: [])
        #expect(status == nil)
        #expect(result.observation != nil && result.refresh == nil)
    }

    /// For every generated state: when the client accepts the status read, the runner either ran
    /// exactly the client's refresh or none; when the client rejects it, the runner ran none.
    @Test func runnerBuildsTheClientsRefreshOrNone() async throws {
        let chain = try LocalChain()
        defer { TemporaryDirectory.remove(chain.root) }
        let value = Gen<JSONValue?>.element(of: Self.values).map { $0! }
        let repos = value.array(of: 0...3)
        let stateGen = zip(
            value, value, Gen<JSONValue??>.element(of: Self.prNumbers).map { $0! }, repos,
            Gen<JSONValue??>.element(of: [nil, .int(0), .null, "x", .double(1.5)] as [JSONValue?]).map {
                $0!
            },
            Gen<JSONValue??>.element(of: [nil, .array([]), "x", .null] as [JSONValue?]).map { $0! })
        let contextGen = zip(
            Gen<[String]?>.element(of: Self.cloudRepos).map { $0! }, repos,
            Gen<JSONValue??>.element(of: [nil, "/marker/ws", " "] as [JSONValue?]).map { $0! })
        var folded = 0
        await propertyCheck(count: 100, input: stateGen, contextGen) { fields, context in
            let (workspace, session, prNumber, stateRepos, index, completed) = fields
            let (cloudRepos, markerRepos, markerWorkspace) = context
            var state: JSONObject = [
                "resolved_workspace": workspace, "chain_session": session, "extra_repos": .array(stateRepos),
            ]
            if let prNumber { state["pr_number"] = prNumber }
            if let index { state["current_milestone_index"] = index }
            if let completed { state["completed"] = completed }
            var markerFields: JSONObject = ["extra_repos": .array(markerRepos)]
            if let markerWorkspace { markerFields["workspace"] = markerWorkspace }
            let described =
                "state \(JSONValue.object(state).serialized()), marker \(markerFields), cloud \(cloudRepos)"
            do {
                let (result, status) = try await chain.fold(
                    state: state, marker: Marker(markerFields), cloudRepos: cloudRepos)
                if let status {
                    if let ran = result.refresh {
                        folded += 1
                        #expect(ran.command == status.syncRefreshCommand, "\(described)")
                    }
                } else {
                    #expect(result.refresh == nil, "the client rejects this status read: \(described)")
                }
            } catch {
                Issue.record("\(error) with \(described)")
            }
        }
        // Most generated values are chosen to be awkward, so most are declined; some must fold.
        #expect(folded >= 5, "folded \(folded) of 100")
    }
}
