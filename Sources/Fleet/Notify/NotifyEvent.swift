import FleetCore

/// The JSON a notification target receives for one project (README: "Notification event").
public enum NotifyEvent {
    public static let schemaVersion = 1

    /// The report's reason in one line: why the tick refused or failed (`refused_reason`, an error
    /// line's `message`), at most 500 characters.
    static func reason(of line: FleetLine) -> String? {
        let text = ["refused_reason", "message", "reason"].lazy.compactMap { line.report[$0]?.stringValue }
            .first { !$0.isBlank }
        guard let text else { return nil }
        let oneLine = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return TextCut.excerpt(oneLine, limit: 500)
    }

    /// The event, unredacted: callers serialize it with the project's redactor.
    static func json(for line: FleetLine, reason kind: NotificationState.Reason) -> JSONValue {
        let reason = reason(of: line)
        let status = (line.effectiveStatus ?? .unknown).rawValue
        var text =
            line.outcome == .error
            ? "megaplan-fleet: \(line.project) failed (\(line.errorKind?.rawValue ?? "error"))"
            : "megaplan-fleet: \(line.project) is \(status)"
        if let previous = line.previousStatus, line.outcome != .error {
            text += " (was \(previous.rawValue))"
        }
        if let since = line.statusSince { text += " since \(since)" }
        if let reason { text += ": \(reason)" }
        if kind == .reminder { text = "Reminder: " + text }
        return .object([
            "schema": .int(schemaVersion), "event": .string(kind.rawValue), "tick": .string(line.tick),
            "ts": .string(line.timestamp), "project": .string(line.project),
            "status": .optional(line.effectiveStatus?.rawValue),
            "previous_status": .optional(line.previousStatus?.rawValue), "since": .optional(line.statusSince),
            "outcome": .string(line.outcome.rawValue), "error_kind": .optional(line.errorKind?.rawValue),
            "reason": .optional(reason), "text": .string(text),
        ])
    }
}
