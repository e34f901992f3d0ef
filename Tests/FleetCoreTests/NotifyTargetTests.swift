import Testing

@testable import FleetCore

/// One valid project taking lines 1–3, then `notify:` on line 4 (targets from line 5).
private let project = "projects:\n  - name: alpha\n    cloud_yaml: a.yaml\nnotify:\n"
private let notifyKeys = "webhook, headers, command, on, remind_after"

private let notifyErrorCases: [YAMLErrorCase] = [
    .init(
        "notify not a list", "projects:\n  - name: alpha\n    cloud_yaml: a.yaml\nnotify: x\n", "4:9",
        "`notify` must be a list of targets", code: .invalidFleet),
    .init(
        "unknown notify key", project + "  - webhook: https://h/x\n    remind: 1h\n", "6:5",
        "unknown key 'remind' in notify[0]; expected one of: \(notifyKeys)", code: .invalidFleet),
    .init(
        "no destination", project + "  - on: [error]\n", "5:5",
        "`notify[0]` needs `webhook` (a URL) or `command` (an argv list)", code: .invalidFleet),
    .init(
        "both destinations", project + "  - webhook: https://h/x\n    command: [/bin/true]\n", "6:14",
        "`notify[0]` has both `webhook` and `command`; one target per entry", code: .invalidFleet),
    .init(
        "ftp scheme", project + "  - webhook: ftp://h/x\n", "5:14",
        "`notify[0].webhook` must be an http:// or https:// URL; got 'ftp://h/x'", code: .invalidFleet),
    .init(
        "no host", project + "  - webhook: 'https:///x'\n", "5:14",
        "`notify[0].webhook` must name a host and contain no spaces or control characters",
        code: .invalidFleet),
    .init(
        "empty argv", project + "  - command: []\n", "5:14",
        "`notify[0].command` must be a non-empty argv list, such as [/usr/local/bin/page, --team, x]",
        code: .invalidFleet),
    .init(
        "relative program", project + "  - command: [page-oncall]\n", "5:15",
        "`notify[0].command[0]` must be an absolute path (cron's PATH is not searched)", code: .invalidFleet),
    .init(
        "unknown on value", project + "  - command: [/bin/true]\n    on: [error, blokced]\n", "6:17",
        "`notify[0].on`: unknown value 'blokced'; expected any of: \(NotifyTarget.Condition.all.map(\.word).joined(separator: ", "))",
        code: .invalidFleet),
    .init(
        "bad duration", project + "  - command: [/bin/true]\n    remind_after: 1 day\n", "6:19",
        "`notify[0].remind_after` must be a duration such as 30m, 24h or 7d (at most 365d); got '1 day'",
        code: .invalidFleet),
    .init(
        "literal header value",
        project + "  - webhook: https://h/x\n    headers: {Authorization: 'Bearer abc'}\n",
        "6:30",
        "`notify[0].headers.Authorization` must be the NAME of an environment variable holding the value (letters, digits, _), never the value itself",
        code: .invalidFleet),
    .init(
        "headers on a command", project + "  - command: [/bin/true]\n    headers: {A: B}\n", "6:14",
        "`notify[0].headers` applies to a webhook only", code: .invalidFleet),
]

@Suite struct NotifyTargetTests {
    @Test(arguments: notifyErrorCases)
    func rejects(_ testCase: YAMLErrorCase) {
        let dir = TempDir()
        dir.write("a.yaml", "repo:\n  url: u\n")
        let path = dir.write("fleet.yaml", testCase.yaml)
        #expect(failure { try FleetFile.load(path: path) } == testCase.expected(path: path))
    }

    /// The example, with the defaults filled in.
    @Test func acceptsTheDocumentedShape() throws {
        let dir = TempDir()
        dir.write("a.yaml", "repo:\n  url: u\n")
        let path = dir.write(
            "fleet.yaml",
            project + """
                  - webhook: https://hooks.example.com/services/T0/B0/X
                    headers: {Authorization: HOOK_TOKEN}
                    on: [blocked, error]
                    remind_after: 24h
                  - command: [/usr/local/bin/page-oncall, --team, platform]
                    on: [error]
                  - webhook: http://127.0.0.1:8080/hook

                """)
        let targets = try FleetFile.load(path: path).notify
        try #require(targets.count == 3)
        #expect(
            targets[0].destination
                == .webhook(
                    url: "https://hooks.example.com/services/T0/B0/X",
                    headers: [.init(name: "Authorization", environmentVariable: "HOOK_TOKEN")]))
        #expect(
            targets[0].on == [.outcome(.blocked), .outcome(.error)] && targets[0].remindAfterSeconds == 86_400
        )
        #expect(targets[1].destination == .command(["/usr/local/bin/page-oncall", "--team", "platform"]))
        #expect(targets[2].on == NotifyTarget.defaultConditions && targets[2].remindAfterSeconds == 86_400)
        #expect(Set(targets.map(\.identity)).count == 3)
    }

    @Test func durations() {
        #expect(NotifyTarget.parseDuration("1s") == 1)
        #expect(NotifyTarget.parseDuration("30m") == 1_800)
        #expect(NotifyTarget.parseDuration("24h") == 86_400)
        #expect(NotifyTarget.parseDuration("7d") == 604_800)
        for bad in ["", "h", "0h", "-1h", "1.5h", "1w", "366d", "99999999999999999d", "١h"] {
            #expect(NotifyTarget.parseDuration(bad) == nil, "\(bad)")
        }
    }
}
