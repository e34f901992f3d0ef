import FleetCore
import Supervisor

/// A Prometheus textfile for node_exporter's textfile collector, written atomically after a run.
public enum PromFile {
    public static func render(lines: [FleetLine], summary: FleetSummary) -> String {
        func label(_ value: String) -> String {
            value.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"").replacingAll(
                "\n", with: "\\n")
        }
        var out = """
            # HELP megaplan_fleet_effective_status Effective status of each chain at the last tick (1 = current).
            # TYPE megaplan_fleet_effective_status gauge

            """
        let statuses = EffectiveStatus.allCases.map(\.rawValue)
        for line in lines {
            for status in statuses {
                out +=
                    "megaplan_fleet_effective_status{project=\"\(label(line.project))\",status=\"\(status)\"} \(line.effectiveStatus == status ? 1 : 0)\n"
            }
        }
        out += """
            # HELP megaplan_fleet_tick_duration_seconds Duration of each project's last tick.
            # TYPE megaplan_fleet_tick_duration_seconds gauge

            """
        for line in lines {
            out +=
                "megaplan_fleet_tick_duration_seconds{project=\"\(label(line.project))\"} \(Double(line.durationMilliseconds) / 1000)\n"
        }
        out += """
            # HELP megaplan_fleet_tick_error Error kind of each project's last tick (1 = that kind; none = no error).
            # TYPE megaplan_fleet_tick_error gauge

            """
        for line in lines {
            out +=
                "megaplan_fleet_tick_error{project=\"\(label(line.project))\",kind=\"\(label(line.errorKind ?? "none"))\"} \(line.errorKind == nil ? 0 : 1)\n"
        }
        out += """
            # HELP megaplan_fleet_tick_wall_seconds Wall time of the whole tick.
            # TYPE megaplan_fleet_tick_wall_seconds gauge
            megaplan_fleet_tick_wall_seconds \(Double(summary.wallMilliseconds) / 1000)
            # HELP megaplan_fleet_last_tick_timestamp_seconds When the last tick finished.
            # TYPE megaplan_fleet_last_tick_timestamp_seconds gauge
            megaplan_fleet_last_tick_timestamp_seconds \(Int(Timestamp.wallClock()))

            """
        return out
    }

    /// Replaces the file atomically. Its directory must be writable by its owner alone (a
    /// textfile collector's directory is often another user's) or sticky; one of ours that its
    /// group or others can write is repaired. A link at the file itself is replaced, not followed.
    public static func write(_ path: String, lines: [FleetLine], summary: FleetSummary) throws(FleetError) {
        let target = FileSystem.resolveParent(path)
        try FileSystem.secureDirectory(PosixPath.dirname(target), createMode: 0o755, trust: .output)
        try FileSystem.writeAtomically(target, text: render(lines: lines, summary: summary))
    }
}
