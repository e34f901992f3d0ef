import FleetCore
import Testing

@testable import Fleet

/// The table for people (`FleetTable`): its exact text at two widths, its order, its filters.
@Suite("Fleet table")
struct FleetTableTests {
    static let now = Timestamp.epochSeconds("2026-12-04T12:00:00+00:00")!

    static func line(
        _ project: String, _ outcome: FleetLine.Outcome, status: EffectiveStatus? = nil,
        ago seconds: Double? = nil,
        kind: FleetError.Kind? = nil, report: JSONObject = [:]
    ) -> FleetLine {
        FleetLine(
            tick: "t", timestamp: Timestamp.format(now), project: project, provider: .ssh, host: "h:22",
            operation: .supervise, durationMilliseconds: 10, outcome: outcome, errorKind: kind,
            report: .object(report), effectiveStatus: status,
            statusSince: seconds.map { Timestamp.format(now - $0) }, previousStatus: nil)
    }

    static let secret = "ghp_" + String(repeating: "A1b2", count: 9)

    /// Six projects in every shape the table shows: an error with a long message holding a token,
    /// a timeout, two blocked chains of different ages, a restart and a quiet running chain.
    static let lines: [FleetLine] = [
        line(
            "alpha", .ok, status: .running, ago: 3 * 3600, report: ["acted": false, "next_action": "none"]),
        line(
            "beta", .blocked, status: .awaitingPRMerge, ago: 3 * 86_400 + 5,
            report: ["acted": false, "next_action": "blocked", "refused_reason": "PR #12 waits for a review"]),
        line(
            "gamma", .blocked, status: .awaitingHumanVerify, ago: 45 * 60,
            report: ["acted": false, "next_action": "blocked", "refused_reason": "2 items wait for a person"]),
        line(
            "delta", .error, kind: .timeout,
            report: ["message": "project did not finish within its deadline of 5.0 s"]),
        line(
            "epsilon", .ok, status: .running, ago: 12,
            report: ["acted": true, "next_action": "restart", "refused_reason": .null]),
        line(
            "zeta", .error, kind: .unreachable,
            report: [
                "error": "unreachable",
                "message": .string(
                    "cannot connect to runner.example.com:22 with token \(secret): connection refused after three attempts, the last one at the deadline"
                ),
            ]),
    ]

    static func summary(_ lines: [FleetLine]) -> FleetSummary {
        var summary = FleetSummary(tick: "t", operation: .supervise)
        for line in lines { summary.add(line, remoteCommands: 2) }
        summary.wallMilliseconds = 6_250
        return summary
    }

    static func render(
        width: Int, dryRun: Bool = false, colour: Bool = false, filter: FleetLineFilter = .init()
    )
        -> String
    {
        FleetTable(width: width, colour: colour, dryRun: dryRun, now: now).render(
            lines.filter(filter.accepts), summary: summary(lines)
        ) { _ in .shapesOnly }
    }

    @Test func exactTextAt80Columns() {
        let expected = """
            PROJECT  STATUS                     ACTION   DETAIL
            delta    error                      -        timeout: project did not finish wi…
            zeta     error                      -        unreachable: cannot connect to run…
            beta     awaiting_pr_merge 3d       -        PR #12 waits for a review
            gamma    awaiting_human_verify 45m  -        2 items wait for a person
            alpha    running 3h                 -
            epsilon  running 12s                restart
            6 projects ticked in 6.2 s: 2 errors, 2 blocked, 2 ok

            """
        let table = Self.render(width: 80)
        #expect(table == expected, "\n\(table)")
        #expect(table.split(separator: "\n").allSatisfy { $0.count <= 80 })
    }

    @Test func exactTextAt200ColumnsIsRedactedAndWhole() {
        let expected = """
            PROJECT  STATUS                     ACTION   DETAIL
            delta    error                      -        timeout: project did not finish within its deadline of 5.0 s
            zeta     error                      -        unreachable: cannot connect to runner.example.com:22 with token ***REDACTED***: connection refused after three attempts, the last one at the deadline
            beta     awaiting_pr_merge 3d       -        PR #12 waits for a review
            gamma    awaiting_human_verify 45m  -        2 items wait for a person
            alpha    running 3h                 -
            epsilon  running 12s                restart
            6 projects ticked in 6.2 s: 2 errors, 2 blocked, 2 ok

            """
        let table = Self.render(width: 200)
        #expect(table == expected, "\n\(table)")
        #expect(!table.contains(Self.secret))
    }

    /// A dry run says so on every action and in the footer.
    @Test func dryRunIsVisiblyDifferent() {
        var lines = Self.lines
        lines[4].report = ["acted": false, "dry_run": true, "would_act": true, "next_action": "restart"]
        lines[0].report = ["acted": false, "dry_run": true, "would_act": false, "next_action": "none"]
        let table = FleetTable(width: 200, colour: false, dryRun: true, now: Self.now).render(
            lines, summary: Self.summary(lines)
        ) { _ in .shapesOnly }
        let rows = table.split(separator: "\n").map(String.init)
        #expect(rows.contains("epsilon  running 12s                would restart"), "\n\(table)")
        #expect(rows.contains("alpha    running 3h                 would do nothing"), "\n\(table)")
        #expect(
            rows.last == "dry run, nothing changed: 6 projects ticked in 6.2 s: 2 errors, 2 blocked, 2 ok")
    }

    /// Errors first, then blocked chains oldest first, then the rest, by name within each.
    @Test func problemsFirst() {
        let shuffled =
            Self.lines.reversed() + [
                Self.line("aardvark", .blocked, status: .qualityGate, ago: 86_400),
                Self.line("able", .blocked, status: .qualityGate, ago: 86_400),
                Self.line("nosince", .blocked, status: .qualityGate),
                Self.line("skippy", .skipped, status: .unknown),
            ]
        #expect(
            FleetTable.ordered(shuffled).map(\.project) == [
                "delta", "zeta", "beta", "aardvark", "able", "gamma", "nosince", "alpha", "epsilon", "skippy",
            ])
    }

    /// Filters choose the rows; the footer still counts the whole tick and says how many are shown.
    @Test func filtersAndQuiet() {
        let quiet = Self.render(width: 200, filter: FleetLineFilter(problemsOnly: true))
        #expect(
            quiet.split(separator: "\n").map { $0.prefix(while: { $0 != " " }) }.dropFirst().dropLast() == [
                "delta", "zeta", "beta", "gamma",
            ])
        #expect(quiet.hasSuffix("6 projects ticked in 6.2 s: 2 errors, 2 blocked, 2 ok; 4 shown\n"))
        let running = Self.render(width: 200, filter: FleetLineFilter(statuses: [.running]))
        #expect(running.split(separator: "\n").count == 1 + 2 + 1)
        let errors = FleetLineFilter(outcomes: [.error])
        #expect(Self.lines.filter(errors.accepts).map(\.project) == ["delta", "zeta"])
        let unknown = FleetLineFilter(statuses: [.unknown])
        #expect(Self.lines.filter(unknown.accepts).map(\.project) == ["delta", "zeta"])
        let nothing = Self.render(width: 80, filter: FleetLineFilter(outcomes: [.skipped]))
        #expect(nothing == "6 projects ticked in 6.2 s: 2 errors, 2 blocked, 2 ok; 0 shown\n")
    }

    /// One project, one error: singular nouns.
    @Test func plurals() {
        let one = [Self.lines[3]]
        let table = FleetTable(width: 80, colour: false, dryRun: false, now: Self.now).render(
            one, summary: Self.summary(one)
        ) { _ in .shapesOnly }
        #expect(table.hasSuffix("\n1 project ticked in 6.2 s: 1 error\n"))
    }

    @Test func colourOnlyOnATerminalWithoutNoColor() {
        #expect(FleetTable.usesColour(terminal: true, environment: [:]))
        #expect(FleetTable.usesColour(terminal: true, environment: ["NO_COLOR": ""]))
        #expect(!FleetTable.usesColour(terminal: true, environment: ["NO_COLOR": "1"]))
        #expect(!FleetTable.usesColour(terminal: false, environment: [:]))
        #expect(Self.render(width: 80, colour: true).contains("\u{1B}[31m"))
        #expect(!Self.render(width: 80, colour: false).contains("\u{1B}["))
    }

    @Test func compactAges() {
        let now = Self.now
        #expect(FleetTable.age(since: Timestamp.format(now - 59), now: now) == "59s")
        #expect(FleetTable.age(since: Timestamp.format(now - 60), now: now) == "1m")
        #expect(FleetTable.age(since: Timestamp.format(now - 7_199), now: now) == "1h")
        #expect(FleetTable.age(since: Timestamp.format(now - 86_400 * 40), now: now) == "40d")
        #expect(FleetTable.age(since: Timestamp.format(now + 30), now: now) == "0s")
        #expect(FleetTable.age(since: "yesterday", now: now) == nil)
        #expect(Timestamp.epochSeconds("2026-12-04T12:00:00.250000+00:00") == now + 0.25)
        #expect(Timestamp.epochSeconds("2026-12-04T12:00:00Z") == now)
    }
}
