/// A validated `cloud.yaml` (cloud reference §2), normalized as §2.7 describes.
public struct CloudSpec: Sendable, Equatable {
    public enum Provider: String, Sendable, CaseIterable { case railway, local, ssh }
    public enum Mode: String, Sendable, CaseIterable { case auto, chain, idle }

    public struct Repo: Sendable, Equatable {
        public var url: String
        public var branch: String
        public var workspace: String

        /// Why `value` cannot be given to `git clone`: one starting with `-` would be read as an
        /// option there (`--upload-pack=…` runs a program), so it is refused rather than passed on.
        public static func optionLike(_ value: String, label: String) -> String? {
            guard value.hasPrefix("-") else { return nil }
            return
                "`\(label)` must not start with '-' (git would read it as an option); got \(pythonRepr(value))"
        }
    }

    public struct Codex: Sendable, Equatable {
        public var model: String
        public var reasoning: String
    }

    public struct Resources: Sendable, Equatable {
        public var volume: String?
        public var port: Int
    }

    public struct Auto: Sendable, Equatable {
        public var planName: String
        public var ideaFile: String
        public var robustness: String
    }

    public struct Chain: Sendable, Equatable {
        public var spec: String
        public var chainSession: String?
    }

    public struct Railway: Sendable, Equatable {
        public var service: String = "agent"
        public var session: String = "agent"
        public var project: String?
        public var environment: String?

        public init() {}
    }

    public struct Local: Sendable, Equatable {
        public var composeProject: String = "megaplan-cloud"
        public var workdir: String = "workspace"

        public init() {}
    }

    public struct SSH: Sendable, Equatable {
        /// Where runner commands execute: inside the Docker container (the reference) or directly
        /// on the SSH host, for a VM that has megaplan, tmux and git installed.
        public enum Runtime: String, Sendable, CaseIterable { case docker, host }

        public var host: String = "localhost"
        public var user: String?
        public var port: Int = 22
        /// Whether cloud.yaml set `ssh.port` (it then wins over ssh_config, as `ssh -p` does).
        public var portIsExplicit = false
        public var identityFile: String?
        public var remoteDir: String = "/tmp/megaplan-cloud"
        public var container: String = "megaplan-cloud-agent"
        public var runtime: Runtime = .docker

        /// TCP ports (also the runner's `resources.port`).
        public static let portRange = 1...65535

        public init() {}
    }

    public struct Toolchain: Sendable, Equatable {
        public var name: String
        public var install: String
    }

    public struct AgentRoute: Sendable, Equatable {
        public var key: String
        public var agent: String
    }

    /// The resolved absolute path of the file this spec came from (the marker key, §4.8).
    public var path: String
    public var provider: Provider
    public var repo: Repo
    public var agents: [AgentRoute]
    public var codex: Codex
    public var mode: Mode
    public var megaplanRef: String
    public var resources: Resources
    public var secrets: [String]
    public var auto: Auto?
    public var chain: Chain?
    public var railway: Railway
    public var local: Local?
    public var ssh: SSH?
    public var toolchains: [Toolchain]
    public var extraRepos: [String]

    public static let phaseKeys = [
        "plan", "prep", "critique", "revise", "gate", "feedback", "finalize", "execute", "loop_plan",
        "loop_execute", "review", "tiebreaker_researcher", "tiebreaker_challenger",
    ]

    /// Built-in phase routing used when neither `agents` nor a profile overrides it (§2.4).
    public static let defaultRoutes: [String: String] = [
        "plan": "claude", "prep": "claude", "critique": "codex", "revise": "claude", "gate": "claude",
        "feedback": "claude:low", "finalize": "claude", "execute": "codex", "loop_plan": "claude",
        "loop_execute": "codex", "review": "codex", "tiebreaker_researcher": "codex",
        "tiebreaker_challenger": "codex",
    ]

    public static let agentNames = ["claude", "codex", "hermes", "shannon"]
    public static let toolchainAliases = ["rust", "go", "java"]

    /// The `agents` entry for a key (`default` or a phase), if the file set one.
    public func agent(for key: String) -> String? { agents.first(where: { $0.key == key })?.agent }

    /// The chain tmux session that `chain` launches and the supervisor targets by default (§1.5).
    public var chainSessionName: String {
        if mode == .chain, let session = chain?.chainSession { return session }
        return "megaplan-chain"
    }

    /// The identity recorded in markers and compared by the provider-consistency check (§4.8).
    public var providerIdentity: String? {
        switch provider {
        case .railway: railway.service
        case .local: local?.composeProject
        case .ssh: ssh?.host
        }
    }
}

extension CloudSpec {
    /// Loads and validates a cloud.yaml. `path` should already be resolved (§0.6). Unknown keys
    /// are warned about on stderr (once per process each), before validation, so that a typo is
    /// named even when it makes the file invalid.
    public static func load(path: String) throws(FleetError) -> CloudSpec {
        let reader = try YAMLReader(path: path)
        for warning in unknownKeyWarnings(reader) { Diagnostics.warn(warning) }
        return try parse(reader)
    }

    public static func parse(text: String, path: String) throws(FleetError) -> CloudSpec {
        try parse(YAMLReader(path: path, text: text))
    }

    /// Validation in the order of §2.6: the first error wins.
    static func parse(_ reader: YAMLReader) throws(FleetError) -> CloudSpec {
        let rules = SpecRules(reader: reader)
        let top = try reader.rootMapping(kind: "cloud spec")
        let rootNode = reader.root

        let providerName = try rules.string(top, "provider", label: "provider", default: "railway")
        if providerName == "fly" {
            throw rules.fail(
                "provider 'fly' is reserved for a future release; future providers: fly",
                at: top.value(for: "provider"), code: .futureProvider)
        }
        guard let provider = Provider(rawValue: providerName) else {
            throw rules.fail(
                "provider must be one of railway, local, ssh, fly; got \(pythonRepr(providerName))",
                at: top.value(for: "provider"))
        }

        let repoNode = try rules.mapping(top, "repo", label: "repo")
        let repoAnchor = top.value(for: "repo") ?? rootNode
        let repo = Repo(
            url: try rules.string(repoNode, "url", label: "repo.url", anchor: repoAnchor),
            branch: try rules.string(repoNode, "branch", label: "repo.branch", default: "main"),
            workspace: try rules.absolute(
                repoNode, "workspace", label: "repo.workspace", default: "/workspace/app", anchor: repoAnchor)
        )
        for (key, value) in [("url", repo.url), ("branch", repo.branch)] {
            if let problem = Repo.optionLike(value, label: "repo.\(key)") {
                throw rules.fail(problem, at: repoNode.value(for: key))
            }
        }

        let codexNode = try rules.mapping(top, "codex", label: "codex")
        let reasoning = try rules.choice(
            codexNode, "reasoning", label: "codex.reasoning", default: "high",
            choices: ["minimal", "low", "medium", "high"])
        let codex = Codex(
            model: try rules.string(codexNode, "model", label: "codex.model", default: "gpt-5.4"),
            reasoning: reasoning)

        let modeName = try rules.choice(
            top, "mode", label: "mode", default: "idle", choices: Mode.allCases.map(\.rawValue))
        let mode = Mode(rawValue: modeName)!

        let agents = try parseAgents(top, rules: rules)

        let megaplanNode = try rules.mapping(top, "megaplan", label: "megaplan")
        let megaplanRef = try rules.string(megaplanNode, "ref", label: "megaplan.ref", default: "main")

        let resourcesNode = try rules.mapping(top, "resources", label: "resources")
        let volume = try rules.optionalString(resourcesNode, "volume", label: "resources.volume")
        var port = 8080
        if let node = resourcesNode.value(for: "port"), !node.isNull {
            guard let value = node.integerScalar else {
                throw rules.fail("`resources.port` must be an integer", at: node)
            }
            guard SSH.portRange.contains(value) else {
                throw rules.fail("`resources.port` must be a port number from 1 to 65535", at: node)
            }
            port = value
        }

        let railwayNode = try rules.mapping(top, "railway", label: "railway")
        var railway = Railway()
        railway.service = try rules.string(railwayNode, "service", label: "railway.service", default: "agent")
        railway.session = try rules.string(railwayNode, "session", label: "railway.session", default: "agent")
        railway.project = try rules.optionalString(railwayNode, "project", label: "railway.project")
        railway.environment = try rules.optionalString(
            railwayNode, "environment", label: "railway.environment")

        let localNode = try rules.mapping(top, "local", label: "local")
        var local: Local?
        if provider == .local || !localNode.isEmpty {
            var block = Local()
            block.composeProject = try rules.string(
                localNode, "compose_project", label: "local.compose_project", default: "megaplan-cloud")
            block.workdir = try rules.string(
                localNode, "workdir", label: "local.workdir", default: "workspace")
            local = block
        }

        let sshNode = try rules.mapping(top, "ssh", label: "ssh")
        var ssh: SSH?
        if provider == .ssh || !sshNode.isEmpty {
            ssh = try parseSSH(sshNode, anchor: top.value(for: "ssh") ?? rootNode, rules: rules)
        }

        var auto: Auto?
        if mode == .auto {
            let autoNode = try rules.mapping(top, "auto", label: "auto")
            let anchor = top.value(for: "auto") ?? rootNode
            auto = Auto(
                planName: try rules.string(autoNode, "plan_name", label: "auto.plan_name", anchor: anchor),
                ideaFile: try rules.absolute(autoNode, "idea_file", label: "auto.idea_file", anchor: anchor),
                robustness: try rules.string(
                    autoNode, "robustness", label: "auto.robustness", default: "standard"))
        }

        var chain: Chain?
        if mode == .chain {
            let chainNode = try rules.mapping(top, "chain", label: "chain")
            let anchor = top.value(for: "chain") ?? rootNode
            let spec = try rules.absolute(chainNode, "spec", label: "chain.spec", anchor: anchor)
            var session: String?
            if let node = chainNode.value(for: "chain_session"), !node.isNull {
                session = try rules.nonEmptyString(node, label: "chain.chain_session")
            }
            chain = Chain(spec: spec, chainSession: session)
        }

        let extraRepos = try parseExtraRepos(top, rules: rules)
        let secrets = try parseSecrets(top, rules: rules)
        let toolchains = try parseToolchains(top, rules: rules)

        return CloudSpec(
            path: reader.path, provider: provider, repo: repo, agents: agents, codex: codex, mode: mode,
            megaplanRef: megaplanRef, resources: Resources(volume: volume, port: port), secrets: secrets,
            auto: auto, chain: chain, railway: railway, local: local, ssh: ssh, toolchains: toolchains,
            extraRepos: extraRepos)
    }

    private static func parseSSH(_ node: YAMLNode.Mapping, anchor: YAMLNode?, rules: SpecRules)
        throws(FleetError)
        -> SSH
    {
        var ssh = SSH()
        let hostNode = node.value(for: "host")
        if let hostNode, hostNode.sequence != nil {
            throw rules.fail("`ssh.host` must be a string (quote an IPv6 literal: \"[::1]\")", at: hostNode)
        }
        let host = try rules.string(node, "host", label: "ssh.host", anchor: anchor)
        guard let canonical = HostAddress.canonical(host) else {
            throw rules.fail(
                "`ssh.host` '\(host)' is not a host name or IPv6 address (an IPv6 literal is written ::1 or [::1], the port goes in ssh.port)",
                at: hostNode)
        }
        ssh.host = canonical
        ssh.user = try rules.optionalString(node, "user", label: "ssh.user")
        if let portNode = node.value(for: "port"), !portNode.isNull {
            guard let port = portNode.integerScalar, port > 0 else {
                throw rules.fail("`ssh.port` must be a positive integer", at: portNode)
            }
            // Beyond 65535 the port would wrap to another one when connecting (while known_hosts
            // recorded the unwrapped number).
            guard SSH.portRange.contains(port) else {
                throw rules.fail("`ssh.port` must be a port number from 1 to 65535", at: portNode)
            }
            ssh.port = port
            ssh.portIsExplicit = true
        }
        ssh.identityFile = try rules.optionalString(node, "identity_file", label: "ssh.identity_file")
        ssh.remoteDir = try rules.absolute(
            node, "remote_dir", label: "ssh.remote_dir", default: "/tmp/megaplan-cloud")
        ssh.container = try rules.string(
            node, "container", label: "ssh.container", default: "megaplan-cloud-agent")
        let runtime = try rules.choice(
            node, "runtime", label: "ssh.runtime", default: "docker",
            choices: SSH.Runtime.allCases.map(\.rawValue))
        ssh.runtime = SSH.Runtime(rawValue: runtime)!
        return ssh
    }

    /// §2.4: absent, null or empty → `{default: codex}`; otherwise each entry checked in order.
    private static func parseAgents(_ top: YAMLNode.Mapping, rules: SpecRules) throws(FleetError)
        -> [AgentRoute]
    {
        guard let node = top.value(for: "agents"), !node.isNull else {
            return [AgentRoute(key: "default", agent: "codex")]
        }
        guard let mapping = node.mapping else { throw rules.fail("`agents` must be a mapping", at: node) }
        if mapping.isEmpty { return [AgentRoute(key: "default", agent: "codex")] }
        let validKeys = ["default"] + phaseKeys
        let keyList = validKeys.joined(separator: ", ")
        var routes: [AgentRoute] = []
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.stringScalar else {
                throw rules.fail("`agents` keys must be strings; valid keys: \(keyList)", at: keyNode)
            }
            guard validKeys.contains(key) else {
                throw rules.fail("Unknown agents key \(pythonRepr(key)). Valid keys: \(keyList)", at: keyNode)
            }
            guard let agent = valueNode.stringScalar, agentNames.contains(agent) else {
                throw rules.fail(
                    "Unknown agent '\(valueNode.pythonText)'. Valid agents: \(agentNames.joined(separator: ", "))",
                    at: valueNode)
            }
            routes.append(AgentRoute(key: key, agent: agent))
        }
        return routes
    }

    private static func parseExtraRepos(_ top: YAMLNode.Mapping, rules: SpecRules) throws(FleetError)
        -> [String]
    {
        guard let node = top.value(for: "extra_repos"), !node.isNull else { return [] }
        guard let items = node.sequence else {
            throw rules.fail("`extra_repos` must be a list of strings", at: node)
        }
        var repos: [String] = []
        for (index, item) in items.enumerated() {
            guard let text = item.stringScalar, !text.isBlank else {
                throw rules.fail("`extra_repos[\(index)]` must be a non-empty string", at: item)
            }
            repos.append(text)
        }
        return repos
    }

    private static func parseSecrets(_ top: YAMLNode.Mapping, rules: SpecRules) throws(FleetError) -> [String]
    {
        guard let node = top.value(for: "secrets"), !node.isNull else { return [] }
        guard let items = node.sequence else {
            throw rules.fail("`secrets` must be a list of strings", at: node)
        }
        var names: [String] = []
        for item in items {
            guard let text = item.stringScalar, !text.isEmpty else {
                throw rules.fail("`secrets` must be a list of strings", at: item)
            }
            names.append(text)
        }
        return names
    }

    private static func parseToolchains(_ top: YAMLNode.Mapping, rules: SpecRules) throws(FleetError)
        -> [Toolchain]
    {
        guard let node = top.value(for: "toolchains"), !node.isNull else { return [] }
        guard let items = node.sequence else { throw rules.fail("`toolchains` must be a list", at: node) }
        var toolchains: [Toolchain] = []
        for (index, item) in items.enumerated() {
            if let alias = item.stringScalar {
                guard toolchainAliases.contains(alias) else {
                    throw rules.fail(
                        "Unknown toolchain alias \(pythonRepr(alias)); expected one of: rust, go, java",
                        at: item)
                }
                toolchains.append(Toolchain(name: alias, install: alias))
            } else if let mapping = item.mapping {
                toolchains.append(
                    Toolchain(
                        name: try rules.string(
                            mapping, "name", label: "toolchains[\(index)].name", anchor: item),
                        install: try rules.string(
                            mapping, "install", label: "toolchains[\(index)].install", anchor: item)))
            } else {
                throw rules.fail("`toolchains[\(index)]` must be a string alias or mapping", at: item)
            }
        }
        return toolchains
    }
}

extension CloudSpec {
    /// The normalized model of §2.7, the shape `validate --json` prints.
    public var normalizedJSON: JSONValue {
        var agentsObject = JSONObject()
        for route in agents { agentsObject[route.key] = .string(route.agent) }
        return .object([
            "provider": .string(provider.rawValue),
            "repo": [
                "url": .string(repo.url), "branch": .string(repo.branch),
                "workspace": .string(repo.workspace),
            ],
            "agents": .object(agentsObject),
            "codex": ["model": .string(codex.model), "reasoning": .string(codex.reasoning)],
            "mode": .string(mode.rawValue),
            "megaplan": ["ref": .string(megaplanRef)],
            "resources": ["volume": .optional(resources.volume), "port": .int(resources.port)],
            "secrets": .strings(secrets),
            "auto": auto.map {
                [
                    "plan_name": .string($0.planName), "idea_file": .string($0.ideaFile),
                    "robustness": .string($0.robustness),
                ]
            } ?? .null,
            "chain": chain.map { ["spec": .string($0.spec), "chain_session": .optional($0.chainSession)] }
                ?? .null,
            "railway": [
                "service": .string(railway.service), "session": .string(railway.session),
                "project": .optional(railway.project), "environment": .optional(railway.environment),
            ],
            "local": local.map {
                ["compose_project": .string($0.composeProject), "workdir": .string($0.workdir)]
            }
                ?? .null,
            "ssh": ssh.map {
                [
                    "host": .string($0.host), "user": .optional($0.user), "port": .int($0.port),
                    "identity_file": .optional($0.identityFile), "remote_dir": .string($0.remoteDir),
                    "container": .string($0.container), "runtime": .string($0.runtime.rawValue),
                ]
            } ?? .null,
            "toolchains": .array(
                toolchains.map { ["name": .string($0.name), "install": .string($0.install)] }),
            "extra_repos": .strings(extraRepos),
        ])
    }
}
