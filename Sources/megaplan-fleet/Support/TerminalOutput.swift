import Fleet
import FleetCore

#if canImport(Glibc)
    import Glibc
#endif

/// Fleet output: JSON lines for machines, or, on a terminal, a progress line on stderr and a
/// table at the end (`FleetTable`). Progress and colour never reach a pipe, and `NO_COLOR` turns
/// both off. The filter chooses the project lines printed in either format; the summary line
/// and the table's footer count every project of the run.
struct TerminalOutput: Sendable {
    let format: FleetOptions.Format
    let progress: Bool
    let colour: Bool
    let filter: FleetLineFilter
    let dryRun: Bool

    init(format requested: FleetOptions.Format?, filter: FleetLineFilter, dryRun: Bool) {
        let stdoutTerminal = isatty(STDOUT_FILENO) == 1
        let stderrTerminal = isatty(STDERR_FILENO) == 1
        let environment = ProcessEnvironment.current
        format = requested ?? (stdoutTerminal ? .table : .jsonl)
        progress =
            format == .table && stderrTerminal
            && FleetTable.usesColour(terminal: stdoutTerminal, environment: environment)
        colour = FleetTable.usesColour(terminal: stdoutTerminal, environment: environment)
        self.filter = filter
        self.dryRun = dryRun
    }

    func emit(_ line: FleetLine, redactor: Redactor, finished: Int, total: Int) {
        if format == .jsonl, filter.accepts(line) { Output.stdout(line.rendered(redactor: redactor) + "\n") }
        if progress {
            Output.stderr(
                "\r\u{1B}[2K\(finished)/\(total) projects done, last: \(TerminalText.sanitize(line.project, keepLineBreaks: false))"
            )
        }
    }

    func finish(_ summary: FleetSummary, lines: [FleetLine], redactors: [String: Redactor]) {
        if progress { Output.stderr("\r\u{1B}[2K") }
        switch format {
        case .jsonl: Output.stdout(summary.json.serialized() + "\n")
        case .table:
            let table = FleetTable(
                width: Self.columns(), colour: colour, dryRun: dryRun, now: Timestamp.wallClock())
            Output.stdout(
                table.render(lines.filter(filter.accepts), summary: summary) { redactors[$0] ?? .shapesOnly })
        }
    }

    /// Columns of the terminal on stdout; else `$COLUMNS`; else a width that keeps a long
    /// message from making a row of kilobytes.
    static func columns() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let text = ProcessEnvironment.current["COLUMNS"], let value = Int(text), value > 0 {
            return min(value, 10_000)
        }
        return 120
    }
}
