import Fleet
import FleetCore
import Locks
import Transport

@testable import RunnerProtocol

/// A runner in memory playing one `ScenarioHost`: a healthy host answers the status read with a
/// reply built from the types the real program's reply decodes into (`ObservationResult`), a
/// broken one fails as its transport would. The fleet above it (limits, deadlines, outcomes,
/// lines) then runs exactly as against sshd, in milliseconds.
struct InMemoryRunner: CommandRunner {
    /// What the runner's chain is.
    enum Chain: Sendable {
        case shape(ChainShape)
        /// No current plan and the runner's tmux session gone: the tick restarts it, and the
        /// restart command exits with `restartStatus`.
        case stale(restartStatus: Int32)
    }

    let hostLabel: String
    let host: ScenarioHost
    let chain: Chain
    /// How long a healthy host takes to answer a command.
    let latency: Duration
    /// Counts the commands in flight, when a test measures the limits.
    let meter: InFlightMeter?
    private let issued = Locked(0)

    init(
        hostLabel: String, host: ScenarioHost, chain: Chain, latency: Duration = .milliseconds(2),
        meter: InFlightMeter? = nil
    ) {
        self.hostLabel = hostLabel
        self.host = host
        self.chain = chain
        self.latency = latency
        self.meter = meter
    }

    var commandCount: Int { issued.withLock { $0 } }

    func referenceArgv(_ command: String) -> [String] { ["ssh", hostLabel, command] }

    func run(_ command: String, stdin: [UInt8]?, deadline: Duration?, outputLimit: Int?)
        async throws(FleetError) -> RunnerOutput
    {
        issued.withLock { $0 += 1 }
        meter?.enter(hostLabel)
        defer { meter?.leave(hostLabel) }
        switch host {
        case .healthyA, .healthyB:
            try? await Task.sleep(for: latency)
            return answer(command)
        case .garbage:
            return RunnerOutput(status: 0, stdout: "Welcome!\n<<<not an observation>>>\n", stderr: "")
        case .frozen:
            // Never answers: only the project's deadline (which cancels the work) ends the wait.
            try? await Task.sleep(for: .seconds(3600))
            throw FleetError(.providerFailed, "request to \(hostLabel) was cancelled")
        case .down, .rotated, .revoked:
            throw FleetError(.providerFailed, "\(hostLabel) is \(host.rawValue)", kind: host.errorKind)
        }
    }

    /// The status read's reply, the tmux restart's exit, or the PR probe's `open`.
    private func answer(_ command: String) -> RunnerOutput {
        // `ObservationScript.command` runs the status program with `python3 -c`.
        if command.hasPrefix("python3 -c ") {
            return RunnerOutput(status: 0, stdout: statusRead.reply, stderr: "")
        }
        if case .stale(let status) = chain, command.contains("tmux new-session") {
            return RunnerOutput(status: status, stdout: "", stderr: status == 0 ? "" : "tmux: no server\n")
        }
        return RunnerOutput(status: 0, stdout: "OPEN\n", stderr: "")
    }

    /// One observation of the chain; a refresh is declined, as a runner short of time does, so a
    /// tick is one status read.
    private var statusRead: ObservationResult {
        var observation = Observation()
        observation.spec = RemoteRead(
            text: "milestones:\n"
                + ["m1", "m2", "m3"].map { "  - label: \($0)\n    idea: ideas/\($0).md\n" }.joined())
        observation.policy = RemoteRead(error: "No such file or directory")
        switch chain {
        case .shape(let shape):
            observation.state = RemoteRead(text: shape.stateText)
        case .stale:
            observation.state = RemoteRead(text: #"{"current_milestone_index": 0, "last_state": "done"}"#)
            observation.runner = ProbeOutcome(status: 0, stdout: "dead\n", stderr: "")
        }
        var result = ObservationResult()
        result.observation = observation
        result.refreshSkipped = "in memory"
        return result
    }
}

/// The most commands in flight at once, per host and across hosts.
final class InFlightMeter: Sendable {
    private struct Counts {
        var now: [String: Int] = [:]
        var most: [String: Int] = [:]
        var total = 0
        var mostTotal = 0
    }
    private let counts = Locked(Counts())

    func enter(_ host: String) {
        counts.withLock {
            $0.now[host, default: 0] += 1
            $0.most[host] = max($0.most[host] ?? 0, $0.now[host]!)
            $0.total += 1
            $0.mostTotal = max($0.mostTotal, $0.total)
        }
    }

    func leave(_ host: String) {
        counts.withLock {
            $0.now[host, default: 0] -= 1
            $0.total -= 1
        }
    }

    var mostPerHost: [String: Int] { counts.withLock { $0.most } }
    var mostAtOnce: Int { counts.withLock { $0.mostTotal } }
}

extension ObservationResult {
    /// What the status program prints for this result: the inverse of `decode`.
    var reply: String {
        var object: JSONObject = ["observation": observation.map(\.json) ?? .null]
        object["refresh_skipped"] = refreshSkipped.map(JSONValue.string)
        return ObservationScript.resultPrefix + JSONValue.object(object).serialized() + "\n"
    }
}

extension Observation {
    /// The program's JSON for one observation (the keys `ObservationResult.decode` reads).
    var json: JSONValue {
        func read(_ read: RemoteRead) -> JSONValue {
            read.text.map { ["text": .string($0)] } ?? ["error": .optional(read.error)]
        }
        func probe(_ probe: ProbeOutcome?) -> JSONValue? {
            probe.map { ["rc": .int(Int($0.status)), "out": .string($0.stdout), "err": .string($0.stderr)] }
        }
        var object: JSONObject = [
            "state": read(state), "spec": read(spec), "policy": read(policy),
            "context": ["workspace": .optional(workspace), "session": .optional(session)],
        ]
        object["plan_status"] = probe(planStatus)
        object["runner"] = probe(runner)
        object["stat"] = probe(stat)
        object["verify"] = probe(verify)
        object["pr_probe"] = probe(pullRequest)
        return .object(object)
    }
}
