import FleetCore
import Supervisor

/// A Prometheus textfile for node_exporter's textfile collector, written atomically after a run.
///
/// Per-project series are keyed by `project` alone (a project belongs to one shard); the series
/// of the run itself carry `shard` (`0/1` when unsharded), so the files of several shards can
/// share one textfile directory without a duplicate series. Each shard writes its own file.
///
/// After SIGTERM every selected project is still in it: those without a line (in flight and not
/// completed, or not started) are down, with `megaplan_fleet_tick_error` of kind `interrupted`,
/// and `megaplan_fleet_tick_interrupted` is 1, so a hung project alerts instead of disappearing.
public enum PromFile {
    /// Every metric the file can hold, with its help text, in the order written.
    public static let metrics: [(name: String, help: String)] = [
        (
            "megaplan_fleet_effective_status",
            "Effective status of each chain (1 = current): observed, or the last known one when the tick could not observe it."
        ),
        (
            "megaplan_fleet_status_since_timestamp_seconds",
            "When each chain entered its current (or last known) status, Unix time."
        ),
        (
            "megaplan_fleet_up",
            "Whether the last tick observed the chain's runner (1) or not (0: error, skipped or interrupted)."
        ),
        ("megaplan_fleet_outcome", "Outcome of each project's last tick (1 = that outcome)."),
        (
            "megaplan_fleet_acted",
            "Whether each project's last tick acted (1) or not (0); action is its next_action."
        ),
        ("megaplan_fleet_tick_duration_seconds", "Duration of each project's last tick."),
        (
            "megaplan_fleet_tick_error",
            "Error kind of each project's last tick (locked for a skipped chain); a project without one has no series."
        ),
        (
            "megaplan_fleet_tick_interrupted",
            "Whether the shard's last tick was stopped by a signal (1) before every project completed."
        ),
        ("megaplan_fleet_tick_wall_seconds", "Wall time of the shard's whole last tick."),
        ("megaplan_fleet_last_tick_timestamp_seconds", "When the shard's last tick finished, Unix time."),
    ]

    /// The label value `0/1` names an unsharded run.
    public static func shardLabel(_ shard: FleetSelection.Shard?) -> String {
        "\(shard?.index ?? 0)/\(shard?.count ?? 1)"
    }

    public static func render(
        lines: [FleetLine], summary: FleetSummary, shard: FleetSelection.Shard? = nil,
        now: Double = Timestamp.wallClock()
    ) -> String {
        let interrupted = summary.interruptedProjects
        let statuses = EffectiveStatus.allCases
        var samples: [String: [String]] = [:]
        func add(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: String) {
            let text = labels.map { "\($0.key)=\"\(escaped($0.value))\"" }.joined(separator: ",")
            samples[name, default: []].append("\(name)\(text.isEmpty ? "" : "{\(text)}") \(value)")
        }
        for line in lines {
            let project = line.project
            let known = line.knownStatus ?? line.effectiveStatus
            for status in statuses {
                add(
                    "megaplan_fleet_effective_status", ["project": project, "status": status.rawValue],
                    known == status ? "1" : "0")
            }
            if let known, let since = line.statusSince.flatMap(Timestamp.epochSeconds) {
                add(
                    "megaplan_fleet_status_since_timestamp_seconds",
                    ["project": project, "status": known.rawValue],
                    number(since))
            }
            add("megaplan_fleet_up", ["project": project], observed(line) ? "1" : "0")
            for outcome in FleetLine.Outcome.allCases {
                add(
                    "megaplan_fleet_outcome", ["project": project, "outcome": outcome.rawValue],
                    line.outcome == outcome ? "1" : "0")
            }
            let report = line.report.objectValue
            let action = report?["next_action"]?.stringValue ?? "none"
            let acted = report?["acted"] == .bool(true)
            add("megaplan_fleet_acted", ["project": project, "action": action], acted ? "1" : "0")
            add(
                "megaplan_fleet_tick_duration_seconds", ["project": project],
                number(Double(line.durationMilliseconds) / 1000))
            if let kind = line.errorKind {
                add("megaplan_fleet_tick_error", ["project": project, "kind": kind.rawValue], "1")
            }
        }
        for project in interrupted {
            for status in statuses {
                add("megaplan_fleet_effective_status", ["project": project, "status": status.rawValue], "0")
            }
            add("megaplan_fleet_up", ["project": project], "0")
            for outcome in FleetLine.Outcome.allCases {
                add("megaplan_fleet_outcome", ["project": project, "outcome": outcome.rawValue], "0")
            }
            add("megaplan_fleet_tick_error", ["project": project, "kind": "interrupted"], "1")
        }
        let shardValue = shardLabel(shard)
        add("megaplan_fleet_tick_interrupted", ["shard": shardValue], summary.interrupted ? "1" : "0")
        add(
            "megaplan_fleet_tick_wall_seconds", ["shard": shardValue],
            number(Double(summary.wallMilliseconds) / 1000))
        add("megaplan_fleet_last_tick_timestamp_seconds", ["shard": shardValue], number(now.rounded(.down)))

        var out = ""
        for metric in metrics {
            out += "# HELP \(metric.name) \(metric.help)\n# TYPE \(metric.name) gauge\n"
            for sample in samples[metric.name] ?? [] { out += sample + "\n" }
        }
        return out
    }

    /// The runner was reached and the chain's status read: the line has an observed status.
    static func observed(_ line: FleetLine) -> Bool {
        guard let status = line.effectiveStatus else { return false }
        return line.outcome != .skipped && status != .unknown
    }

    /// A label value in the exposition format: backslash, double quote and newline escaped.
    static func escaped(_ value: String) -> String {
        value.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"").replacingAll(
            "\n", with: "\\n")
    }

    /// Whole numbers without a fraction, others as Swift prints them (always valid Go floats).
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    /// Replaces the file atomically. Its directory must be writable by its owner alone (a
    /// textfile collector's directory is often another user's) or sticky; one of ours that its
    /// group or others can write is repaired. A link at the file itself is replaced, not followed.
    public static func write(
        _ path: String, lines: [FleetLine], summary: FleetSummary, shard: FleetSelection.Shard? = nil
    ) throws(FleetError) {
        let target = FileSystem.resolveParent(path)
        try FileSystem.secureDirectory(PosixPath.dirname(target), createMode: 0o755, trust: .output)
        try FileSystem.writeAtomically(target, text: render(lines: lines, summary: summary, shard: shard))
    }
}
