import FleetCore

/// Human-verification facts as §5.5 reports them.
public struct HumanVerification: Sendable, Equatable {
    public var status: String
    public var semantics: String?
    public var allDeferredMustVerified: Bool
    public var pending: Int
    public var verified: Int
    public var reason: String?
    public var rows: [JSONValue] = []
    /// The `semantics` value as received, reported when it is not `latest_verdict`.
    public var rawSemantics: JSONValue?

    public init(
        status: String, semantics: String? = nil, allDeferredMustVerified: Bool = false, pending: Int = 0,
        verified: Int = 0, reason: String? = nil
    ) {
        self.status = status
        self.semantics = semantics
        self.allDeferredMustVerified = allDeferredMustVerified
        self.pending = pending
        self.verified = verified
        self.reason = reason
    }
}

/// The inputs of the §5.6 rules, as plain values.
public struct ClassificationInput: Sendable, Equatable {
    public var currentMilestoneIndex: Int
    public var milestoneCount: Int
    public var lastState: String?
    public var currentPlanName: String?
    public var prerequisitePolicy: String
    public var validationPolicy: String
    /// The plan status object; the reference reads only `status`, we fall back to `state` (§12.1).
    public var planStatus: String?
    public var planState: String?
    public var runnerStatus: String?
    public var syncState: String?
    public var humanVerification: HumanVerification?

    public init(
        currentMilestoneIndex: Int = -1, milestoneCount: Int = 0, lastState: String? = nil,
        currentPlanName: String? = nil, prerequisitePolicy: String = "none",
        validationPolicy: String = "none",
        planStatus: String? = nil, planState: String? = nil, runnerStatus: String? = nil,
        syncState: String? = nil,
        humanVerification: HumanVerification? = nil
    ) {
        self.currentMilestoneIndex = currentMilestoneIndex
        self.milestoneCount = milestoneCount
        self.lastState = lastState
        self.currentPlanName = currentPlanName
        self.prerequisitePolicy = prerequisitePolicy
        self.validationPolicy = validationPolicy
        self.planStatus = planStatus
        self.planState = planState
        self.runnerStatus = runnerStatus
        self.syncState = syncState
        self.humanVerification = humanVerification
    }
}

public enum Classifier {
    /// The ordered rules of §5.6, classifying on `status` and falling back to `state` (§12.1).
    public static func classify(_ input: ClassificationInput) -> EffectiveStatus {
        let planStatus = input.planStatus ?? input.planState
        let alive = ["alive", "connected"].contains(input.runnerStatus ?? "")
        let planRunning = ["running", "active", "in_progress"].contains(planStatus ?? "")
        let hasPlan = !(input.currentPlanName ?? "").isEmpty

        if input.milestoneCount > 0, input.currentMilestoneIndex >= input.milestoneCount { return .complete }
        if input.lastState == "awaiting_pr_merge" { return .awaitingPRMerge }
        if planStatus == "awaiting_human_verify" {
            guard let facts = input.humanVerification, facts.status == "available",
                facts.semantics == "latest_verdict", facts.allDeferredMustVerified
            else { return .awaitingHumanVerify }
            return alive ? .running : .staleBookkeeping
        }
        if planRunning, alive || input.runnerStatus == "unknown" { return .running }
        if hasPlan, !planRunning {
            if ["stale", "dirty"].contains(input.syncState ?? "") { return .staleBookkeeping }
            if input.prerequisitePolicy == "required" { return .humanPrerequisite }
            if input.validationPolicy == "required" { return .qualityGate }
        }
        if !hasPlan, !alive { return .staleBookkeeping }
        return .running
    }
}
