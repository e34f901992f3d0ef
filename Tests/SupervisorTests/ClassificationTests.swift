import FleetCore
import Testing

@testable import Supervisor

/// One row of the §5.6 table: the inputs and the label the ordered rules give.
struct ClassifyCase: Sendable, CustomTestStringConvertible {
    let name: String
    let input: ClassificationInput
    let expected: EffectiveStatus
    var testDescription: String { "\(name) → \(expected.rawValue)" }

    init(_ name: String, _ expected: EffectiveStatus, _ input: ClassificationInput) {
        self.name = name
        self.input = input
        self.expected = expected
    }
}

/// Human-verification facts as §5.5 builds them.
func facts(
    _ status: String = "available", semantics: String? = "latest_verdict", all: Bool = false,
    pending: Int = 0,
    verified: Int = 0, reason: String? = nil
) -> HumanVerification {
    HumanVerification(
        status: status, semantics: semantics, allDeferredMustVerified: all, pending: pending,
        verified: verified,
        reason: reason)
}

/// A chain at milestone 1 of 3 with a current plan, clean sync and both policies `none`.
func planned(
    index: Int = 1, count: Int = 3, last: String? = "done", plan: String? = "plan-m2",
    prerequisite: String = "none",
    validation: String = "none", status: String? = nil, state: String? = nil, runner: String? = "dead",
    sync: String? = "clean", hv: HumanVerification? = nil
) -> ClassificationInput {
    ClassificationInput(
        currentMilestoneIndex: index, milestoneCount: count, lastState: last, currentPlanName: plan,
        prerequisitePolicy: prerequisite, validationPolicy: validation, planStatus: status, planState: state,
        runnerStatus: runner, syncState: sync, humanVerification: hv)
}

@Suite("§5.6 effective_status classification")
struct ClassificationTests {
    static let allVerified = facts(all: true, pending: 0, verified: 3)

    static let cases: [ClassifyCase] = [
        // Rule 1: complete, and it beats everything.
        ClassifyCase("index == milestone count", .complete, planned(index: 3, plan: nil)),
        ClassifyCase("index beyond milestone count", .complete, planned(index: 7, runner: "alive")),
        ClassifyCase(
            "complete beats every other rule", .complete,
            planned(
                index: 3, last: "awaiting_pr_merge", prerequisite: "required", validation: "required",
                status: "awaiting_human_verify", runner: "dead", sync: "dirty", hv: facts(all: false))),
        ClassifyCase(
            "milestone_count 0 is never complete (no plan, dead → rule 6)", .staleBookkeeping,
            planned(index: 0, count: 0, plan: nil)),
        ClassifyCase(
            "milestone_count 0 is never complete (index 5, alive → rule 7)", .running,
            planned(index: 5, count: 0, plan: nil, runner: "alive")),
        ClassifyCase(
            "seed phase index -1 is never complete", .staleBookkeeping,
            planned(index: -1, count: 3, plan: nil)),
        ClassifyCase(
            "seed phase index -1 with no milestones", .running,
            planned(index: -1, count: 0, plan: "seed-plan", runner: "dead")),
        // Rule 2: awaiting PR merge, which beats the human-verification rule.
        ClassifyCase(
            "last_state awaiting_pr_merge", .awaitingPRMerge,
            planned(last: "awaiting_pr_merge", runner: "alive")),
        ClassifyCase(
            "awaiting_pr_merge beats awaiting_human_verify", .awaitingPRMerge,
            planned(last: "awaiting_pr_merge", status: "awaiting_human_verify", hv: facts(all: false))),
        ClassifyCase(
            "awaiting_pr_merge beats stale sync and required policies", .awaitingPRMerge,
            planned(last: "awaiting_pr_merge", prerequisite: "required", sync: "dirty")),
        // Rule 3: the plan awaits human verification.
        ClassifyCase(
            "HV missing", .awaitingHumanVerify, planned(status: "awaiting_human_verify", hv: nil)),
        ClassifyCase(
            "HV unavailable", .awaitingHumanVerify,
            planned(
                status: "awaiting_human_verify",
                hv: facts("unavailable", semantics: nil, reason: "empty stdout"))),
        ClassifyCase(
            "HV semantics not latest_verdict (even with all verified)", .awaitingHumanVerify,
            planned(status: "awaiting_human_verify", hv: facts(semantics: "cumulative", all: true))),
        ClassifyCase(
            "HV semantics missing", .awaitingHumanVerify,
            planned(status: "awaiting_human_verify", hv: facts(semantics: nil, all: true))),
        ClassifyCase(
            "HV not all verified", .awaitingHumanVerify,
            planned(status: "awaiting_human_verify", runner: "alive", hv: facts(all: false, pending: 2))),
        ClassifyCase(
            "HV all verified, runner alive", .running,
            planned(status: "awaiting_human_verify", runner: "alive", hv: allVerified)),
        ClassifyCase(
            "HV all verified, runner connected", .running,
            planned(status: "awaiting_human_verify", runner: "connected", hv: allVerified)),
        ClassifyCase(
            "HV all verified, runner dead", .staleBookkeeping,
            planned(status: "awaiting_human_verify", runner: "dead", hv: allVerified)),
        ClassifyCase(
            "HV all verified, runner unknown", .staleBookkeeping,
            planned(status: "awaiting_human_verify", runner: "unknown", hv: allVerified)),
        ClassifyCase(
            "HV all verified, runner status missing", .staleBookkeeping,
            planned(status: "awaiting_human_verify", runner: nil, hv: allVerified)),
        ClassifyCase(
            "HV rule beats required policies and stale sync", .awaitingHumanVerify,
            planned(
                prerequisite: "required", validation: "required", status: "awaiting_human_verify",
                sync: "dirty",
                hv: facts(all: false))),
        // §12.1: classify on `status`, falling back to `state`.
        ClassifyCase(
            "§12.1 state awaiting_human_verify fires rule 3", .awaitingHumanVerify,
            planned(state: "awaiting_human_verify", hv: facts(all: false, pending: 1))),
        ClassifyCase(
            "§12.1 state awaiting_human_verify, all verified, dead → stale", .staleBookkeeping,
            planned(state: "awaiting_human_verify", runner: "dead", hv: allVerified)),
        ClassifyCase(
            "§12.1 state awaiting_human_verify, all verified, alive → running", .running,
            planned(state: "awaiting_human_verify", runner: "alive", hv: allVerified)),
        ClassifyCase(
            "§12.1 status wins over state", .running,
            planned(status: "executing", state: "awaiting_human_verify", hv: facts(all: false))),
        ClassifyCase(
            "§12.1 state running counts as planRunning", .running,
            planned(state: "running", runner: "alive", sync: "dirty")),
        // Rule 4: plan running.
        ClassifyCase(
            "planRunning running + alive", .running,
            planned(status: "running", runner: "alive", sync: "dirty")),
        ClassifyCase(
            "planRunning active + connected", .running,
            planned(status: "active", runner: "connected", sync: "stale")),
        ClassifyCase(
            "planRunning in_progress + unknown", .running,
            planned(prerequisite: "required", status: "in_progress", runner: "unknown")),
        ClassifyCase(
            "planRunning with a dead runner → rule 7", .running,
            planned(prerequisite: "required", status: "running", runner: "dead", sync: "dirty")),
        ClassifyCase(
            "planRunning without a current plan and dead → rule 6", .staleBookkeeping,
            planned(plan: nil, status: "running", runner: "dead")),
        // Rule 5: a current plan that is not running.
        ClassifyCase("sync stale", .staleBookkeeping, planned(sync: "stale")),
        ClassifyCase("sync dirty", .staleBookkeeping, planned(sync: "dirty")),
        ClassifyCase(
            "sync dirty with a live runner", .staleBookkeeping, planned(runner: "alive", sync: "dirty")),
        ClassifyCase(
            "sync beats the policies", .staleBookkeeping,
            planned(prerequisite: "required", validation: "required", sync: "stale")),
        ClassifyCase("prerequisite required", .humanPrerequisite, planned(prerequisite: "required")),
        ClassifyCase(
            "prerequisite beats validation", .humanPrerequisite,
            planned(prerequisite: "required", validation: "required", runner: "alive")),
        ClassifyCase("validation required", .qualityGate, planned(validation: "required")),
        ClassifyCase(
            "validation required with a live runner", .qualityGate,
            planned(validation: "required", status: "executing", runner: "alive")),
        ClassifyCase("sync clean policies none → rule 7", .running, planned()),
        ClassifyCase("sync null policies none → rule 7", .running, planned(sync: nil)),
        ClassifyCase("real megaplan (state executing, no status)", .running, planned(state: "executing")),
        ClassifyCase(
            "real megaplan with required validation", .qualityGate,
            planned(validation: "required", state: "executing", runner: "alive")),
        // Rule 6: no current plan.
        ClassifyCase("no plan, runner dead", .staleBookkeeping, planned(plan: nil, runner: "dead")),
        ClassifyCase("no plan, runner unknown", .staleBookkeeping, planned(plan: nil, runner: "unknown")),
        ClassifyCase("no plan, runner missing", .staleBookkeeping, planned(plan: nil, runner: nil)),
        ClassifyCase("empty plan name counts as none", .staleBookkeeping, planned(plan: "", runner: "dead")),
        ClassifyCase(
            "no plan ignores sync and policies", .staleBookkeeping,
            planned(plan: nil, prerequisite: "required", runner: "unavailable", sync: "clean")),
        // Rule 7.
        ClassifyCase("no plan, runner alive", .running, planned(plan: nil, runner: "alive")),
        ClassifyCase(
            "no plan, runner connected", .running, planned(plan: nil, runner: "connected", sync: "dirty")),
        ClassifyCase(
            "no plan, alive, required policies", .running,
            planned(plan: nil, prerequisite: "required", validation: "required", runner: "alive")),
    ]

    @Test(arguments: cases)
    func classify(_ row: ClassifyCase) {
        #expect(Classifier.classify(row.input) == row.expected)
    }

    @Test func labels() {
        #expect(
            EffectiveStatus.allCases.map(\.rawValue) == [
                "complete", "running", "awaiting_pr_merge", "awaiting_human_verify", "human_prerequisite",
                "quality_gate", "stale_bookkeeping", "unknown",
            ])
    }

    @Test func defaultInputIsSeedPhaseWithoutRunner() {
        // Everything absent: index -1, no plan, no runner → rule 6.
        #expect(Classifier.classify(ClassificationInput()) == .staleBookkeeping)
    }
}
