import FleetCore
import RunnerProtocol
import SSHClient
import Transport

/// The chain status payload of §5.2 plus the typed facts the supervisor decides on.
public struct ChainStatus: Sendable, Equatable {
    public var payload: JSONObject
    public var effectiveStatus: EffectiveStatus
    public var state: ChainState
    public var spec: ChainSpec
    public var context: ChainContext
    public var runnerStatus: String?
    public var humanVerification: HumanVerification
    public var consistencyStatus: String?
    public var consistencyReason: String?

    public var prNumber: Int? { state.prNumber }
    public var hasCurrentPlan: Bool { !(state.currentPlanName ?? "").isEmpty }

    /// The supervisor's sync refresh for this chain (§6.4): no branch, the state's PR, the merged
    /// extra repositories, and the resolved workspace and session pinned into the state.
    public var syncRefreshCommand: String {
        RemoteCommands.syncRefresh(
            workspace: context.workspace, spec: context.remoteSpec, branch: nil, prNumber: prNumber,
            extraRepos: context.extraRepos.isEmpty ? nil : context.extraRepos,
            resolvedWorkspace: context.workspace, session: context.session)
    }

    /// Builds the payload from one observation, with the reference's messages for each failure.
    static func build(
        observation: Observation, specPath: String, marker: Marker?, cloud: CloudSpec
    ) throws(FleetError) -> ChainStatus {
        guard let stateText = observation.state.text else {
            throw FleetError(.providerFailed, observation.state.error ?? "chain state could not be read")
        }
        // The runner's script refuses a larger file; a runner that does not run it is refused here,
        // before the state is parsed and kept for the rest of the tick.
        guard stateText.utf8.count <= OutputLimits.remoteText else {
            throw FleetError(
                .providerFailed,
                "Remote chain state is larger than \(OutputLimits.describe(OutputLimits.remoteText)) (\(stateText.utf8.count) bytes)"
            )
        }
        let state = try ChainState.parse(stateText)
        guard let specText = observation.spec.text else {
            throw FleetError(.providerFailed, observation.spec.error ?? "chain spec could not be read")
        }
        let spec = try ChainSpec.parse(text: specText, path: specPath)
        let context = ChainContext.resolve(state: state, spec: specPath, marker: marker, cloud: cloud)
        let summary = Self.summary(state: state, spec: spec)
        let policy = Self.effectivePolicy(spec: spec, overrideText: observation.policy.text)
        let sync: JSONValue = [
            "branch_head": .optional(state.branchHead), "pr_head": .optional(state.prHead),
            "last_pushed_commit": .optional(state.lastPushedCommit), "dirty_flag": .bool(state.dirtyFlag),
            "sync_state": .optional(state.syncState),
        ]
        let hasPlan = !(state.currentPlanName ?? "").isEmpty
        let planStatus =
            hasPlan
            ? Self.planStatus(observation.planStatus) : ["status": "missing", "reason": "no current plan"]
        let runner = Self.runner(observation.runner, session: context.session)
        let logs: JSONValue = [
            "workspace": .string(context.workspace),
            "plan_log": hasPlan
                ? .string(PosixPath.join(context.workspace, ".megaplan/logs/latest.log")) : .null,
            "agent_log": .string(PosixPath.join(context.workspace, "agent.log")),
            "chain_log": Self.chainLog(observation.stat, workspace: context.workspace),
        ]
        var pr: JSONObject = ["status": "none"]
        if let number = state.prNumber {
            pr = ["pr_number": .int(number), "pr_state": .optional(state.prState)]
            if let head = state.prHead, !head.isEmpty { pr["pr_head"] = .string(head) }
        }
        let consistency = ProviderConsistency.check(cloud: cloud, marker: marker)
        let human =
            hasPlan
            ? HumanVerificationFacts.parse(observation.verify)
            : HumanVerification(status: "unavailable", reason: "no current plan")

        let input = ClassificationInput(
            currentMilestoneIndex: state.currentMilestoneIndex, milestoneCount: spec.milestones.count,
            lastState: state.lastState, currentPlanName: state.currentPlanName,
            prerequisitePolicy: policy["prerequisite_policy"]?.stringValue ?? "none",
            validationPolicy: policy["validation_policy"]?.stringValue ?? "none",
            planStatus: planStatus["status"]?.stringValue, planState: planStatus["state"]?.stringValue,
            runnerStatus: runner["status"]?.stringValue, syncState: state.syncState, humanVerification: human)
        let effective = Classifier.classify(input)

        let payload: JSONObject = [
            "success": true,
            "spec": .string(specPath),
            "milestone_count": .int(spec.milestones.count),
            "seed_plan": .optional(spec.seedPlan),
            "chain_state": state.json,
            "summary": .object(summary),
            "effective_status": .string(effective.rawValue),
            "policy": .object(policy),
            "sync": sync,
            "plan_status": .object(planStatus),
            "runner": .object(runner),
            "logs": logs,
            "pr": .object(pr),
            "provider_consistency": .object(consistency),
            "human_verification": HumanVerificationFacts.json(human),
            "resolved_workspace": .string(context.workspace),
            "resolved_session": .string(context.session),
            "resolved_context": context.json,
        ]
        return ChainStatus(
            payload: payload, effectiveStatus: effective, state: state, spec: spec, context: context,
            runnerStatus: runner["status"]?.stringValue, humanVerification: human,
            consistencyStatus: consistency["status"]?.stringValue,
            consistencyReason: consistency["reason"]?.stringValue)
    }

    /// §5.7; the `policy` here is the chain spec's, not the runtime-effective one.
    static func summary(state: ChainState, spec: ChainSpec) -> JSONObject {
        let completedLabels = Set(state.completedLabels)
        let index = state.currentMilestoneIndex
        let hasPlan = !(state.currentPlanName ?? "").isEmpty
        var current: JSONValue = .null
        if index >= 0, index < spec.milestones.count {
            var object: JSONObject = ["label": .string(spec.milestones[index].label), "index": .int(index)]
            if let branch = spec.milestones[index].branch, !branch.isEmpty {
                object["branch"] = .string(branch)
            }
            current = .object(object)
        }
        var completed: [JSONValue] = []
        var remaining: [JSONValue] = []
        var perMilestone: [JSONValue] = []
        for (position, milestone) in spec.milestones.enumerated() {
            let entry: JSONValue = ["label": .string(milestone.label), "index": .int(position)]
            let status: String
            if completedLabels.contains(milestone.label) {
                status = "completed"
                completed.append(entry)
            } else {
                status = position == index && hasPlan ? "in_progress" : "pending"
                remaining.append(entry)
            }
            perMilestone.append([
                "label": .string(milestone.label), "index": .int(position), "status": .string(status),
            ])
        }
        var summary: JSONObject = [
            "current_milestone": current,
            "completed": .array(completed),
            "remaining": .array(remaining),
            "per_milestone": .array(perMilestone),
            "seed_plan": .optional(spec.seedPlan),
            "base_branch": .string(spec.baseBranch),
            "current_plan_name": .optional(state.currentPlanName),
            "last_state": .optional(state.lastState),
            "sync": [
                "branch_head": .optional(state.branchHead), "pr_head": .optional(state.prHead),
                "last_pushed_commit": .optional(state.lastPushedCommit), "dirty_flag": .bool(state.dirtyFlag),
                "sync_state": .optional(state.syncState),
            ],
            "policy": [
                "prerequisite_policy": .string(spec.prerequisitePolicy),
                "validation_policy": .string(spec.validationPolicy),
                "review_policy": ["clean_milestone_pr": .string(spec.cleanMilestonePR)],
            ],
        ]
        if let number = state.prNumber {
            summary["pr_number"] = .int(number)
            summary["pr_state"] = .optional(state.prState)
        }
        return summary
    }

    /// Runtime overrides over the spec's policy (§5.2 step 6); anything unreadable counts as `{}`.
    static func effectivePolicy(spec: ChainSpec, overrideText: String?) -> JSONObject {
        var overrides = JSONObject()
        if let overrideText, !overrideText.isBlank,
            case .object(let object)? = try? JSONValue.parse(overrideText)
        {
            overrides = object
        }
        let review = overrides["review_policy"]?["clean_milestone_pr"]?.stringValue
        return [
            "prerequisite_policy": .string(
                overrides["prerequisite_policy"]?.stringValue ?? spec.prerequisitePolicy),
            "validation_policy": .string(
                overrides["validation_policy"]?.stringValue ?? spec.validationPolicy),
            "review_policy": ["clean_milestone_pr": .string(review ?? spec.cleanMilestonePR)],
            "source": .string(overrides.isEmpty ? "chain_yaml" : "runtime_override"),
        ]
    }

    static func planStatus(_ probe: ProbeOutcome?) -> JSONObject {
        guard let probe else { return ["status": "unavailable", "reason": "plan status was not probed"] }
        if let failure = probe.failureMessage {
            return ["status": "unavailable", "reason": .string(failure)]
        }
        do {
            return try RemoteCommands.parseStatusPayload(probe.stdout)
        } catch {
            return ["status": "unavailable", "reason": .string(error.message)]
        }
    }

    static func runner(_ probe: ProbeOutcome?, session: String) -> JSONObject {
        guard let probe else { return ["status": "unknown", "reason": "runner probe did not run"] }
        if probe.status == 0, probe.stdout.contains("alive") {
            return ["status": "alive", "session": .string(session), "detail": "tmux session present"]
        }
        return ["status": "dead", "session": .string(session), "detail": "tmux session absent"]
    }

    static func chainLog(_ probe: ProbeOutcome?, workspace: String) -> JSONValue {
        var object: JSONObject = ["path": .string(PosixPath.join(workspace, RemoteCommands.chainLog))]
        guard let probe else {
            object["status"] = "unavailable"
            object["reason"] = "chain log was not probed"
            return .object(object)
        }
        if let failure = probe.failureMessage {
            object["status"] = "unavailable"
            object["reason"] = .string(failure)
            return .object(object)
        }
        let text = probe.stdout.trimmed
        guard !text.isEmpty, text != "unavailable" else {
            object["status"] = "unavailable"
            return .object(object)
        }
        let parts = text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        if parts.count >= 2 {
            object["mtime"] = Self.integerOrText(parts[0], allowSign: true)
            object["size"] = Self.integerOrText(parts[1], allowSign: false)
        }
        return .object(object)
    }

    private static func integerOrText(_ text: String, allowSign: Bool) -> JSONValue {
        let digits = allowSign && text.hasPrefix("-") ? String(text.dropFirst()) : text
        if !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let value = Int(text)
        {
            return .int(value)
        }
        return .string(text)
    }
}

/// §5.5: the verify-human payload, read into facts or an `unavailable` reason.
enum HumanVerificationFacts {
    static func parse(_ probe: ProbeOutcome?) -> HumanVerification {
        guard let probe else {
            return HumanVerification(status: "unavailable", reason: "verification was not probed")
        }
        if let failure = probe.failureMessage {
            return HumanVerification(status: "unavailable", reason: failure)
        }
        let text = probe.stdout.trimmed
        guard !text.isEmpty else { return HumanVerification(status: "unavailable", reason: "empty stdout") }
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            return HumanVerification(status: "unavailable", reason: "invalid JSON: \(error.detail)")
        }
        let semantics = value["semantics"]
        guard semantics?.stringValue == "latest_verdict" else {
            // Python prints the value with repr: a missing or null value is `None`.
            let shown: String =
                switch semantics {
                case nil, .null?: "None"
                case .string(let text)?: pythonRepr(text)
                case .bool(let flag)?: flag ? "True" : "False"
                case let other?: other.serialized()
                }
            var facts = HumanVerification(
                status: "unavailable",
                reason: "remote payload semantics \(shown) != 'latest_verdict'; facts may be stale")
            facts.semantics = semantics?.stringValue
            facts.rawSemantics = semantics ?? .null
            return facts
        }
        func integer(_ key: String) -> Int {
            if case .int(let number)? = value[key] { return number }
            return 0
        }
        var facts = HumanVerification(
            status: "available", semantics: "latest_verdict",
            allDeferredMustVerified: value["all_deferred_must_verified"] == .bool(true),
            pending: integer("pending"), verified: integer("verified"))
        facts.rows = value["rows"]?.arrayValue ?? []
        return facts
    }

    static func json(_ facts: HumanVerification) -> JSONValue {
        if facts.status == "available" {
            return [
                "status": "available", "pending": .int(facts.pending), "verified": .int(facts.verified),
                "all_deferred_must_verified": .bool(facts.allDeferredMustVerified),
                "rows": .array(facts.rows),
                "semantics": "latest_verdict",
            ]
        }
        var object: JSONObject = ["status": .string(facts.status), "reason": .optional(facts.reason)]
        if let raw = facts.rawSemantics { object["raw_semantics"] = raw }
        return .object(object)
    }
}

/// §5.4: compares the marker's provider identity with cloud.yaml's (read-only).
enum ProviderConsistency {
    static func check(cloud: CloudSpec, marker: Marker?) -> JSONObject {
        let provider = cloud.provider.rawValue
        guard cloud.provider == .railway else {
            return [
                "status": "not_applicable",
                "reason": .string("provider '\(provider)' has no comparable provider identity"),
                "spec_provider": .string(provider),
            ]
        }
        let specIdentity = cloud.railway.service
        let markerProvider = marker?.provider
        let markerIdentity = marker?.providerIdentity
        if let markerProvider, CloudSpec.Provider(rawValue: markerProvider) != .railway {
            return [
                "status": "mismatch",
                "reason": .string(
                    "marker was written for provider '\(markerProvider)' but spec declares 'railway'"),
                "spec_provider": "railway", "marker_provider": .string(markerProvider),
                "spec_identity": .string(specIdentity), "marker_identity": .optional(markerIdentity),
            ]
        }
        if let markerIdentity, markerIdentity != specIdentity {
            return [
                "status": "mismatch",
                "reason": .string(
                    "marker provider_identity '\(markerIdentity)' does not match spec identity '\(specIdentity)'"
                ),
                "spec_provider": "railway", "spec_identity": .string(specIdentity),
                "marker_identity": .string(markerIdentity),
            ]
        }
        return [
            "status": "consistent", "spec_provider": "railway", "spec_identity": .string(specIdentity),
            "marker_provider": .optional(markerProvider), "marker_identity": .optional(markerIdentity),
        ]
    }
}
