import FleetCore

/// What a project's runs remember of its effective status: the status, since when, and the one
/// before, kept beside the chain's marker (`status-history.json`). Each project has its own file,
/// so shards on different machines never share one.
public struct StatusHistory: Sendable, Equatable {
    public var status: EffectiveStatus
    /// When the project entered `status` (the `ts` of the first line that saw it), ISO-8601 UTC.
    public var since: String
    public var previousStatus: EffectiveStatus?

    public init(status: EffectiveStatus, since: String, previousStatus: EffectiveStatus?) {
        self.status = status
        self.since = since
        self.previousStatus = previousStatus
    }

    static let fileName = "status-history.json"

    /// The recorded history, or nil when there is none or it cannot be read (a run killed before
    /// its atomic rename leaves the previous file, never a partial one; a status this version
    /// does not know is unreadable too).
    public static func read(in directory: String) -> StatusHistory? {
        guard let text = FileSystem.readText(directory + "/" + fileName, limit: 64 << 10),
            case .object(let object)? = try? JSONValue.parse(text),
            let status = object["status"]?.stringValue.flatMap(EffectiveStatus.init(rawValue:)),
            let since = object["since"]?.stringValue
        else { return nil }
        return StatusHistory(
            status: status, since: since,
            previousStatus: object["previous_status"]?.stringValue.flatMap(EffectiveStatus.init(rawValue:)))
    }

    /// The history after a run saw `status` at `timestamp`: unchanged when the status is the
    /// same, else a new entry whose previous status is the old one. `changed` is false on a
    /// project's first run.
    public static func next(after recorded: StatusHistory?, status: EffectiveStatus, at timestamp: String)
        -> (
            history: StatusHistory, changed: Bool
        )
    {
        guard let recorded else {
            return (StatusHistory(status: status, since: timestamp, previousStatus: nil), false)
        }
        if recorded.status == status { return (recorded, false) }
        return (StatusHistory(status: status, since: timestamp, previousStatus: recorded.status), true)
    }

    /// Written atomically, 0600, in the chain's private directory (every directory below `base`
    /// checked, see `FileSystem.secureDirectory`).
    public func write(in directory: String, below base: String) throws(FleetError) {
        try FileSystem.secureDirectory(directory, below: base)
        let object: JSONObject = [
            "status": .string(status.rawValue), "since": .string(since),
            "previous_status": .optional(previousStatus?.rawValue),
        ]
        try FileSystem.writeAtomically(
            directory + "/" + Self.fileName, text: JSONValue.object(object).serialized() + "\n", mode: 0o600)
    }
}
