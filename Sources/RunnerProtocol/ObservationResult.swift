import FleetCore

/// A file read on the runner: its text or the error `cat` would have printed.
public struct RemoteRead: Sendable, Equatable {
    public var text: String?
    public var error: String?
}

/// One probe command's outcome on the runner.
public struct ProbeOutcome: Sendable, Equatable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// For megaplan's probes: whether the runner called megaplan in its status program or ran
    /// the command (`probe_mode`).
    public var mode: RunnerProbes? = nil

    public init(status: Int32, stdout: String, stderr: String, mode: RunnerProbes? = nil) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.mode = mode
    }

    /// The reference's provider error for a non-zero probe (§0.5).
    public var failureMessage: String? {
        guard status != 0 else { return nil }
        let trimmed = stderr.trimmed
        return trimmed.isEmpty ? "Command failed (exit \(status))" : trimmed
    }
}

/// What one observation saw on the runner, before any interpretation.
public struct Observation: Sendable, Equatable {
    public var state = RemoteRead()
    public var spec = RemoteRead()
    public var policy = RemoteRead()
    public var workspace: String?
    public var session: String?
    public var planStatus: ProbeOutcome?
    public var runner: ProbeOutcome?
    public var stat: ProbeOutcome?
    public var verify: ProbeOutcome?
    public var pullRequest: ProbeOutcome?
}

/// The sync refresh one script run performed: the command it ran and how it ended.
public struct RefreshRun: Sendable, Equatable {
    public var command: String
    public var outcome: ProbeOutcome
}

/// The decoded result of one script run (what `Programs/status_read.py` prints after
/// `ObservationScript.resultPrefix`).
public struct ObservationResult: Sendable, Equatable {
    /// The first observation (absent when the run was a refresh and re-read only).
    public var observation: Observation?
    public var refresh: RefreshRun?
    /// Why the runner did not start the refresh (too little of the deadline left), if so.
    public var refreshSkipped: String?
    /// The observation after a successful refresh.
    public var reread: Observation?

    /// Decodes the script's stdout; anything else (a runner without python3, garbage, truncated
    /// output) is a clear `provider_failed` error naming the runner.
    public static func decode(status: Int32, stdout: String, stderr: String, host: String) throws(FleetError)
        -> ObservationResult
    {
        // Bytes, not Characters: a reply is up to `OutputLimits.statusReply` of untrusted text.
        let prefix = ObservationScript.resultPrefix.utf8
        guard status == 0,
            let line = stdout.utf8.split(separator: UInt8(ascii: "\n")).last(where: {
                $0.starts(with: prefix)
            })
        else {
            let detail = stderr.trimmed.isEmpty ? stdout.trimmed : stderr.trimmed
            throw FleetError(
                .providerFailed,
                "runner \(host) did not answer the status read (exit \(status)): \(TextCut.excerpt(detail))",
                kind: .remoteError)
        }
        guard case .object(let object)? = try? JSONValue.parse(utf8: line.dropFirst(prefix.count)) else {
            throw FleetError(
                .providerFailed, "runner \(host) returned an unreadable status read", kind: .remoteError)
        }
        var result = ObservationResult()
        result.observation = observation(object["observation"])
        if let outcome = probe(object["refresh"]), let command = object["refresh"]?["cmd"]?.stringValue {
            result.refresh = RefreshRun(command: command, outcome: outcome)
        }
        result.reread = observation(object["reread"])
        result.refreshSkipped = object["refresh_skipped"]?.stringValue
        return result
    }

    private static func observation(_ value: JSONValue?) -> Observation? {
        guard case .object(let observed)? = value else { return nil }
        var observation = Observation()
        observation.state = read(observed["state"])
        observation.spec = read(observed["spec"])
        observation.policy = read(observed["policy"])
        observation.workspace = observed["context"]?["workspace"]?.stringValue
        observation.session = observed["context"]?["session"]?.stringValue
        observation.planStatus = probe(observed["plan_status"])
        observation.runner = probe(observed["runner"])
        observation.stat = probe(observed["stat"])
        observation.verify = probe(observed["verify"])
        observation.pullRequest = probe(observed["pr_probe"])
        return observation
    }

    private static func read(_ value: JSONValue?) -> RemoteRead {
        RemoteRead(
            text: value?["text"]?.stringValue,
            error: value?["error"]?.stringValue ?? (value == nil ? "not read" : nil))
    }

    private static func probe(_ value: JSONValue?) -> ProbeOutcome? {
        guard let value, case .int(let status)? = value["rc"] else { return nil }
        return ProbeOutcome(
            status: Int32(clamping: status), stdout: value["out"]?.stringValue ?? "",
            stderr: value["err"]?.stringValue ?? "",
            mode: value["probe_mode"]?.stringValue.flatMap(RunnerProbes.init(rawValue:)))
    }
}
