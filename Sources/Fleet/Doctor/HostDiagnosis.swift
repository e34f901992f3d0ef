import FleetCore
import RunnerProtocol
import SSHClient
import Transport

/// What `doctor` found about one runner host: how it is reached and where each setting came
/// from, the network, the SSH session, and what the runner has. Every string is redacted when
/// written (`json`, `text`).
public struct HostDiagnosis: Sendable {
    /// One resolved connection setting and where it came from (`cloud.yaml`, `ssh_config`,
    /// `--known-hosts`, `default`, ...).
    public struct Setting: Sendable, Equatable {
        public var name: String
        public var value: String
        public var source: String
    }

    /// `host:port` as every line and message shows it, or the runner's label for other providers.
    public var host: String
    /// The projects whose runner this is, by name.
    public var projects: [String]
    /// Nil when the project's cloud.yaml could not be loaded.
    public var provider: CloudSpec.Provider?
    public var settings: [Setting] = []
    public var reach: SSHReachability?
    public var session: SSHSessionFacts?
    /// The SSH failure (its error kind and message) when no session could be set up.
    public var failure: FleetError?
    public var runner: [RunnerCheck.Result] = []
    /// What makes the host unusable, one line each; empty when it is fully usable.
    public var problems: [String] = []

    /// Whether `doctor` checked this host (it reaches ssh runners; `local` and `railway` ones are
    /// listed, not checked).
    public var checked: Bool { provider == .ssh }
    public var usable: Bool { problems.isEmpty }

    /// One JSON object for `--json`.
    public func json(_ redactor: Redactor) -> JSONObject {
        func text(_ value: String) -> JSONValue { .string(redactor.redact(value)) }
        var object: JSONObject = [
            "schema": 1, "host": text(host), "projects": .strings(projects),
            "provider": .optional(provider?.rawValue), "checked": .bool(checked), "usable": .bool(usable),
        ]
        guard checked else {
            if !problems.isEmpty { object["problems"] = .array(problems.map(text)) }
            return object
        }
        object["route"] = .array(
            settings.map { ["name": .string($0.name), "value": text($0.value), "source": text($0.source)] })
        if let reach {
            object["dns"] = [
                "addresses": .strings(reach.addresses),
                "ms": reach.lookupTime.map { .int(Self.milliseconds($0)) } ?? .null,
            ]
            object["tcp_connect_ms"] = reach.connectTime.map { .int(Self.milliseconds($0)) } ?? .null
        }
        object["banner"] = (reach?.banner ?? session?.banner).map(text) ?? .null
        object["host_key"] = session.map { text($0.hostKey) } ?? .null
        object["known_hosts"] = session.map { text($0.knownHosts) } ?? .null
        object["auth"] = session.map { text($0.authentication) } ?? .null
        if let failure {
            object["error_kind"] = .optional(failure.kind?.rawValue)
            object["error"] = text(failure.message)
        }
        object["runner"] = .object(
            JSONObject(
                runner.map { ($0.name, ["ok": .bool($0.ok), "detail": text($0.detail)] as JSONValue) }))
        object["problems"] = .array(problems.map(text))
        return object
    }

    /// The readable report: one block per host, a line per fact.
    public func text(_ redactor: Redactor) -> String {
        var lines = [
            "\(host) (\(projects.count == 1 ? "project" : "projects") \(projects.joined(separator: ", ")))"
        ]
        func add(_ label: String, _ value: String) {
            lines.append("  " + label.padding(toLength: 16, withPad: " ", startingAt: 0) + value)
        }
        guard checked else {
            if let provider {
                add("provider", "\(provider.rawValue): not reached over SSH, nothing to check")
            }
            if !problems.isEmpty { lines.append("  NOT USABLE: " + problems.joined(separator: "; ")) }
            return lines.map(redactor.redact).joined(separator: "\n") + "\n"
        }
        for setting in settings { add(setting.name, "\(setting.value)  (\(setting.source))") }
        if let reach {
            if let time = reach.lookupTime {
                add("dns", "\(reach.addresses.joined(separator: ", ")) in \(Self.milliseconds(time)) ms")
            }
            if let time = reach.connectTime { add("tcp", "connected in \(Self.milliseconds(time)) ms") }
        }
        if let banner = reach?.banner ?? session?.banner { add("banner", banner) }
        if let session {
            add("host key", "\(session.hostKey) (\(session.knownHosts))")
            add("auth", session.authentication)
        }
        if let failure { add("ssh", "\(failure.kind?.rawValue ?? "error"): \(failure.message)") }
        for check in runner {
            add(
                check.name,
                (check.ok ? "ok  " : check.name == "workspace" ? "absent  " : "MISSING  ") + check.detail)
        }
        lines.append(usable ? "  usable" : "  NOT USABLE: " + problems.joined(separator: "; "))
        return lines.map(redactor.redact).joined(separator: "\n") + "\n"
    }

    static func milliseconds(_ duration: Duration) -> Int { Int((duration / .milliseconds(1)).rounded()) }
}
