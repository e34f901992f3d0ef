import BenchSupport
import FleetCore
import Foundation
import SSHClient
import Transport

/// `fleet-load --hostile` (issue 13): one `tick --all` process over the fleet with healthy
/// (replayed) runners, then one per kind of hostile reply, where every runner answers every
/// command with that reply. Each process's peak RSS and CPU come from wait4. The run fails when a
/// hostile tick costs more than the bounds below times the healthy tick, or when a project does
/// not end in `remote_error`.
enum HostileRun {
    /// Hostile / healthy peak RSS: what a hostile project may hold is bounded by the caps, and
    /// only `concurrency` projects are in flight at once.
    static let maximumRSSRatio = 3.0
    /// Hostile / healthy CPU: a hostile runner's reply costs reading up to the cap (plus one
    /// receive window) and parsing it, against a few kilobytes for a healthy one.
    static let maximumCPURatio = 5.0

    enum Reply: String, CaseIterable {
        /// The issue's reply: 15.7 MB, one huge string where the chain state's text goes.
        case oversized
        /// The largest reply the client accepts, made of the smallest JSON values (a two-byte
        /// `0,` per value): the largest chain state the client keeps (`OutputLimits.remoteText`),
        /// then the rest of the reply in a field the client reads and drops.
        case dense

        var bytes: [UInt8] {
            let prefix = "MEGAPLAN-FLEET-OBSERVATION "
            switch self {
            case .oversized:
                let open = prefix + #"{"observation": {"state": {"text": ""#
                let close = "\"}}}\n"
                let filler = 15_700_000 - open.utf8.count - close.utf8.count
                return Array(open.utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: filler)
                    + Array(close.utf8)
            case .dense:
                func values(_ count: Int) -> [UInt8] {
                    Array([[UInt8]](repeating: Array("0,".utf8), count: count).joined()) + Array("0".utf8)
                }
                let state =
                    #"{\"current_milestone_index\": 0, \"current_plan_name\": \"plan-m1\", \"last_state\": \"executing\", \"junk\": ["#
                var bytes = Array((prefix + #"{"observation": {"state": {"text": ""# + state).utf8)
                bytes += values((OutputLimits.remoteText - state.utf8.count - 8) / 2)
                bytes += Array(#"]}"}}, "junk": ["#.utf8)
                bytes += values((OutputLimits.statusReply - bytes.count - 8) / 2)
                return bytes + Array("]}\n".utf8)
            }
        }
    }

    static func run(
        binary: String, file: String, fleet: BenchFleet, environment: [String: String], replay: RunnerReplay,
        projects: Int
    ) throws -> Bool {
        say("")
        say(
            "Hostile runners: one healthy `tick --all` process, then one per hostile reply (every runner answers every command with it); CPU from wait4, peak RSS sampled (VmHWM); bounds: \(format(maximumRSSRatio)) x the healthy tick's peak RSS, \(format(maximumCPURatio)) x its CPU"
        )
        say(
            "Largest healthy reply recorded: \(replay.largestRecordedOutput) bytes; the status read's cap: \(OutputLimits.describe(OutputLimits.statusReply))"
        )
        say(
            FleetLoad.header([
                "tick", "reply MB", "wall ms", "peak MiB", "CPU s", "x RSS", "x CPU", "remote_error",
            ]))
        let healthyOutput = fleet.directory + "/hostile-baseline.jsonl"
        let healthy = try FleetLoad.measureProcess(
            binary: binary, file: file, knownHosts: fleet.knownHosts, environment: environment,
            output: healthyOutput)
        guard healthy.status == 0 else { throw BenchError("healthy tick exited \(healthy.status)") }
        try FleetLoad.check(output: healthyOutput, count: projects)
        say(
            FleetLoad.row([
                "healthy", "-", format(healthy.wallMs, "%.0f"), format(healthy.peakRSSMiB, "%.1f"),
                format(healthy.cpuSeconds, "%.2f"), "1.00", "1.00", "0",
            ]))
        var ok = true
        defer { try? replay.replay() }
        for reply in Reply.allCases {
            let bytes = reply.bytes
            try replay.answerEverything(with: bytes)
            let output = fleet.directory + "/hostile-\(reply.rawValue).jsonl"
            let sample = try FleetLoad.measureProcess(
                binary: binary, file: file, knownHosts: fleet.knownHosts, environment: environment,
                output: output)
            let lines = (FileSystem.readText(output) ?? "").split(separator: "\n").compactMap {
                try? JSONValue.parse(String($0))
            }
            let projectLines = lines.filter { $0["summary"] == nil }
            let remoteErrors = projectLines.filter {
                $0["error_kind"]?.stringValue.flatMap(FleetError.Kind.init(rawValue:)) == .remoteError
            }.count
            let rssRatio = sample.peakRSSMiB / healthy.peakRSSMiB
            let cpuRatio = sample.cpuSeconds / max(healthy.cpuSeconds, 0.01)
            say(
                FleetLoad.row([
                    reply.rawValue, format(Double(bytes.count) / 1e6, "%.2f"), format(sample.wallMs, "%.0f"),
                    format(sample.peakRSSMiB, "%.1f"), format(sample.cpuSeconds, "%.2f"), format(rssRatio),
                    format(cpuRatio), String(remoteErrors),
                ]))
            if projectLines.count != projects || lines.last?["summary"] == nil {
                say(
                    "  \(reply.rawValue): \(projectLines.count) project lines for \(projects) projects, or no summary"
                )
                ok = false
            }
            if remoteErrors != projects {
                say("  \(reply.rawValue): \(projects - remoteErrors) projects did not end in remote_error")
                ok = false
            }
            if rssRatio > maximumRSSRatio || cpuRatio > maximumCPURatio {
                say("  \(reply.rawValue): over the bound")
                ok = false
            }
        }
        return ok
    }

    static func format(_ value: Double, _ pattern: String = "%.2f") -> String {
        String(format: pattern, value)
    }
}
