import FleetCore
import RunnerProtocol
import Transport

/// A file read on the runner: its text or the error `cat` would have printed.
struct RemoteRead: Sendable, Equatable {
    var text: String?
    var error: String?
}

/// One probe command's outcome on the runner.
struct ProbeOutcome: Sendable, Equatable {
    var status: Int32
    var stdout: String
    var stderr: String
    /// For megaplan's probes: whether the runner called megaplan in its status program or ran
    /// the command (`probe_mode`).
    var mode: RunnerProbes? = nil

    /// The reference's provider error for a non-zero probe (§0.5).
    var failureMessage: String? {
        guard status != 0 else { return nil }
        let trimmed = stderr.trimmed
        return trimmed.isEmpty ? "Command failed (exit \(status))" : trimmed
    }
}

/// What one observation saw on the runner, before any interpretation.
struct Observation: Sendable, Equatable {
    var state = RemoteRead()
    var spec = RemoteRead()
    var policy = RemoteRead()
    var workspace: String?
    var session: String?
    var planStatus: ProbeOutcome?
    var runner: ProbeOutcome?
    var stat: ProbeOutcome?
    var verify: ProbeOutcome?
    var pullRequest: ProbeOutcome?
}

/// The sync refresh one script run performed: the command it ran and how it ended.
struct RefreshRun: Sendable, Equatable {
    var command: String
    var outcome: ProbeOutcome
}

/// The decoded result of one script run.
struct ObservationResult: Sendable, Equatable {
    /// The first observation (absent when the run was a refresh and re-read only).
    var observation: Observation?
    var refresh: RefreshRun?
    /// Why the runner did not start the refresh (too little of the deadline left), if so.
    var refreshSkipped: String?
    /// The observation after a successful refresh.
    var reread: Observation?

    /// Decodes the script's stdout; anything else (a runner without python3, garbage, truncated
    /// output) is a clear `provider_failed` error naming the runner.
    static func decode(_ output: RunnerOutput, host: String) throws(FleetError) -> ObservationResult {
        // Bytes, not Characters: a reply is up to `OutputLimits.statusReply` of untrusted text.
        let prefix = ObservationScript.resultPrefix.utf8
        guard output.status == 0,
            let line = output.stdout.utf8.split(separator: UInt8(ascii: "\n")).last(where: {
                $0.starts(with: prefix)
            })
        else {
            let detail = output.stderr.trimmed.isEmpty ? output.stdout.trimmed : output.stderr.trimmed
            throw FleetError(
                .providerFailed,
                "runner \(host) did not answer the status read (exit \(output.status)): \(TextCut.excerpt(detail))",
                kind: "remote_error")
        }
        guard case .object(let object)? = try? JSONValue.parse(utf8: line.dropFirst(prefix.count)) else {
            throw FleetError(
                .providerFailed, "runner \(host) returned an unreadable status read", kind: "remote_error")
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
