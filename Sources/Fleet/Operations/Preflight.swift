import FleetCore

/// The local preflight of `chain` (cloud reference §10): which agents, commands and environment
/// hints each milestone's phase routing needs, before any remote call.
///
/// Profile expansion belongs to core megaplan (§11.6) and is not re-implemented: the runner's
/// megaplan expands profiles (`ProfileExpansion`) and its phase models come in as `expanded`.
/// When that megaplan cannot, a milestone that names a profile is resolved with its explicit
/// `phase_model` entries and the fallback routing, and the result says so in `warning`; profile
/// names are then checked against the built-in list and the project's and user's profile
/// directories, so a typo still fails with `unknown_profile`.
public enum Preflight {
    public static let builtInProfiles = [
        "all-claude", "all-codex", "all-deepseek-flash", "all-deepseek-pro", "all-deepseek-pro-direct",
        "all-fireworks-deepseek", "all-open", "apex", "directed", "partnered", "premium", "solo",
    ]

    static let warning =
        "cloud.yaml agents.default does not override explicit chain profile or phase_model routing; resolved chain phase maps are shown below."

    public static func run(
        chain: ChainSpec, projectDirectory: String, defaultAgent: String?, expanded: [[String]]? = nil
    ) throws(FleetError) -> JSONObject {
        var allAgents = Set<String>()
        var allCommands = Set<String>()
        var allHints = Set<String>()
        var allRequirements: [JSONValue] = []
        var milestones: [JSONValue] = []
        var usedProfile = false

        for (index, milestone) in chain.milestones.enumerated() {
            if let profile = milestone.profile, expanded == nil {
                try checkProfile(profile, projectDirectory: projectDirectory)
                usedProfile = true
            }
            let phaseModels = expanded?[index] ?? milestone.phaseModel
            var resolved = JSONObject()
            var agents = Set<String>()
            var commands = Set<String>()
            var hints = Set<String>()
            var requirements: [JSONValue] = []
            for phase in CloudSpec.phaseKeys {
                let explicit = phaseModels.first { entry in
                    entry.split(separator: "=", maxSplits: 1).first.map(String.init) == phase
                        && entry.contains("=")
                }
                let route =
                    explicit.map { String($0.split(separator: "=", maxSplits: 1)[1]) }
                    ?? defaultAgent ?? CloudSpec.defaultRoutes[phase]!
                resolved[phase] = .string(route)
                let parts = route.split(separator: ":", maxSplits: 1).map(String.init)
                let agent = parts.first ?? route
                let model = parts.count > 1 ? parts[1] : nil
                agents.insert(agent)
                switch agent {
                case "claude", "shannon":
                    commands.formUnion(["shannon", "bun", "claude", "tmux"])
                    hints.insert("ANTHROPIC_API_KEY")
                case "codex":
                    commands.formUnion(["codex", "tmux"])
                    hints.insert("OPENAI_API_KEY")
                case "hermes":
                    let providerParts = model?.split(separator: ":", maxSplits: 1).map(String.init) ?? []
                    let provider = providerParts.count > 1 ? providerParts[0] : nil
                    let rest = providerParts.count > 1 ? providerParts[1] : model
                    let envHints: [String] =
                        provider == "deepseek"
                        ? ["DEEPSEEK_API_KEY"] : provider == "fireworks" ? ["FIREWORKS_API_KEY"] : []
                    hints.formUnion(envHints)
                    requirements.append([
                        "agent": "hermes", "provider": .optional(provider), "model": .optional(rest),
                        "env_hints": .strings(envHints),
                    ])
                default: break
                }
            }
            allAgents.formUnion(agents)
            allCommands.formUnion(commands)
            allHints.formUnion(hints)
            allRequirements += requirements
            milestones.append([
                "label": .string(milestone.label), "profile": .optional(milestone.profile),
                "explicit_phase_model": .strings(milestone.phaseModel),
                "resolved_phase_map": .object(resolved),
                "required_agents": .strings(agents.sorted()), "runtime_commands": .strings(commands.sorted()),
                "env_hints": .strings(hints.sorted()), "provider_requirements": .array(requirements),
            ])
        }

        var result: JSONObject = [
            "base_branch": .string(chain.baseBranch),
            "cloud_default_agent": .optional(defaultAgent),
            "warning": .string(
                usedProfile
                    ? warning
                        + " Profile expansion happens on the runner; these maps use explicit phase_model entries and the fallback routing."
                    : warning),
            "milestones": .array(milestones),
            "required_agents": .strings(allAgents.sorted()),
            "runtime_commands": .strings(allCommands.sorted()),
            "env_hints": .strings(allHints.sorted()),
            "provider_requirements": .array(allRequirements),
            "policy": [
                "prerequisite_policy": .string(chain.prerequisitePolicy),
                "validation_policy": .string(chain.validationPolicy),
                "review_policy": ["clean_milestone_pr": .string(chain.cleanMilestonePR)],
            ],
        ]
        if chain.validationPolicy == "required" {
            result["validation_environment"] = [
                "required_commands": .strings(allCommands.sorted()), "env_hints": .strings(allHints.sorted()),
                "note":
                    "validation_policy='required' — the cloud environment must provide these commands and env vars for validation phases.",
            ]
        }
        return result
    }

    static func checkProfile(_ name: String, projectDirectory: String) throws(FleetError) {
        if builtInProfiles.contains(name) { return }
        let directories = [
            projectDirectory + "/.megaplan/profiles", FileSystem.homeDirectory() + "/.megaplan/profiles",
        ]
        if directories.contains(where: { FileSystem.exists("\($0)/\(name).toml") }) { return }
        throw FleetError(
            .unknownProfile,
            "Unknown profile \(pythonRepr(name)). Known profiles: \(builtInProfiles.joined(separator: ", "))")
    }
}
