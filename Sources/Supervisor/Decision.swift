import FleetCore

/// The one mutation a tick may perform: the tmux restart of §6.5 (restart, advance or wake).
public enum Mutation: String, Sendable, Equatable {
    case restart, advance, wake
}

/// The report's `event`: typed, so callers decide on it without comparing strings.
public enum SupervisorEvent: String, Sendable, Equatable {
    case tick = "supervisor_tick"
    case blocked = "supervisor_blocked"
    case advanced = "supervisor_advanced"
    case restarted = "supervisor_restarted"
    case dryRun = "supervisor_dry_run"
    case error = "supervisor_error"
    case skipped = "supervisor_skipped"
}

/// What the decision table (§6.2) says before any mutation has run.
public struct Decision: Sendable, Equatable {
    public var event: SupervisorEvent
    public var nextAction: String
    public var refusedReason: String?
    /// When set, the tick performs this restart; the report then depends on its outcome.
    public var mutation: Mutation?

    static func tick(_ action: String, reason: String? = nil) -> Decision {
        Decision(event: .tick, nextAction: action, refusedReason: reason, mutation: nil)
    }

    static func blocked(_ reason: String) -> Decision {
        Decision(event: .blocked, nextAction: "blocked", refusedReason: reason, mutation: nil)
    }

    /// The report fields before anything ran (a dry run, or a decision without a mutation). A
    /// dry run that would act says `supervisor_dry_run`, so nothing counting restart events
    /// mistakes it for one.
    public var unperformed: DecisionOutcome {
        DecisionOutcome(
            event: mutation == nil ? event : .dryRun, nextAction: nextAction, acted: false,
            success: true,
            reason: refusedReason)
    }

    /// The report fields once the mutation (if any) has been tried: `restartError` is nil when
    /// it succeeded.
    public func outcome(restartError: String?) -> DecisionOutcome {
        guard let mutation else { return unperformed }
        if let restartError {
            let prefix: String =
                switch mutation {
                case .advance: "PR merged but restart failed"
                case .restart: "stale bookkeeping restart failed"
                case .wake: "all human-verification criteria satisfied but wake restart failed"
                }
            return DecisionOutcome(
                event: .error, nextAction: "blocked", acted: false, success: false,
                reason: "\(prefix): \(restartError)")
        }
        switch mutation {
        case .advance:
            return DecisionOutcome(
                event: .advanced, nextAction: "advance", acted: true, success: true, reason: nil)
        case .restart, .wake:
            return DecisionOutcome(
                event: .restarted, nextAction: "restart", acted: true, success: true, reason: nil)
        }
    }
}

/// The report's event, next action, acted, success and refused reason.
public struct DecisionOutcome: Sendable, Equatable {
    public var event: SupervisorEvent
    public var nextAction: String
    public var acted: Bool
    public var success: Bool
    public var reason: String?
}

/// The facts the decision table reads.
public struct DecisionInput: Sendable, Equatable {
    public var status: EffectiveStatus
    public var consistencyStatus: String?
    public var consistencyReason: String?
    /// `runner.status`; a missing one counts as `unavailable`.
    public var runnerStatus: String?
    public var canExec: Bool
    public var prNumber: Int?
    /// The PR probe's answer, lower-cased (`merged`, `open`, `unknown`, ...).
    public var prProbe: String?
    public var humanVerification: HumanVerification?

    public init(
        status: EffectiveStatus, consistencyStatus: String? = nil, consistencyReason: String? = nil,
        runnerStatus: String? = nil, canExec: Bool = true, prNumber: Int? = nil, prProbe: String? = nil,
        humanVerification: HumanVerification? = nil
    ) {
        self.status = status
        self.consistencyStatus = consistencyStatus
        self.consistencyReason = consistencyReason
        self.runnerStatus = runnerStatus
        self.canExec = canExec
        self.prNumber = prNumber
        self.prProbe = prProbe
        self.humanVerification = humanVerification
    }
}

public enum DecisionTable {
    static let humanPrerequisiteReason =
        "human prerequisite policy is 'required' and unmet; a human operator must resolve it via `megaplan user-action resolve` or `megaplan chain override`"
    static let qualityGateReason =
        "validation policy is 'required' and quality gate is failing; a human operator must resolve the blocker or accept with debt"

    /// §6.2, evaluated in order after the provider-mismatch gate.
    public static func decide(_ input: DecisionInput) -> Decision {
        if input.consistencyStatus == "mismatch" {
            return .blocked("provider consistency mismatch: \(input.consistencyReason ?? "")")
        }
        let runner = input.runnerStatus ?? "unavailable"
        let runnerDown = runner == "dead" || runner == "unavailable"
        switch input.status {
        case .running: return .tick("noop")
        case .complete: return .tick("done")
        case .humanPrerequisite: return .blocked(humanPrerequisiteReason)
        case .qualityGate: return .blocked(qualityGateReason)
        case .awaitingPRMerge:
            let probe = input.prNumber != nil && input.canExec ? (input.prProbe ?? "unknown") : "unknown"
            if probe == "merged" {
                return Decision(
                    event: .advanced, nextAction: "advance", refusedReason: nil,
                    mutation: .advance)
            }
            return .blocked(
                "awaiting PR merge (PR #\(input.prNumber.map(String.init) ?? "None") state=\(probe)); supervisor will not advance until PR is merged"
            )
        case .staleBookkeeping:
            guard input.canExec else {
                return .blocked("stale bookkeeping but provider lacks ssh_exec; cannot restart runner")
            }
            if runnerDown {
                return Decision(
                    event: .restarted, nextAction: "restart", refusedReason: nil,
                    mutation: .restart)
            }
            return .blocked(
                "stale bookkeeping but runner status is '\(runner)'; supervisor will not force-restart a live runner"
            )
        case .awaitingHumanVerify:
            guard let facts = input.humanVerification, facts.status == "available" else {
                return .blocked(
                    "awaiting human verification but verification facts are unavailable: \(input.humanVerification?.reason ?? "unknown")"
                )
            }
            guard facts.allDeferredMustVerified else {
                return .blocked(
                    "awaiting human verification: \(facts.pending) pending, \(facts.verified) verified of deferred-must criteria; latest-verdict semantics require a 'pass' verdict on every criterion before the chain can wake"
                )
            }
            guard input.canExec else {
                return .blocked(
                    "all human-verification criteria satisfied but provider lacks ssh_exec; cannot wake runner"
                )
            }
            if runnerDown {
                return Decision(
                    event: .restarted, nextAction: "restart", refusedReason: nil, mutation: .wake)
            }
            return .tick("noop")
        case .unknown:
            return .tick("noop", reason: "unknown effective_status: unknown")
        }
    }
}
