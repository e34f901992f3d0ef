/// `fleet.yaml`: the projects a fleet tick covers and the defaults it runs with. Unlike cloud.yaml
/// (whose unknown keys the reference ignores), every unknown key here is an error, to catch typos
/// in a file that runs unattended.
public struct FleetFile: Sendable, Equatable {
    public struct Project: Sendable, Equatable {
        public var name: String
        /// Resolved absolute path of the project's cloud.yaml.
        public var cloudYAML: String
        public var remoteSpec: String?
        public var tags: [String]
        /// Seconds this project's tick may take, instead of the run's deadline.
        public var deadlineSeconds: Double? = nil
    }

    public struct Defaults: Sendable, Equatable {
        /// Projects ticked at the same time across the fleet.
        public var concurrency = 16
        /// SSH connections opened per host (kept under sshd's `MaxStartups 10`).
        public var connectionsPerHost = 3
        /// Projects ticked at the same time on one host.
        public var perHost = 8
        /// Seconds one project's tick may take before it is reported as `timeout`.
        public var deadlineSeconds = 60.0
        public var knownHosts: String?
        public var hostKeyPolicy = HostKeyPolicy.strict
        /// Whether the fleet file set `host_key_policy` (it then wins over ssh_config's
        /// `StrictHostKeyChecking`).
        public var hostKeyPolicyIsExplicit = false
        /// `ssh_config`: the OpenSSH client configuration to read instead of `~/.ssh/config` and
        /// `/etc/ssh/ssh_config` (resolved against the fleet file's directory), or `none`.
        public var sshConfig: String?
        /// Where fleet runs keep what they remember (resolved against the fleet file's directory).
        public var stateDirectory: String?
    }

    /// The accepted range of every number of a fleet run, from the fleet file or the command line.
    /// The upper bounds keep each value meaningful (a deadline of a day is already far beyond a
    /// cron interval) and far from overflow when converted (seconds to milliseconds, Int32).
    public enum Limits {
        public static let concurrency = 1...10_000
        public static let perHost = 1...10_000
        /// sshd's `MaxStartups` is 10 by default; more than this per host is a mistake.
        public static let connectionsPerHost = 1...100
        /// Seconds: more than 0, at most one day.
        public static let maximumDeadline = 86_400.0

        /// Whether `seconds` is a usable deadline (NaN, infinities, zero, negatives and more
        /// than a day are not).
        public static func acceptsDeadline(_ seconds: Double) -> Bool {
            seconds.isFinite && seconds > 0 && seconds <= maximumDeadline
        }
    }

    public var path: String
    public var defaults: Defaults
    public var projects: [Project]
    /// Where changes of status are sent (`notify:`), in file order.
    public var notify: [NotifyTarget] = []

    static let topKeys = ["version", "defaults", "projects", "notify"]
    static let defaultKeys = [
        "concurrency", "connections_per_host", "per_host", "deadline", "known_hosts", "host_key_policy",
        "state_dir", "ssh_config",
    ]
    static let projectKeys = ["name", "cloud_yaml", "remote_spec", "tags", "deadline"]

    /// Loads and validates `path` (resolved). Project cloud.yaml files must exist; their content is
    /// validated separately (`validate --fleet`, and each tick reports `invalid_config`). A missing
    /// file says `fleet file not found`, then `origin` (how the path was chosen), when given.
    public static func load(path: String, origin: String? = nil) throws(FleetError) -> FleetFile {
        guard FileSystem.exists(path) else {
            throw FleetError(
                .invalidFleet, "fleet file not found: \(path)" + (origin.map { " (\($0))" } ?? ""))
        }
        let reader = try YAMLReader(path: path, code: .invalidFleet, pyYAML: false)
        return try parse(reader)
    }

    public static func parse(text: String, path: String) throws(FleetError) -> FleetFile {
        try parse(YAMLReader(path: path, text: text, code: .invalidFleet, pyYAML: false))
    }

    static func parse(_ reader: YAMLReader) throws(FleetError) -> FleetFile {
        func fail(_ message: String, _ node: YAMLNode?) -> FleetError {
            reader.error(.invalidFleet, message, at: node)
        }
        func checkKeys(_ mapping: YAMLNode.Mapping, allowed: [String], label: String) throws(FleetError) {
            for (key, _) in mapping {
                guard let name = key.stringScalar, allowed.contains(name) else {
                    throw reader.unknownKey(key, in: label, allowed: allowed, code: .invalidFleet)
                }
            }
        }
        func boundedInt(_ mapping: YAMLNode.Mapping, _ key: String, label: String, range: ClosedRange<Int>)
            throws(FleetError) -> Int?
        {
            guard let node = mapping.value(for: key), !node.isNull else { return nil }
            guard let value = node.integerScalar, range.contains(value) else {
                throw fail(
                    "`\(label)` must be an integer from \(range.lowerBound) to \(range.upperBound); got \(node.pythonValue)",
                    node)
            }
            return value
        }

        /// A YAML number only: a quoted '30' is a string, as for the integer fields.
        func deadline(_ mapping: YAMLNode.Mapping, label: String) throws(FleetError) -> Double? {
            guard let node = mapping.value(for: "deadline"), !node.isNull else { return nil }
            let seconds =
                node.integerScalar.map(Double.init)
                ?? (node.tag == .float ? node.scalarText.flatMap { Double($0) } : nil)
            guard let seconds, Limits.acceptsDeadline(seconds) else {
                throw fail(
                    "`\(label)` must be a number of seconds above 0 and at most \(Int(Limits.maximumDeadline)); got \(node.pythonValue)",
                    node)
            }
            return seconds
        }

        let top = try reader.rootMapping(kind: "fleet file", code: .invalidFleet)
        try checkKeys(top, allowed: topKeys, label: "the fleet file")
        if let version = top.value(for: "version"), version.integerScalar != 1 {
            throw fail("`version` must be 1; got \(version.pythonValue)", version)
        }

        var defaults = Defaults()
        if let node = top.value(for: "defaults"), !node.isNull {
            guard let mapping = node.mapping else { throw fail("`defaults` must be a mapping", node) }
            try checkKeys(mapping, allowed: defaultKeys, label: "defaults")
            defaults.concurrency =
                try boundedInt(
                    mapping, "concurrency", label: "defaults.concurrency", range: Limits.concurrency)
                ?? defaults.concurrency
            defaults.connectionsPerHost =
                try boundedInt(
                    mapping, "connections_per_host", label: "defaults.connections_per_host",
                    range: Limits.connectionsPerHost)
                ?? defaults.connectionsPerHost
            defaults.perHost =
                try boundedInt(mapping, "per_host", label: "defaults.per_host", range: Limits.perHost)
                ?? defaults.perHost
            defaults.deadlineSeconds =
                try deadline(mapping, label: "defaults.deadline") ?? defaults.deadlineSeconds
            if let node = mapping.value(for: "state_dir"), !node.isNull {
                guard let text = node.stringScalar, !text.isBlank else {
                    throw fail("`defaults.state_dir` must be a non-empty string", node)
                }
                defaults.stateDirectory = FileSystem.resolve(text, relativeTo: PosixPath.dirname(reader.path))
            }
            if let node = mapping.value(for: "known_hosts"), !node.isNull {
                guard let text = node.stringScalar, !text.isBlank else {
                    throw fail("`defaults.known_hosts` must be a non-empty string", node)
                }
                defaults.knownHosts = FileSystem.resolve(text, relativeTo: PosixPath.dirname(reader.path))
            }
            if let node = mapping.value(for: "host_key_policy"), !node.isNull {
                guard let policy = node.stringScalar.flatMap(HostKeyPolicy.init(rawValue:)) else {
                    throw fail(
                        "`defaults.host_key_policy` must be one of \(HostKeyPolicy.names); got \(node.pythonValue)",
                        node)
                }
                defaults.hostKeyPolicy = policy
                defaults.hostKeyPolicyIsExplicit = true
            }
            if let node = mapping.value(for: "ssh_config"), !node.isNull {
                guard let text = node.stringScalar, !text.isBlank else {
                    throw fail("`defaults.ssh_config` must be a non-empty string (a path, or none)", node)
                }
                defaults.sshConfig =
                    text == "none"
                    ? text : FileSystem.resolve(text, relativeTo: PosixPath.dirname(reader.path))
            }
        }

        guard let projectsNode = top.value(for: "projects"), !projectsNode.isNull else {
            throw fail("`projects` is required: list the projects of this fleet", reader.root)
        }
        guard let items = projectsNode.sequence else { throw fail("`projects` must be a list", projectsNode) }
        var projects: [Project] = []
        var seen: [String: YAMLNode] = [:]
        for (index, item) in items.enumerated() {
            let label = "projects[\(index)]"
            guard let mapping = item.mapping else { throw fail("`\(label)` must be a mapping", item) }
            try checkKeys(mapping, allowed: projectKeys, label: label)
            guard let nameNode = mapping.value(for: "name"), let name = nameNode.stringScalar, !name.isBlank
            else {
                throw fail(
                    "`\(label).name` is required and must be a non-empty string",
                    mapping.value(for: "name") ?? item)
            }
            guard name.unicodeScalars.allSatisfy(isNameCharacter), name.first != "-", name.first != "." else {
                throw fail(
                    "`\(label).name` \(pythonRepr(name)) may use only letters, digits, '.', '_' and '-', and must start with a letter or digit",
                    nameNode)
            }
            if let first = seen[name] {
                throw fail(
                    "duplicate project name \(pythonRepr(name)) (first defined at \(reader.location(of: first)))",
                    nameNode)
            }
            seen[name] = nameNode
            guard let cloudNode = mapping.value(for: "cloud_yaml"), let cloudText = cloudNode.stringScalar,
                !cloudText.isBlank
            else {
                throw fail(
                    "project \(pythonRepr(name)): `\(label).cloud_yaml` is required (path to its cloud.yaml)",
                    mapping.value(for: "cloud_yaml") ?? item)
            }
            let cloudPath = FileSystem.resolve(cloudText, relativeTo: PosixPath.dirname(reader.path))
            guard FileSystem.isRegularFile(cloudPath) else {
                throw fail(
                    "project \(pythonRepr(name)): cloud.yaml not found: \(plainOrRepr(cloudPath))", cloudNode)
            }
            var remoteSpec: String?
            if let node = mapping.value(for: "remote_spec"), !node.isNull {
                guard let text = node.stringScalar, text.hasPrefix("/") else {
                    throw fail(
                        "project \(pythonRepr(name)): `\(label).remote_spec` must be an absolute POSIX path",
                        node)
                }
                remoteSpec = text
            }
            var tags: [String] = []
            if let node = mapping.value(for: "tags"), !node.isNull {
                guard let list = node.sequence else {
                    throw fail("`\(label).tags` must be a list of strings", node)
                }
                for tag in list {
                    guard let text = tag.stringScalar, !text.isBlank else {
                        throw fail("`\(label).tags` must be a list of non-empty strings", tag)
                    }
                    tags.append(text)
                }
            }
            projects.append(
                Project(
                    name: name, cloudYAML: cloudPath, remoteSpec: remoteSpec, tags: tags,
                    deadlineSeconds: try deadline(mapping, label: "\(label).deadline")))
        }
        var file = FleetFile(path: reader.path, defaults: defaults, projects: projects)
        if let node = top.value(for: "notify"), !node.isNull {
            file.notify = try NotifyTarget.parseList(node, reader: reader)
        }
        return file
    }

    private static func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "-": true
        default: false
        }
    }
}
