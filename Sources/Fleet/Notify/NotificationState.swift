import FleetCore

/// What a project's runs remember of their notifications (`notifications.json` beside the chain's
/// marker and status history): per target, the condition last notified, when, and whether that
/// send failed. One file per project, so shards never share one.
public struct NotificationState: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        /// `error`, or the effective status (else outcome) the notification was about.
        public var condition: NotifyTarget.Condition
        /// Wall-clock seconds of the last successful send (0 before the first).
        public var sentAt: Double
        /// The last send failed: the next run tries again.
        public var pending: Bool
    }

    /// By `NotifyTarget.identity`.
    public var entries: [String: Entry] = [:]

    static let fileName = "notifications.json"
    public init() {}

    /// Why a target is sent to now.
    public enum Reason: String, Sendable { case changed, reminder, retry }

    /// The condition a line is in, for notifications: `error` for an error line, else its
    /// effective status (or outcome when it has none); nil for a line that observed nothing
    /// (`skipped`: another process holds the chain), which leaves the state as it is.
    public static func condition(of line: FleetLine) -> NotifyTarget.Condition? {
        switch line.outcome {
        case .skipped: nil
        case .error: .outcome(.error)
        case .ok, .blocked: line.effectiveStatus.map { .status($0) } ?? .outcome(line.outcome)
        }
    }

    /// Whether `target` is sent to for `line` at `now`, updating the entry for what is decided
    /// (a send's result is recorded with `record`). Leaving the target's conditions forgets it,
    /// so coming back notifies again.
    public mutating func decide(_ target: NotifyTarget, line: FleetLine, now: Double) -> Reason? {
        guard let condition = Self.condition(of: line) else { return nil }
        let matches =
            target.on.contains(.outcome(line.outcome))
            || line.effectiveStatus.map { target.on.contains(.status($0)) } == true
        guard matches else {
            entries[target.identity] = nil
            return nil
        }
        guard let entry = entries[target.identity], entry.condition == condition else { return .changed }
        if entry.pending { return .retry }
        return now - entry.sentAt >= Double(target.remindAfterSeconds) ? .reminder : nil
    }

    /// Records the result of a send decided by `decide`.
    public mutating func record(
        _ target: NotifyTarget, condition: NotifyTarget.Condition, sent: Bool, now: Double
    ) {
        let previous = entries[target.identity].flatMap { $0.condition == condition ? $0.sentAt : nil } ?? 0
        entries[target.identity] = Entry(condition: condition, sentAt: sent ? now : previous, pending: !sent)
    }

    /// The recorded state, empty when there is none or it cannot be read.
    public static func read(in directory: String) -> NotificationState {
        var state = NotificationState()
        guard let text = FileSystem.readText(directory + "/" + fileName, limit: 256 << 10),
            case .object(let object)? = try? JSONValue.parse(text),
            case .object(let targets)? = object["targets"]
        else { return state }
        for (identity, value) in targets.entries {
            guard case .object(let entry) = value,
                let condition = entry["condition"]?.stringValue.flatMap(NotifyTarget.Condition.init(word:))
            else { continue }
            let sentAt: Double =
                switch entry["sent_at"] {
                case .int(let seconds)?: Double(seconds)
                case .double(let seconds)?: seconds
                default: 0
                }
            state.entries[identity] = Entry(
                condition: condition, sentAt: sentAt, pending: entry["pending"] == .bool(true))
        }
        return state
    }

    /// Written atomically, 0600, in the chain's private directory (see `StatusHistory.write`).
    public func write(in directory: String, below base: String) throws(FleetError) {
        try FileSystem.secureDirectory(directory, below: base)
        let targets = JSONObject(
            entries.keys.sorted().map { identity in
                let entry = entries[identity]!
                return (
                    identity,
                    JSONValue.object([
                        "condition": .string(entry.condition.word), "sent_at": .double(entry.sentAt),
                        "pending": .bool(entry.pending),
                    ])
                )
            })
        try FileSystem.writeAtomically(
            directory + "/" + Self.fileName,
            text: JSONValue.object(["targets": .object(targets)]).serialized() + "\n",
            mode: 0o600)
    }
}
