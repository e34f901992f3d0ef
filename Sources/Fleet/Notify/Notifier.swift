import FleetCore

/// Sends the notifications a run's lines call for (fleet.yaml `notify:`), all at once, and records
/// per project what was sent so the next run notifies only on a change, a reminder or a retry.
public struct Notifier: Sendable {
    /// What a run's notifications did, for the summary line and stderr.
    public struct Report: Sendable, Equatable {
        public var sent = 0
        public var failed = 0
        /// One redacted line per failure, sorted.
        public var failures: [String] = []
    }

    public let targets: [NotifyTarget]
    public let stateDirectory: StateDirectory
    public let environment: [String: String]

    public init(targets: [NotifyTarget], stateDirectory: StateDirectory, environment: [String: String]) {
        self.targets = targets
        self.stateDirectory = stateDirectory
        self.environment = environment
    }

    /// Sends for every line and records the results, ending by `deadline` whatever the targets do.
    /// `projects` gives each line's cloud.yaml (the marker directory's key) and `redactors` its
    /// secrets: every event and failure message is redacted with the line's redactor.
    public func deliver(
        _ lines: [FleetLine], projects: [FleetFile.Project], redactors: [String: Redactor],
        until deadline: ContinuousClock.Instant
    ) async -> Report {
        let cloudYAML = Dictionary(uniqueKeysWithValues: projects.map { ($0.name, $0.cloudYAML) })
        let reports = await withTaskGroup(of: Report.self) { group in
            for line in lines {
                guard let path = cloudYAML[line.project] else { continue }
                let redactor = redactors[line.project] ?? .shapesOnly
                group.addTask {
                    await deliver(line, cloudYAML: path, redactor: redactor, until: deadline)
                }
            }
            var total = Report()
            for await report in group {
                total.sent += report.sent
                total.failed += report.failed
                total.failures += report.failures
            }
            return total
        }
        var sorted = reports
        sorted.failures.sort()
        return sorted
    }

    private func deliver(
        _ line: FleetLine, cloudYAML: String, redactor: Redactor, until deadline: ContinuousClock.Instant
    ) async -> Report {
        let directory = stateDirectory.markerDirectory(forCloudYAML: cloudYAML)
        var state = NotificationState.read(in: directory)
        let before = state
        let now = Timestamp.wallClock()
        var due: [(NotifyTarget, NotificationState.Reason)] = []
        for target in targets {
            if let reason = state.decide(target, line: line, now: now) { due.append((target, reason)) }
        }
        var report = Report()
        if let condition = NotificationState.condition(of: line), !due.isEmpty {
            let results = await withTaskGroup(of: (Int, String?).self) { group in
                for (index, (target, reason)) in due.enumerated() {
                    let body = Array(redactor.serialized(NotifyEvent.json(for: line, reason: reason)).utf8)
                    group.addTask {
                        (
                            index,
                            await NotificationSender.send(
                                body, to: target, environment: environment, until: deadline)
                        )
                    }
                }
                var results: [(Int, String?)] = []
                for await result in group { results.append(result) }
                return results
            }
            for (index, failure) in results {
                let target = due[index].0
                state.record(target, condition: condition, sent: failure == nil, now: now)
                if let failure {
                    report.failed += 1
                    report.failures.append(
                        redactor.redact(
                            "notify \(line.project) via \(Self.describe(target)): \(Self.hidingURL(of: target, in: failure))"
                        ))
                } else {
                    report.sent += 1
                }
            }
        }
        if state != before {
            do {
                try state.write(in: directory, below: stateDirectory.checkedBelow)
            } catch {
                report.failures.append(redactor.redact("notify \(line.project): \(error.message)"))
            }
        }
        return report
    }

    /// A webhook by scheme and host only: the rest of a webhook URL is often its secret (Slack).
    static func describe(_ target: NotifyTarget) -> String {
        switch target.destination {
        case .webhook(let url, _):
            let scheme = url.lowercased().hasPrefix("https://") ? "https://" : "http://"
            let host = url.dropFirst(scheme.count).split(separator: "/").first ?? ""
            return "webhook \(scheme)\(host)/…"
        case .command(let argv): return "command \(argv[0])"
        }
    }

    private static func hidingURL(of target: NotifyTarget, in message: String) -> String {
        guard case .webhook(let url, _) = target.destination else { return message }
        return message.replacing(url, with: describe(target))
    }
}
