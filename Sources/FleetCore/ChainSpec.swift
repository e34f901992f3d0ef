/// A validated chain spec (cloud reference §3): what `chain` uploads and what `status --chain`
/// reads back from the runner.
public struct ChainSpec: Sendable, Equatable {
    public struct Milestone: Sendable, Equatable {
        public var label: String
        public var idea: String
        public var branch: String?
        public var profile: String?
        public var robustness: String?
        public var vendor: String?
        public var depth: String?
        public var critic: String?
        public var deepseekProvider: String?
        public var withPrep = false
        public var withFeedback = false
        public var prepDirection: String?
        public var phaseModel: [String] = []
        public var bakeoff: JSONValue?
        public var notes: String?
    }

    public var milestones: [Milestone] = []
    public var seedPlan: String?
    public var baseBranch = "main"
    public var onFailure = "stop_chain"
    public var onEscalate = "stop_chain"
    public var mergePolicy = "auto"
    public var prerequisitePolicy = "none"
    public var validationPolicy = "none"
    public var cleanMilestonePR = "auto"
    public var stallThreshold = 5
    public var maxIterations = 200
    public var pollSleep = 1.0
    public var phaseTimeout = 3600.0
    public var statusTimeout = 60.0
    public var escalateAction = "force-proceed"
    public var robustness = "standard"
    public var autoApprove = true
    /// Whether the file itself has a top-level `base_branch` key (§1.5 step 2).
    public var declaresBaseBranch = false

    public init() {}

    static let abortChoices = ["stop_chain", "skip_milestone", "retry_milestone"]
}

extension ChainSpec {
    public static func load(path: String) throws(FleetError) -> ChainSpec {
        try parse(YAMLReader(path: path))
    }

    public static func parse(text: String, path: String) throws(FleetError) -> ChainSpec {
        try parse(YAMLReader(path: path, text: text))
    }

    static func parse(_ reader: YAMLReader) throws(FleetError) -> ChainSpec {
        let checker = ChainSpecChecker(reader: reader)
        let top = try reader.rootMapping(kind: "chain spec")
        var spec = ChainSpec()
        spec.declaresBaseBranch = top.hasKey("base_branch")

        if let node = top.value(for: "base_branch"), !node.isNull {
            guard let text = node.stringScalar, !text.isBlank else {
                throw checker.fail("`base_branch` must be a non-empty string", at: node)
            }
            spec.baseBranch = text.trimmed
        }

        if let node = top.value(for: "milestones"), !node.isNull {
            guard let items = node.sequence else {
                throw checker.fail("`milestones` must be a list", at: node)
            }
            for (index, item) in items.enumerated() {
                spec.milestones.append(try checker.milestone(item, index: index))
            }
        }

        if let node = top.value(for: "seed"), !node.isNull {
            guard let seed = node.mapping else { throw checker.fail("`seed` must be a mapping", at: node) }
            if let plan = seed.value(for: "plan"), !plan.isNull {
                guard let text = plan.stringScalar else {
                    throw checker.fail("`seed.plan` must be a string", at: plan)
                }
                spec.seedPlan = text.isBlank ? nil : text
            }
        }

        spec.onFailure = try checker.abortPolicy(top, "on_failure")
        spec.onEscalate = try checker.abortPolicy(top, "on_escalate")
        spec.mergePolicy = try checker.choice(top, "merge_policy", ["auto", "review"], default: "auto")
        spec.prerequisitePolicy = try checker.choice(
            top, "prerequisite_policy", ["none", "required"], default: "none")
        spec.validationPolicy = try checker.choice(
            top, "validation_policy", ["none", "required"], default: "none")

        let review = try checker.block(top, "review_policy")
        spec.cleanMilestonePR = try checker.choice(
            review, "clean_milestone_pr", ["auto", "manual"], default: "auto",
            label: "review_policy.clean_milestone_pr")

        let driver = try checker.block(top, "driver")
        spec.stallThreshold = try checker.integer(driver, "stall_threshold", default: 5)
        spec.maxIterations = try checker.integer(driver, "max_iterations", default: 200)
        spec.pollSleep = try checker.float(driver, "poll_sleep", default: 1.0)
        spec.phaseTimeout = try checker.float(driver, "phase_timeout", default: 3600.0)
        spec.statusTimeout = try checker.float(driver, "status_timeout", default: 60.0)
        spec.escalateAction = try checker.choice(
            driver, "on_escalate", ["force-proceed", "abort", "fail"], default: "force-proceed",
            label: "driver.on_escalate")
        if let node = driver.value(for: "robustness"), !node.isNull {
            guard let text = node.stringScalar else {
                throw checker.fail("driver.robustness must be a string", at: node)
            }
            spec.robustness = text
        }
        if let node = driver.value(for: "auto_approve") { spec.autoApprove = node.yamlTruthiness }
        return spec
    }

    /// The normalized model keys of §3.2.
    public var normalizedJSON: JSONValue {
        .object([
            "milestones": .array(milestones.map(\.normalizedJSON)),
            "seed_plan": .optional(seedPlan),
            "base_branch": .string(baseBranch),
            "on_failure": .string(onFailure),
            "on_escalate": .string(onEscalate),
            "merge_policy": .string(mergePolicy),
            "prerequisite_policy": .string(prerequisitePolicy),
            "validation_policy": .string(validationPolicy),
            "review_policy": ["clean_milestone_pr": .string(cleanMilestonePR)],
            "stall_threshold": .int(stallThreshold),
            "max_iterations": .int(maxIterations),
            "poll_sleep": .double(pollSleep),
            "phase_timeout": .double(phaseTimeout),
            "status_timeout": .double(statusTimeout),
            "escalate_action": .string(escalateAction),
            "robustness": .string(robustness),
            "auto_approve": .bool(autoApprove),
        ])
    }
}

extension ChainSpec.Milestone {
    public var normalizedJSON: JSONValue {
        .object([
            "label": .string(label), "idea": .string(idea), "branch": .optional(branch),
            "profile": .optional(profile),
            "robustness": .optional(robustness), "vendor": .optional(vendor), "depth": .optional(depth),
            "critic": .optional(critic), "deepseek_provider": .optional(deepseekProvider),
            "with_prep": .bool(withPrep), "with_feedback": .bool(withFeedback),
            "prep_direction": .optional(prepDirection), "phase_model": .strings(phaseModel),
            "bakeoff": bakeoff ?? .null, "notes": .optional(notes),
        ])
    }
}

/// The checks of §3.2 and §3.3 with the reference's exact messages.
private struct ChainSpecChecker {
    let reader: YAMLReader

    func fail(_ message: String, at node: YAMLNode?) -> FleetError {
        reader.error(.invalidSpec, message, at: node)
    }

    func block(_ top: YAMLNode.Mapping, _ key: String) throws(FleetError) -> YAMLNode.Mapping {
        guard let node = top.value(for: key), !node.isNull else { return YAMLNode.Mapping([]) }
        guard let mapping = node.mapping else { throw fail("`\(key)` must be a mapping", at: node) }
        return mapping
    }

    func abortPolicy(_ top: YAMLNode.Mapping, _ key: String) throws(FleetError) -> String {
        let mapping = try block(top, key)
        return try choice(
            mapping, "abort", ChainSpec.abortChoices, default: "stop_chain", label: "\(key).abort")
    }

    func choice(
        _ mapping: YAMLNode.Mapping, _ key: String, _ choices: [String], default fallback: String,
        label: String? = nil
    ) throws(FleetError) -> String {
        guard let node = mapping.value(for: key), !node.isNull else { return fallback }
        guard let text = node.stringScalar, choices.contains(text) else {
            throw fail(
                "\(label ?? key) must be one of \(pythonTuple(choices)); got \(node.pythonValue)", at: node)
        }
        return text
    }

    func integer(_ driver: YAMLNode.Mapping, _ key: String, default fallback: Int) throws(FleetError) -> Int {
        guard let node = driver.value(for: key), !node.isNull else { return fallback }
        if let value = node.integerScalar { return value }
        if let value = node.boolScalar { return value ? 1 : 0 }
        if case .scalar(let scalar) = node, node.tag == .float, let value = Double(scalar.string),
            value.isFinite, abs(value) < 1e18
        {
            return Int(value)
        }
        if let text = node.stringScalar, let value = Int(text.trimmed) { return value }
        throw fail("driver.\(key) must be an integer; got \(node.pythonValue)", at: node)
    }

    func float(_ driver: YAMLNode.Mapping, _ key: String, default fallback: Double) throws(FleetError)
        -> Double
    {
        guard let node = driver.value(for: key), !node.isNull else { return fallback }
        if let value = node.integerScalar { return Double(value) }
        if let value = node.boolScalar { return value ? 1 : 0 }  // Python: float(True) == 1.0
        if let text = node.scalarText, let value = Double(text.trimmed) {
            return value
        }
        throw fail("driver.\(key) must be a number; got \(node.pythonValue)", at: node)
    }

    func milestone(_ node: YAMLNode, index: Int) throws(FleetError) -> ChainSpec.Milestone {
        let prefix = "milestones[\(index)]"
        guard let item = node.mapping else { throw fail("\(prefix) must be a mapping", at: node) }
        func requiredText(_ key: String) throws(FleetError) -> String {
            guard let value = item.value(for: key), let text = value.stringScalar, !text.isBlank else {
                throw fail("\(prefix).\(key) is required", at: item.value(for: key) ?? node)
            }
            return text
        }
        func optionalText(_ key: String) throws(FleetError) -> String? {
            guard let value = item.value(for: key), !value.isNull else { return nil }
            guard let text = value.stringScalar else {
                throw fail("\(prefix).\(key) must be a string", at: value)
            }
            return text
        }
        func optionalChoice(_ key: String, _ choices: [String]) throws(FleetError) -> String? {
            guard let value = item.value(for: key), !value.isNull else { return nil }
            guard let text = value.stringScalar else {
                throw fail("\(prefix).\(key) must be a string", at: value)
            }
            guard choices.contains(text) else {
                throw fail(
                    "\(prefix).\(key) must be one of \(pythonTuple(choices)); got \(pythonRepr(text))",
                    at: value)
            }
            return text
        }
        func flag(_ key: String) throws(FleetError) -> Bool {
            guard let value = item.value(for: key), !value.isNull else { return false }
            guard let flag = value.boolScalar else {
                throw fail("\(prefix).\(key) must be a boolean", at: value)
            }
            return flag
        }

        // The idea is a remote path (its upload target), normalized as every remote path is (§0.6).
        var milestone = ChainSpec.Milestone(
            label: try requiredText("label"), idea: PosixPath.normalize(try requiredText("idea")))
        milestone.branch = try optionalText("branch")
        milestone.profile = try optionalText("profile")
        milestone.robustness = try optionalText("robustness")
        milestone.vendor = try optionalChoice("vendor", ["claude", "codex"])
        milestone.depth = try optionalChoice("depth", ["minimal", "low", "medium", "high", "xhigh", "max"])
        milestone.critic = try optionalChoice("critic", ["kimi", "cross"])
        milestone.deepseekProvider = try optionalChoice("deepseek_provider", ["fireworks", "direct"])
        milestone.withPrep = try flag("with_prep")
        milestone.withFeedback = try flag("with_feedback")
        if let direction = try optionalText("prep_direction") {
            guard !direction.isBlank else {
                throw fail(
                    "\(prefix).prep_direction must be non-empty when provided",
                    at: item.value(for: "prep_direction"))
            }
            milestone.prepDirection = direction.trimmed
        }
        if let value = item.value(for: "phase_model"), !value.isNull {
            if let text = value.stringScalar {
                milestone.phaseModel = [text]
            } else if let items = value.sequence {
                var models: [String] = []
                for entry in items {
                    guard let text = entry.stringScalar else {
                        throw fail("\(prefix).phase_model must be a string or list of strings", at: entry)
                    }
                    models.append(text)
                }
                milestone.phaseModel = models
            } else {
                throw fail("\(prefix).phase_model must be a string or list of strings", at: value)
            }
        }
        if let value = item.value(for: "bakeoff"), !value.isNull {
            guard value.mapping != nil else { throw fail("\(prefix).bakeoff must be a mapping", at: value) }
            milestone.bakeoff = value.jsonValue
        }
        milestone.notes = try optionalText("notes")
        return milestone
    }
}

extension YAMLNode {
    /// Python's truthiness of the value the YAML parser would produce.
    var yamlTruthiness: Bool {
        if isNull { return false }
        if let flag = boolScalar { return flag }
        if let number = integerScalar { return number != 0 }
        if let text = stringScalar { return !text.isEmpty }
        if let items = sequence { return items.count > 0 }
        if let mapping = mapping { return !mapping.isEmpty }
        return scalarText.map { Double($0) != 0 } ?? true
    }

    /// How Python would print the parsed value inside a message (`'x'`, `True`, `3`, `None`).
    public var pythonValue: String {
        if isNull { return "None" }
        if let flag = boolScalar { return flag ? "True" : "False" }
        if let number = integerScalar { return String(number) }
        if let text = stringScalar { return pythonRepr(text) }
        // A float, or a scalar with an explicit tag (`!!float "1\n2"`): quoted unless it prints plainly.
        if let text = scalarText { return plainOrRepr(text) }
        if mapping != nil { return "a mapping" }
        return "a list"
    }

    /// How Python's `str()` would print the parsed value (messages that write `'{value}'`).
    public var pythonText: String { stringScalar ?? pythonValue }

    /// The node as JSON (used for free-form blocks such as `bakeoff`).
    public var jsonValue: JSONValue {
        if isNull { return .null }
        if let flag = boolScalar { return .bool(flag) }
        if let number = integerScalar { return .int(number) }
        if let text = stringScalar { return .string(text) }
        if let items = sequence { return .array(items.map(\.jsonValue)) }
        if let mapping {
            var object = JSONObject()
            for (key, value) in mapping { object[key.scalarText ?? "\(key)"] = value.jsonValue }
            return .object(object)
        }
        if let text = scalarText, let number = Double(text) { return .double(number) }
        return .string(scalarText ?? "")
    }
}
