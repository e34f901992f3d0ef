/// The runner's `chain_state.json` (cloud reference §4.2), read with the reference's tolerances.
/// Unknown keys are ignored; a value of the wrong type is a clear error, never a crash (§12.4).
public struct ChainState: Sendable, Equatable {
    /// Only ever compared (with -1 and the milestone count), as the reference does; a value beyond
    /// 64 bits saturates, which keeps every such comparison's result (see `comparableIndex`).
    public var currentMilestoneIndex = -1
    /// The index as the state file gave it, for the normalized state (a saturated or fractional
    /// index is printed as read, not as compared).
    private var currentMilestoneIndexValue: JSONValue = .int(-1)
    public var currentPlanName: String?
    public var lastState: String?
    public var prNumber: Int?
    public var prState: String?
    public var completed: [JSONValue] = []
    public var branchHead: String?
    public var prHead: String?
    public var lastPushedCommit: String?
    public var dirtyFlag = false
    public var syncState: String?
    public var extraRepos: [String] = []
    public var chainSession: String?
    public var resolvedWorkspace: String?
    public var extraRepoSync: [JSONValue] = []

    public init() {}

    /// Labels of the `completed` entries that are objects with a string label (§5.7).
    public var completedLabels: [String] {
        completed.compactMap { $0["label"]?.stringValue }
    }

    /// Parses the state file's text. Errors use `provider_failed`, as the reference reports a bad
    /// remote state.
    public static func parse(_ text: String) throws(FleetError) -> ChainState {
        try ChainState(
            JSONObject.parse(
                text, invalid: { "Remote chain state was not valid JSON: \($0)" },
                notAnObject: "Remote chain state was not a JSON object"))
    }

    public init(_ object: JSONObject) throws(FleetError) {
        func bad(_ key: String, _ expected: String, _ value: JSONValue) -> FleetError {
            FleetError(
                .providerFailed,
                "Remote chain state field `\(key)` must be \(expected); got \(value.serialized())")
        }
        func text(_ key: String) throws(FleetError) -> String? {
            switch object[key] {
            case nil, .null?: return nil
            case .string(let value)?: return value
            case let other?: throw bad(key, "a string or null", other)
            }
        }
        func integer(_ key: String) throws(FleetError) -> Int? {
            switch object[key] {
            case nil, .null?: return nil
            case .int(let value)?: return value
            case .bool(let value)?: return value ? 1 : 0
            case .double(let value)? where value.isFinite && abs(value) < 1e18: return Int(value)
            case .string(let value)? where Int(value.trimmed) != nil: return Int(value.trimmed)
            case let other?: throw bad(key, "an integer", other)
            }
        }
        func nonBlank(_ key: String) -> String? {
            guard let value = object[key]?.stringValue, !value.isBlank else { return nil }
            return value
        }

        if let index = object["current_milestone_index"] {
            guard let value = Self.comparableIndex(index) else {
                throw bad("current_milestone_index", "an integer", index)
            }
            currentMilestoneIndex = value
            currentMilestoneIndexValue = index
        }
        currentPlanName = try text("current_plan_name")
        lastState = try text("last_state")
        prNumber = try integer("pr_number")
        prState = try text("pr_state")
        switch object["completed"] {
        case .array(let items)?: completed = items
        case nil, .null?: completed = []
        case let other?: throw bad("completed", "a list", other)
        }
        branchHead = try text("branch_head")
        prHead = try text("pr_head")
        lastPushedCommit = try text("last_pushed_commit")
        dirtyFlag = object["dirty_flag"]?.isTruthy ?? false
        syncState = try text("sync_state")
        if case .array(let items)? = object["extra_repos"] {
            let names = items.compactMap { $0.stringValue }.filter { !$0.isEmpty }
            extraRepos = names.count == items.count ? names : []
        }
        chainSession = nonBlank("chain_session")
        resolvedWorkspace = nonBlank("resolved_workspace")
        if case .array(let items)? = object["extra_repo_sync"] { extraRepoSync = items }
    }

    /// `current_milestone_index` as the reference compares it: any number Python compares (an
    /// integer of any size, a float), a boolean, or a string of digits (the runner's status
    /// program accepts the same: `comparable` in RunnerProtocol's `status_read.py`). Out of 64-bit
    /// range it saturates and a fraction is floored: `floor(x) >= k` and `x >= k` agree for every
    /// integer `k`.
    static func comparableIndex(_ value: JSONValue) -> Int? {
        switch value {
        case .int(let number): return number
        case .bool(let flag): return flag ? 1 : 0
        case .double(let number) where !number.isNaN:
            if number >= 0x1p63 { return .max }
            if number < -0x1p63 { return .min }
            return Int(number.rounded(.down))
        case .string(let text):
            let digits = text.trimmed
            guard digits.wholeMatch(of: /[+-]?[0-9]+/) != nil else { return nil }
            return Int(digits) ?? (digits.hasPrefix("-") ? .min : .max)
        default: return nil
        }
    }

    /// The normalized state in the reference's key order (§4.2).
    public var json: JSONValue {
        .object([
            "current_milestone_index": currentMilestoneIndexValue,
            "current_plan_name": .optional(currentPlanName),
            "last_state": .optional(lastState),
            "pr_number": .optional(prNumber),
            "pr_state": .optional(prState),
            "completed": .array(completed),
            "branch_head": .optional(branchHead),
            "pr_head": .optional(prHead),
            "last_pushed_commit": .optional(lastPushedCommit),
            "dirty_flag": .bool(dirtyFlag),
            "sync_state": .optional(syncState),
            "extra_repos": .strings(extraRepos),
            "chain_session": .optional(chainSession),
            "resolved_workspace": .optional(resolvedWorkspace),
            "extra_repo_sync": .array(extraRepoSync),
        ])
    }
}

/// Remote locations derived from a remote chain spec path (§4.1). The remote string is hashed as
/// given after POSIX normalization, never resolved on the local machine.
public enum ChainPaths {
    public static func stateFile(spec: String) -> String { base(spec) + ".json" }
    public static func runtimePolicyFile(spec: String) -> String { base(spec) + ".runtime_policy.json" }

    private static func base(_ spec: String) -> String {
        let normalized = PosixPath.normalize(spec)
        let digest = String(Digest.sha1Hex(normalized).prefix(12))
        let stem = PosixPath.stem(normalized)
        return PosixPath.join(PosixPath.dirname(normalized), ".megaplan/plans/.chains/\(stem)-\(digest)")
    }
}
