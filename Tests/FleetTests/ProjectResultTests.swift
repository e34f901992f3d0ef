import FleetCore
import Testing

@testable import Fleet
@testable import Supervisor

/// A tick's outcome comes from its typed event and flags, never from the report's text.
@Suite struct ProjectResultTests {
    static func tick(_ event: SupervisorEvent, success: Bool = true, skipped: Bool = false) -> TickReport {
        // The report's event says otherwise on purpose: only the typed one may count.
        TickReport(
            report: ["event": "supervisor_tick", "next_action": "none"], supervisorEvent: event,
            success: success,
            acted: false, skipped: skipped, effectiveStatus: .unknown)
    }

    @Test(arguments: [
        (SupervisorEvent.tick, true, false, FleetLine.Outcome.ok),
        (.restarted, true, false, .ok),
        (.advanced, true, false, .ok),
        (.dryRun, true, false, .ok),
        (.blocked, true, false, .blocked),
        (.error, false, false, .error),
        (.skipped, true, true, .skipped),
    ])
    func outcomeOfATick(event: SupervisorEvent, success: Bool, skipped: Bool, outcome: FleetLine.Outcome) {
        let result = ProjectResult(tick: Self.tick(event, success: success, skipped: skipped))
        #expect(result.outcome == outcome)
        #expect(result.supervisorEvent == event)
        #expect(result.summary.hasPrefix("supervisor tick: \(event.rawValue) | acted=False"))
    }

    @Test func aProjectThatCannotRunIsAnError() {
        let result = ProjectResult(failure: FleetError(.invalidSpec, "bad"), kind: .invalidConfig)
        #expect(result.outcome == .error && result.errorKind == .invalidConfig)
        #expect(result.report == ["error": .string(FleetError.Code.invalidSpec.rawValue), "message": "bad"])
        #expect(result.supervisorEvent == nil && result.summary.isEmpty)
    }
}
