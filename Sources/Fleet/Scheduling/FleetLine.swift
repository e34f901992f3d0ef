import FleetCore

/// One project's result in a fleet run, printed as one compact JSON line as soon as it is known.
public struct FleetLine: Sendable, Equatable {
    public typealias Outcome = FleetOutcome
    public enum Operation: String, Sendable { case status, supervise }

    public static let schemaVersion = 1
    /// Log shippers commonly cap a line at 64 KiB or more; lines stay under this.
    public static let maximumLength = 60_000

    public var tick: String
    public var timestamp: String
    public var project: String
    public var provider: CloudSpec.Provider?
    public var host: String?
    public var operation: Operation
    public var durationMilliseconds: Int
    public var outcome: Outcome
    public var errorKind: FleetError.Kind?
    public var report: JSONValue
    public var effectiveStatus: EffectiveStatus?
    /// When the project entered its status; on a line that could not observe it, when it entered
    /// its last known one (from `StatusHistory`).
    public var statusSince: String?
    public var previousStatus: EffectiveStatus?
    /// The status observed, or on a line that could not observe it the last known one (from
    /// `StatusHistory`); not printed (the line has `effective_status`), used by the metrics.
    public var knownStatus: EffectiveStatus?
    /// The status differs from the one the previous run recorded.
    public var changed = false

    public var json: JSONValue {
        .object([
            "schema": .int(Self.schemaVersion), "tick": .string(tick), "ts": .string(timestamp),
            "project": .string(project), "provider": .optional(provider?.rawValue), "host": .optional(host),
            "op": .string(operation.rawValue), "duration_ms": .int(durationMilliseconds),
            "outcome": .string(outcome.rawValue), "error_kind": .optional(errorKind?.rawValue),
            "status_since": .optional(statusSince), "previous_status": .optional(previousStatus?.rawValue),
            "changed": .bool(changed), "report": report,
        ])
    }

    /// The line as printed: compact, every string redacted, control characters escaped, and
    /// capped in length by replacing the report's largest fields with a marker.
    public func rendered(redactor: Redactor) -> String {
        let line = redactor.serialized(json)
        if line.utf8.count <= Self.maximumLength { return line }
        var shortened = self
        if case .object(var report) = report {
            let sizes = report.entries.map {
                ($0.key, redactor.serialized($0.value).utf8.count)
            }
            .sorted { $0.1 > $1.1 }
            for (key, size) in sizes {
                report[key] = ["truncated": true, "bytes": .int(size)]
                shortened.report = .object(report)
                let candidate = redactor.serialized(shortened.json)
                if candidate.utf8.count <= Self.maximumLength { return candidate }
            }
        }
        shortened.report = ["truncated": true, "bytes": .int(line.utf8.count)]
        return redactor.serialized(shortened.json)
    }
}

/// The final line of a run: counts per outcome and per effective status, and the wall time.
public struct FleetSummary: Sendable, Equatable {
    public var tick: String
    public var operation: FleetLine.Operation
    public var projects = 0
    public var outcomes: [FleetLine.Outcome: Int] = [:]
    public var statuses: [EffectiveStatus: Int] = [:]
    public var wallMilliseconds = 0
    public var handshakes = 0
    /// Of `handshakes`, the sessions run through a jump host (ProxyJump); the rest are direct,
    /// the jump hosts' own among them.
    public var tunnelledHandshakes = 0
    public var remoteCommands = 0
    public var interrupted = false
    /// Notifications delivered and failed after the lines (fleet.yaml `notify:`).
    public var notificationsSent = 0
    public var notificationsFailed = 0
    /// Selected projects without a line because the run was cancelled (SIGTERM) first: in flight
    /// and not completed, or not started. Sorted.
    public var interruptedProjects: [String] = []

    public init(tick: String, operation: FleetLine.Operation) {
        self.tick = tick
        self.operation = operation
    }

    mutating func add(_ line: FleetLine, remoteCommands commands: Int) {
        projects += 1
        outcomes[line.outcome, default: 0] += 1
        statuses[line.effectiveStatus ?? .unknown, default: 0] += 1
        remoteCommands += commands
    }

    public var json: JSONValue {
        func counts<Key: RawRepresentable<String>>(_ typed: [Key: Int], keys: [String]) -> JSONValue {
            let values = Dictionary(uniqueKeysWithValues: typed.map { ($0.key.rawValue, $0.value) })
            let ordered = keys + values.keys.filter { !keys.contains($0) }.sorted()
            return .object(JSONObject(ordered.map { ($0, JSONValue.int(values[$0] ?? 0)) }))
        }
        return .object([
            "schema": .int(FleetLine.schemaVersion), "tick": .string(tick), "ts": .string(Timestamp.now()),
            "op": .string(operation.rawValue),
            "summary": [
                "projects": .int(projects),
                "outcomes": counts(outcomes, keys: FleetLine.Outcome.allCases.map(\.rawValue)),
                "effective_status": counts(statuses, keys: []),
                "ssh_handshakes": .int(handshakes),
                "ssh_handshakes_through_jump_hosts": .int(tunnelledHandshakes),
                "remote_commands": .int(remoteCommands),
                "interrupted": .bool(interrupted),
                "notifications": ["sent": .int(notificationsSent), "failed": .int(notificationsFailed)],
            ],
            "wall_ms": .int(wallMilliseconds),
        ])
    }
}
