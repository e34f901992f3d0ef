import FleetCore
import Testing
import Transport

@testable import Fleet

/// How the answer of the runner's megaplan to a profile expansion is read: anything but a
/// well-formed answer means that megaplan cannot expand, never a crash or a wrong routing.
@Suite struct ProfileExpansionTests {
    func answer(_ stdout: String, status: Int32 = 0) throws -> ProfileExpansion.Answer {
        try ProfileExpansion.answer(RunnerOutput(status: status, stdout: stdout, stderr: ""), milestones: 2)
    }

    @Test func expandedListsAreTaken() throws {
        let line = #"MEGAPLAN-FLEET-PROFILES {"available": true, "phase_models": [["plan=claude:low"], []]}"#
        #expect(try answer("login noise\n" + line + "\n") == .expanded([["plan=claude:low"], []]))
    }

    @Test(
        arguments: [
            ("", 0), ("MEGAPLAN-FLEET-PROFILES {not json", 0),
            (#"MEGAPLAN-FLEET-PROFILES {"available": false}"#, 0),
            (#"MEGAPLAN-FLEET-PROFILES {"available": true, "phase_models": [["a"]]}"#, 0),
            (#"MEGAPLAN-FLEET-PROFILES {"available": true, "phase_models": [["a"], [3]]}"#, 0),
            (#"MEGAPLAN-FLEET-PROFILES {"available": true, "phase_models": [["a"], "b"]}"#, 0),
            (#"MEGAPLAN-FLEET-PROFILES {"available": true, "phase_models": [[], []]}"#, 127),
        ] as [(String, Int32)])
    func anythingElseMeansUnavailable(_ stdout: String, _ status: Int32) throws {
        guard case .unavailable = try answer(stdout, status: status) else {
            Issue.record("read as expanded: \(stdout)")
            return
        }
    }

    @Test func theRunnersErrorIsReportedWithItsCode() {
        let known =
            #"MEGAPLAN-FLEET-PROFILES {"available": true, "error": {"code": "unknown_profile", "message": "Unknown profile 'x'. Known profiles: a"}}"#
        #expect(
            failure { try answer(known) }
                == FleetError(.unknownProfile, "Unknown profile 'x'. Known profiles: a"))
        let odd =
            #"MEGAPLAN-FLEET-PROFILES {"available": true, "error": {"code": "Bad Code\n", "message": "boom"}}"#
        #expect(failure { try answer(odd) } == FleetError(.providerFailed, "boom"))
    }

    private func failure(_ body: () throws -> ProfileExpansion.Answer) -> FleetError? {
        do {
            _ = try body()
            return nil
        } catch let error as FleetError {
            return error
        } catch {
            return nil
        }
    }
}
