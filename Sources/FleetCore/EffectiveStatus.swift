/// The seven effective statuses of a chain (§5.6), plus `unknown` when the status read failed.
/// Supervisor classifies; it lives here so the command line can offer the values (`--status`).
public enum EffectiveStatus: String, Sendable, CaseIterable {
    case complete, running
    case awaitingPRMerge = "awaiting_pr_merge"
    case awaitingHumanVerify = "awaiting_human_verify"
    case humanPrerequisite = "human_prerequisite"
    case qualityGate = "quality_gate"
    case staleBookkeeping = "stale_bookkeeping"
    case unknown
}
