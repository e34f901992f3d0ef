import FleetCore
import Testing

@testable import Fleet

/// What `PromFile.render` writes for lines a real tick rarely produces on demand: an action
/// taken, a label needing escapes, an interrupted run, a shard, a timestamp with a fraction.
@Suite struct PromFileRenderTests {
    static func line(_ project: String, outcome: FleetLine.Outcome, report: JSONValue) -> FleetLine {
        var line = SelectionTests.line(report: report)
        line.project = project
        line.outcome = outcome
        return line
    }

    @Test func actedEscapedInterruptedAndShardedSeries() throws {
        var acted = Self.line("a\"b\\c\nd", outcome: .ok, report: ["acted": true, "next_action": "restart"])
        acted.knownStatus = .running
        acted.statusSince = "2026-01-01T00:00:01.500000+00:00"
        var summary = FleetSummary(tick: "t-1", operation: .supervise)
        summary.interrupted = true
        summary.interruptedProjects = ["hung"]
        let text = PromFile.render(
            lines: [acted], summary: summary, shard: try FleetSelection.Shard(index: 1, count: 3),
            now: 1_800_000_000.7)
        let project = #"project="a\"b\\c\nd""#
        #expect(text.contains("megaplan_fleet_acted{\(project),action=\"restart\"} 1\n"), "\(text)")
        #expect(
            text.contains(
                "megaplan_fleet_status_since_timestamp_seconds{\(project),status=\"running\"} 1767225601.5\n")
        )
        #expect(text.contains("megaplan_fleet_up{\(project)} 1\n"))
        #expect(text.contains("megaplan_fleet_up{project=\"hung\"} 0\n"))
        #expect(text.contains("megaplan_fleet_tick_error{project=\"hung\",kind=\"interrupted\"} 1\n"))
        #expect(text.contains("megaplan_fleet_tick_interrupted{shard=\"1/3\"} 1\n"))
        #expect(text.contains("megaplan_fleet_last_tick_timestamp_seconds{shard=\"1/3\"} 1800000000\n"))
        #expect(!text.contains("kind=\"none\""))
        // Every metric documented once, each sample under its own HELP and TYPE.
        for metric in PromFile.metrics {
            #expect(text.components(separatedBy: "# HELP \(metric.name) ").count == 2, "\(metric.name)")
            #expect(text.contains("# TYPE \(metric.name) gauge\n"))
        }
        // No raw newline inside a sample: every row is a comment or `series value`.
        for row in text.split(separator: "\n") where !row.hasPrefix("#") {
            #expect(row.hasPrefix("megaplan_fleet_"), "\(row)")
        }
    }

    /// A chain skipped because another tick holds its lock did not observe the runner, and its
    /// `locked` kind is a real one.
    @Test func aSkippedChainIsDownWithItsLockedKind() {
        var skipped = Self.line("busy", outcome: .skipped, report: ["acted": false, "next_action": "none"])
        skipped.effectiveStatus = .unknown
        skipped.errorKind = .locked
        let text = PromFile.render(
            lines: [skipped], summary: FleetSummary(tick: "t-1", operation: .supervise))
        #expect(text.contains("megaplan_fleet_up{project=\"busy\"} 0\n"), "\(text)")
        #expect(text.contains("megaplan_fleet_tick_error{project=\"busy\",kind=\"locked\"} 1\n"))
        #expect(text.contains("megaplan_fleet_outcome{project=\"busy\",outcome=\"skipped\"} 1\n"))
        #expect(!text.contains("megaplan_fleet_status_since_timestamp_seconds{"))
    }

    @Test func anUnsharedRunIsShardZeroOfOne() {
        let text = PromFile.render(lines: [], summary: FleetSummary(tick: "t-1", operation: .status))
        #expect(text.contains("megaplan_fleet_tick_wall_seconds{shard=\"0/1\"} 0\n"), "\(text)")
    }

    @Test func timestampsInTheLinesFormatParse() {
        #expect(Timestamp.epochSeconds("1970-01-01T00:00:00+00:00") == 0)
        #expect(Timestamp.epochSeconds(Timestamp.format(1_767_225_601.25)) == 1_767_225_601.25)
        #expect(Timestamp.epochSeconds("2026-01-01T00:00:00Z") == 1_767_225_600)
        #expect(Timestamp.epochSeconds("2026-01-01T00:00:00+02:00") == nil)
        #expect(Timestamp.epochSeconds("yesterday") == nil)
    }
}
