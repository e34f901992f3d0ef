import Testing

@testable import FleetCore

/// Two projects of one fleet must never drive one runner; values that would reach a remote
/// program as options are refused where the file is read.
@Suite struct RunnerClaimTests {
    /// A cloud.yaml of `body`, with a repository unless the body names its own.
    static func spec(_ body: String) throws -> CloudSpec {
        let repo = body.contains("repo:") ? "" : "repo:\n  url: https://example.invalid/app.git\n"
        return try CloudSpec.parse(text: repo + body, path: "/fleet/cloud.yaml")
    }

    static func conflict(_ first: String, _ second: String) throws -> FleetError? {
        FleetFile.sharedRunnerError(
            [("alpha", try spec(first)), ("beta", try spec(second))], fleetPath: "/fleet/fleet.yaml")
    }

    struct Pair: Sendable, CustomTestStringConvertible {
        var label: String
        var first: String
        var second: String
        var claim: String?
        var testDescription: String { label }
    }

    static let pairs: [Pair] = [
        .init(
            label: "docker host, default container and directory",
            first: "provider: ssh\nssh:\n  host: runner\n", second: "provider: ssh\nssh:\n  host: runner\n",
            claim: "container megaplan-cloud-agent on host runner:22"),
        .init(
            label: "same container, host spelled differently",
            first: "provider: ssh\nssh:\n  host: Runner.\n  container: a\n  remote_dir: /srv/a\n",
            second: "provider: ssh\nssh:\n  host: runner\n  container: a\n  remote_dir: /srv/b\n",
            claim: "container a on host runner:22"),
        .init(
            label: "same container, IPv6 literal spelled differently",
            first: "provider: ssh\nssh:\n  host: \"::1\"\n  container: a\n  remote_dir: /srv/a\n",
            second: "provider: ssh\nssh:\n  host: \"[0:0::1]\"\n  container: a\n  remote_dir: /srv/b\n",
            claim: "container a on host [::1]:22"),
        .init(
            label: "same remote directory, other container",
            first: "provider: ssh\nssh:\n  host: runner\n  container: a\n  remote_dir: /srv/x/\n",
            second: "provider: ssh\nssh:\n  host: runner\n  container: b\n  remote_dir: /srv//x\n",
            claim: "remote_dir /srv/x on host runner:22"),
        .init(
            label: "host runtime, one workspace",
            first:
                "provider: ssh\nssh:\n  host: vm\n  user: ci\n  runtime: host\nmode: chain\nchain:\n  spec: /w/a.yaml\n  chain_session: a\n",
            second:
                "provider: ssh\nssh:\n  host: vm\n  user: ci\n  runtime: host\nmode: chain\nchain:\n  spec: /w/b.yaml\n  chain_session: b\n",
            claim: "workspace /workspace/app of ci@vm:22"),
        .init(
            label: "host runtime, one tmux session",
            first: "provider: ssh\nssh:\n  host: vm\n  runtime: host\nrepo:\n  url: u\n  workspace: /w/a\n",
            second: "provider: ssh\nssh:\n  host: vm\n  runtime: host\nrepo:\n  url: u\n  workspace: /w/b\n",
            claim: "tmux session megaplan-chain of vm:22"),
        .init(
            label: "local compose project", first: "provider: local\nlocal:\n  compose_project: same\n",
            second: "provider: local\nlocal:\n  compose_project: same\n", claim: "compose project same"),
        .init(
            label: "railway service of one named project",
            first: "provider: railway\nrailway:\n  project: p\n  service: s\n",
            second: "provider: railway\nrailway:\n  project: p\n  service: s\n",
            claim: "railway service s of project p (environment default)"),
        .init(
            label: "docker hosts with their own containers and directories",
            first: "provider: ssh\nssh:\n  host: runner\n  container: a\n  remote_dir: /srv/a\n",
            second: "provider: ssh\nssh:\n  host: runner\n  container: b\n  remote_dir: /srv/b\n", claim: nil),
        .init(
            label: "same container name on another port",
            first: "provider: ssh\nssh:\n  host: runner\n",
            second: "provider: ssh\nssh:\n  host: runner\n  port: 2222\n",
            claim: nil),
        .init(
            label: "host runtime, other accounts",
            first: "provider: ssh\nssh:\n  host: vm\n  user: a\n  runtime: host\n",
            second: "provider: ssh\nssh:\n  host: vm\n  user: b\n  runtime: host\n", claim: nil),
        .init(
            label: "railway services of linked projects are unknown",
            first: "provider: railway\n", second: "provider: railway\n", claim: nil),
    ]

    @Test(arguments: pairs)
    func sharedRunnersAreRefusedNamingBothProjects(_ pair: Pair) throws {
        let error = try Self.conflict(pair.first, pair.second)
        guard let claim = pair.claim else {
            #expect(error == nil)
            return
        }
        let message = try #require(error?.message)
        #expect(error?.code == .invalidFleet)
        #expect(message.contains("'alpha' and 'beta'"), "\(message)")
        #expect(message.contains("(\(claim))"), "\(message)")
        #expect(message.hasPrefix("/fleet/fleet.yaml: "))
    }

    @Test func aProjectListedTwiceSharesItsOwnRunner() throws {
        let one = try Self.spec("provider: local\n")
        let error = FleetFile.sharedRunnerError([("a", one), ("b", one)], fleetPath: "f")
        #expect(error?.message.contains("'a' and 'b'") == true)
    }

    @Test(arguments: [
        ("url", "--upload-pack=touch /tmp/pwned"), ("url", "-oProxyCommand=x"), ("branch", "--help"),
        ("branch", "-b"),
    ])
    func optionLikeRepoValuesAreRefusedAtTheirLine(field: String, value: String) throws {
        let quoted = "'" + value + "'"
        let text =
            field == "url"
            ? "repo:\n  url: \(quoted)\n"
            : "repo:\n  url: https://example.invalid/a.git\n  branch: \(quoted)\n"
        let error = #expect(throws: FleetError.self) {
            try CloudSpec.parse(text: text, path: "/p/cloud.yaml")
        }
        #expect(error?.code == .invalidSpec)
        let line = field == "url" ? 2 : 3
        #expect(error?.message.hasPrefix("/p/cloud.yaml:\(line):") == true, "\(String(describing: error))")
        #expect(error?.message.contains("`repo.\(field)` must not start with '-'") == true)
    }
}
