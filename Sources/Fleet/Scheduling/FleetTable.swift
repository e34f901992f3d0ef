import FleetCore

/// Which project lines a run prints (`--outcome`, `--status`, `--quiet`), in the table and in the
/// JSON lines alike. The summary line and the table's footer still count every project the run
/// ticked: they describe the tick, the filter only what is shown.
public struct FleetLineFilter: Sendable, Equatable {
    /// Empty: every outcome.
    public var outcomes: Set<FleetLine.Outcome> = []
    /// Effective statuses; empty: every status. A line without one (an error) counts as `unknown`.
    public var statuses: Set<EffectiveStatus> = []
    /// Only problems: errors and blocked chains.
    public var problemsOnly = false

    public init(
        outcomes: Set<FleetLine.Outcome> = [], statuses: Set<EffectiveStatus> = [], problemsOnly: Bool = false
    ) {
        self.outcomes = outcomes
        self.statuses = statuses
        self.problemsOnly = problemsOnly
    }

    public var isActive: Bool { !outcomes.isEmpty || !statuses.isEmpty || problemsOnly }

    public func accepts(_ line: FleetLine) -> Bool {
        if problemsOnly, !FleetTable.isProblem(line) { return false }
        if !outcomes.isEmpty, !outcomes.contains(line.outcome) { return false }
        if !statuses.isEmpty, !statuses.contains(line.effectiveStatus ?? .unknown) { return false }
        return true
    }
}

/// The table for people: one row per project (project, status and how long it has held it, what
/// the tick did or would do, the reason or error message), problems first, cut to the terminal's
/// width, then a footer counting the whole run.
public struct FleetTable: Sendable {
    /// Columns available; every printed line fits in them.
    public var width: Int
    public var colour: Bool
    /// The run was a dry run: actions are what the tick would do, and the footer says so.
    public var dryRun: Bool
    /// Seconds since the epoch, for the ages.
    public var now: Double

    public init(width: Int, colour: Bool, dryRun: Bool, now: Double) {
        self.width = width
        self.colour = colour
        self.dryRun = dryRun
        self.now = now
    }

    /// A narrow terminal still gets whole rows: below this the table is cut at this width.
    static let minimumWidth = 20

    /// Colour (and the progress line) only on a terminal, and never when `NO_COLOR` is set to
    /// anything but the empty string (no-color.org).
    public static func usesColour(terminal: Bool, environment: [String: String]) -> Bool {
        terminal && (environment["NO_COLOR"] ?? "").isEmpty
    }

    public static func isProblem(_ line: FleetLine) -> Bool {
        line.outcome == .error || line.outcome == .blocked
    }

    /// Errors, then blocked chains by age (oldest first), then the rest; by name within each.
    public static func ordered(_ lines: [FleetLine]) -> [FleetLine] {
        func rank(_ line: FleetLine) -> Int { line.outcome == .error ? 0 : line.outcome == .blocked ? 1 : 2 }
        func since(_ line: FleetLine) -> Double {
            line.outcome == .blocked ? line.statusSince.flatMap(Timestamp.epochSeconds) ?? .infinity : 0
        }
        return lines.sorted {
            (rank($0), since($0), $0.project) < (rank($1), since($1), $1.project)
        }
    }

    /// `lines` are those the filter accepted; `summary` counts the whole run.
    public func render(
        _ lines: [FleetLine], summary: FleetSummary, redactor: (String) -> Redactor
    ) -> String {
        let header = ["PROJECT", "STATUS", "ACTION", "DETAIL"]
        let ordered = Self.ordered(lines)
        let rows = ordered.map { line in
            [line.project, status(line), action(line), redactor(line.project).redact(Self.detail(line))].map {
                TerminalText.sanitize($0, keepLineBreaks: false)
            }
        }
        let widths = (0..<3).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        let limit = max(width, Self.minimumWidth)
        func render(_ row: [String], outcome: FleetLine.Outcome?) -> String {
            var text =
                zip(row.prefix(3), widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ") + "  " + row[3]
            while text.last == " " { text.removeLast() }
            text = Self.cut(text, to: limit)
            if colour, let outcome, outcome != .ok {
                let code = outcome == .error ? "31" : outcome == .blocked ? "33" : "36"
                text = "\u{1B}[\(code)m\(text)\u{1B}[0m"
            }
            return text + "\n"
        }
        var out = rows.isEmpty ? "" : render(header, outcome: nil)
        for (row, line) in zip(rows, ordered) { out += render(row, outcome: line.outcome) }
        return out + Self.cut(footer(shown: lines.count, summary: summary), to: limit) + "\n"
    }

    /// `54 projects ticked in 6.2 s: 3 errors, 2 blocked, 49 ok`, and what was left out.
    func footer(shown: Int, summary: FleetSummary) -> String {
        let verb = summary.operation == .supervise ? "ticked" : "observed"
        let seconds = "\(summary.wallMilliseconds / 1000).\(summary.wallMilliseconds % 1000 / 100)"
        let counts = [FleetLine.Outcome.error, .blocked, .ok, .skipped].compactMap { outcome -> String? in
            let count = summary.outcomes[outcome] ?? 0
            guard count > 0 else { return nil }
            return outcome == .error ? Self.counted(count, "error") : "\(count) \(outcome.rawValue)"
        }
        var text = "\(Self.counted(summary.projects, "project")) \(verb) in \(seconds) s"
        if !counts.isEmpty { text += ": " + counts.joined(separator: ", ") }
        if shown != summary.projects { text += "; \(shown) shown" }
        if !summary.interruptedProjects.isEmpty {
            text +=
                "; interrupted, \(Self.counted(summary.interruptedProjects.count, "project")) not finished"
        }
        if dryRun { text = "dry run, nothing changed: " + text }
        return text
    }

    /// `1 project`, `2 projects`.
    static func counted(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }

    /// The effective status and how long the chain has held it (`blocked 3d`); `error` for a
    /// project the run could not observe (its kind and message are the detail).
    func status(_ line: FleetLine) -> String {
        switch line.outcome {
        case .error: return "error"
        case .skipped: return "skipped"
        case .ok, .blocked:
            let status = (line.effectiveStatus ?? .unknown).rawValue
            guard let age = Self.age(since: line.statusSince, now: now) else { return status }
            return "\(status) \(age)"
        }
    }

    /// What the tick did (`restart`, `advance`), or under a dry run what it would do (`would
    /// restart`, `would do nothing`).
    func action(_ line: FleetLine) -> String {
        let report = line.report
        // An error or a skipped tick decided nothing.
        guard line.outcome == .ok || line.outcome == .blocked else { return "-" }
        if dryRun {
            guard report["would_act"] == .bool(true) else { return "would do nothing" }
            return "would " + (report["next_action"]?.stringValue ?? "act")
        }
        guard report["acted"] == .bool(true) else { return "-" }
        return report["next_action"]?.stringValue ?? "acted"
    }

    /// The reason the supervisor gave, or for an error its kind and message. Not yet redacted.
    static func detail(_ line: FleetLine) -> String {
        let report = line.report
        let text =
            report["message"]?.stringValue ?? report["refused_reason"]?.stringValue
            ?? report["reason"]?.stringValue ?? ""
        guard line.outcome == .error, let kind = line.errorKind?.rawValue else { return text }
        return text.isEmpty ? kind : "\(kind): \(text)"
    }

    /// `45s`, `12m`, `5h`, `3d`: the largest whole unit.
    static func age(since: String?, now: Double) -> String? {
        guard let since, let start = Timestamp.epochSeconds(since) else { return nil }
        let seconds = Int(max(0, now - start))
        switch seconds {
        case ..<60: return "\(seconds)s"
        case ..<3600: return "\(seconds / 60)m"
        case ..<86_400: return "\(seconds / 3600)h"
        default: return "\(seconds / 86_400)d"
        }
    }

    /// At most `width` characters, the last one `…` when cut.
    static func cut(_ text: String, to width: Int) -> String {
        guard text.count > width else { return text }
        return String(text.prefix(width - 1)) + "…"
    }
}
