import Fleet
import FleetCore

#if canImport(Glibc)
    import Glibc
#endif

/// Fleet output: JSON lines for machines, or, on a terminal, a progress line on stderr and a
/// table at the end. Progress and colour never reach a pipe, and `NO_COLOR` turns both off.
struct TerminalOutput: Sendable {
    let format: FleetOptions.Format
    let progress: Bool
    let colour: Bool

    init(format requested: FleetOptions.Format?) {
        let stdoutTerminal = isatty(STDOUT_FILENO) == 1
        let stderrTerminal = isatty(STDERR_FILENO) == 1
        let noColour = !(ProcessEnvironment.current["NO_COLOR"] ?? "").isEmpty
        format = requested ?? (stdoutTerminal ? .table : .jsonl)
        progress = format == .table && stdoutTerminal && stderrTerminal && !noColour
        colour = stdoutTerminal && !noColour
    }

    func emit(_ line: FleetLine, redactor: Redactor, finished: Int, total: Int) {
        if format == .jsonl { Output.stdout(line.rendered(redactor: redactor) + "\n") }
        if progress {
            Output.stderr(
                "\r\u{1B}[2K\(finished)/\(total) projects done, last: \(TerminalText.sanitize(line.project, keepLineBreaks: false))"
            )
        }
    }

    func finish(_ summary: FleetSummary, lines: [FleetLine]) {
        if progress { Output.stderr("\r\u{1B}[2K") }
        switch format {
        case .jsonl: Output.stdout(summary.json.serialized() + "\n")
        case .table: Output.stdout(table(lines, summary: summary))
        }
    }

    private func table(_ lines: [FleetLine], summary: FleetSummary) -> String {
        let header = ["PROJECT", "HOST", "OUTCOME", "STATUS", "ERROR", "MS"]
        let rows = lines.sorted { $0.project < $1.project }.map { line in
            [
                line.project, line.host ?? "-", line.outcome.rawValue, line.effectiveStatus ?? "-",
                line.errorKind ?? "-",
                String(line.durationMilliseconds),
            ].map { TerminalText.sanitize($0, keepLineBreaks: false) }
        }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func render(_ row: [String], outcome: FleetLine.Outcome? = nil) -> String {
            var text = zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(
                separator: "  ")
            if colour, let outcome {
                let code =
                    outcome == .error ? "31" : outcome == .blocked ? "33" : outcome == .skipped ? "36" : "32"
                text = "\u{1B}[\(code)m\(text)\u{1B}[0m"
            }
            return text + "\n"
        }
        var out = render(header)
        for (row, line) in zip(rows, lines.sorted { $0.project < $1.project }) {
            out += render(row, outcome: line.outcome)
        }
        let counts = FleetLine.Outcome.allCases.map { "\($0.rawValue) \(summary.outcomes[$0.rawValue] ?? 0)" }
        out +=
            "\(summary.projects) projects in \(summary.wallMilliseconds) ms: \(counts.joined(separator: ", "))\n"
        return out
    }
}
