/// One entry of fleet.yaml `notify:`: where a change of a project's status is sent, on which
/// statuses and outcomes, and how often while it stays. Header values name environment variables,
/// so no secret is ever written in the fleet file.
public struct NotifyTarget: Sendable, Equatable {
    public enum Destination: Sendable, Equatable {
        /// POSTed as JSON; each header's value is read from the named environment variable at send time.
        case webhook(url: String, headers: [Header])
        /// Run without a shell, the event JSON on stdin; the first element is an absolute path.
        case command([String])
    }

    public struct Header: Sendable, Equatable {
        public var name: String
        public var environmentVariable: String
    }

    /// What `on:` names: an outcome of a fleet line or an effective status of a chain.
    public enum Condition: Hashable, Sendable {
        case outcome(FleetOutcome)
        case status(EffectiveStatus)

        /// Every condition, outcomes first: the order the error for an unknown word lists them.
        public static let all = FleetOutcome.allCases.map(outcome) + EffectiveStatus.allCases.map(status)

        /// The condition fleet.yaml (or a state file) names with `word`.
        public init?(word: String) {
            guard let condition = Self.all.first(where: { $0.word == word }) else { return nil }
            self = condition
        }

        /// The word fleet.yaml spells it with.
        public var word: String {
            switch self {
            case .outcome(let outcome): outcome.rawValue
            case .status(let status): status.rawValue
            }
        }
    }

    public var destination: Destination
    /// Outcomes and effective statuses that notify.
    public var on: Set<Condition>
    public var remindAfterSeconds: Int

    /// The blocked statuses and `error`.
    public static let defaultConditions: Set<Condition> = [
        .status(.awaitingPRMerge), .status(.awaitingHumanVerify), .status(.humanPrerequisite),
        .status(.qualityGate), .outcome(.error),
    ]
    public static let defaultRemindAfterSeconds = 86_400
    /// A year: a longer interval is a typo.
    public static let maximumRemindAfterSeconds = 365 * 86_400
    static let keys = ["webhook", "headers", "command", "on", "remind_after"]

    /// Stable across runs and reorderings of the list: the key of this target's notification state.
    public var identity: String {
        switch destination {
        case .webhook(let url, _): Digest.sha256Hex("webhook\0" + url).prefix(16).description
        case .command(let argv):
            Digest.sha256Hex("command\0" + argv.joined(separator: "\0")).prefix(16).description
        }
    }

    /// `30s`, `30m`, `24h`, `7d`: a positive whole number and a unit.
    public static func parseDuration(_ text: String) -> Int? {
        guard let unit = text.last, let count = Int(text.dropLast()), count > 0,
            text.dropLast().allSatisfy(\.isASCII)
        else { return nil }
        let multiplier: Int
        switch unit {
        case "s": multiplier = 1
        case "m": multiplier = 60
        case "h": multiplier = 3_600
        case "d": multiplier = 86_400
        default: return nil
        }
        let (seconds, overflow) = count.multipliedReportingOverflow(by: multiplier)
        guard !overflow, seconds <= maximumRemindAfterSeconds else { return nil }
        return seconds
    }

    /// The `notify:` list of a fleet file; every mistake names the entry and field.
    static func parseList(_ node: YAMLNode, reader: YAMLReader) throws(FleetError) -> [NotifyTarget] {
        func fail(_ message: String, _ at: YAMLNode?) -> FleetError {
            reader.error(.invalidFleet, message, at: at)
        }
        guard let items = node.sequence else { throw fail("`notify` must be a list of targets", node) }
        var targets: [NotifyTarget] = []
        for (index, item) in items.enumerated() {
            let label = "notify[\(index)]"
            guard let mapping = item.mapping else { throw fail("`\(label)` must be a mapping", item) }
            // By the key's text: YAML 1.1 reads a plain `on` as the boolean true.
            var fields: [String: YAMLNode] = [:]
            for (key, value) in mapping {
                guard let name = key.scalarText, keys.contains(name) else {
                    throw reader.unknownKey(key, in: label, allowed: keys, code: .invalidFleet)
                }
                fields[name] = value
            }
            let webhook = fields["webhook"].flatMap { $0.isNull ? nil : $0 }
            let command = fields["command"].flatMap { $0.isNull ? nil : $0 }
            let destination: Destination
            switch (webhook, command) {
            case (let node?, nil):
                destination = .webhook(
                    url: try parseURL(node, label: label, fail: fail),
                    headers: try parseHeaders(fields["headers"], label: label, fail: fail))
            case (nil, let node?):
                if let headers = fields["headers"], !headers.isNull {
                    throw fail("`\(label).headers` applies to a webhook only", headers)
                }
                destination = .command(try parseCommand(node, label: label, fail: fail))
            case (nil, nil):
                throw fail("`\(label)` needs `webhook` (a URL) or `command` (an argv list)", item)
            case (_?, let second?):
                throw fail("`\(label)` has both `webhook` and `command`; one target per entry", second)
            }
            var on = defaultConditions
            if let node = fields["on"], !node.isNull {
                guard let list = node.sequence, !list.isEmpty else {
                    throw fail("`\(label).on` must be a non-empty list of statuses and outcomes", node)
                }
                on = []
                for element in list {
                    guard let condition = element.stringScalar.flatMap(Condition.init(word:)) else {
                        throw fail(
                            "`\(label).on`: unknown value \(element.pythonValue); expected any of: \(Condition.all.map(\.word).joined(separator: ", "))",
                            element)
                    }
                    on.insert(condition)
                }
            }
            var remindAfter = defaultRemindAfterSeconds
            if let node = fields["remind_after"], !node.isNull {
                guard let text = node.stringScalar, let seconds = parseDuration(text) else {
                    throw fail(
                        "`\(label).remind_after` must be a duration such as 30m, 24h or 7d (at most 365d); got \(node.pythonValue)",
                        node)
                }
                remindAfter = seconds
            }
            targets.append(NotifyTarget(destination: destination, on: on, remindAfterSeconds: remindAfter))
        }
        return targets
    }

    private static func parseURL(_ node: YAMLNode, label: String, fail: (String, YAMLNode?) -> FleetError)
        throws(FleetError) -> String
    {
        guard let text = node.stringScalar else { throw fail("`\(label).webhook` must be a URL", node) }
        let lowered = text.lowercased()
        let scheme =
            lowered.hasPrefix("https://") ? "https://" : lowered.hasPrefix("http://") ? "http://" : nil
        guard let scheme else {
            throw fail("`\(label).webhook` must be an http:// or https:// URL; got \(pythonRepr(text))", node)
        }
        let rest = text.dropFirst(scheme.count)
        guard let host = rest.split(separator: "/", omittingEmptySubsequences: false).first, !host.isEmpty,
            text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f })
        else {
            throw fail(
                "`\(label).webhook` must name a host and contain no spaces or control characters", node)
        }
        return text
    }

    private static func parseHeaders(
        _ node: YAMLNode?, label: String, fail: (String, YAMLNode?) -> FleetError
    )
        throws(FleetError) -> [Header]
    {
        guard let node, !node.isNull else { return [] }
        guard let mapping = node.mapping else {
            throw fail("`\(label).headers` must map header names to environment variable names", node)
        }
        var headers: [Header] = []
        for (key, value) in mapping {
            guard let name = key.stringScalar, !name.isEmpty, name.unicodeScalars.allSatisfy(isTokenCharacter)
            else { throw fail("`\(label).headers`: \(key.pythonValue) is not a header name", key) }
            guard let variable = value.stringScalar, !variable.isEmpty,
                variable.unicodeScalars.allSatisfy(isVariableCharacter), variable.first?.isNumber == false
            else {
                throw fail(
                    "`\(label).headers.\(name)` must be the NAME of an environment variable holding the value (letters, digits, _), never the value itself",
                    value)
            }
            headers.append(Header(name: name, environmentVariable: variable))
        }
        return headers
    }

    private static func parseCommand(_ node: YAMLNode, label: String, fail: (String, YAMLNode?) -> FleetError)
        throws(FleetError) -> [String]
    {
        guard let list = node.sequence, !list.isEmpty else {
            throw fail(
                "`\(label).command` must be a non-empty argv list, such as [/usr/local/bin/page, --team, x]",
                node)
        }
        var argv: [String] = []
        for element in list {
            guard let text = element.stringScalar, !text.contains("\0") else {
                throw fail("`\(label).command` must be a list of strings", element)
            }
            argv.append(text)
        }
        guard argv[0].hasPrefix("/") else {
            throw fail(
                "`\(label).command[0]` must be an absolute path (cron's PATH is not searched)", list[0])
        }
        return argv
    }

    private static func isTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "-", "_", ".": true
        default: false
        }
    }

    private static func isVariableCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_": true
        default: false
        }
    }
}
