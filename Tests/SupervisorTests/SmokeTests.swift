import FleetCore
import Supervisor
import TestSupport
import Testing
import Transport

@Suite("Supervisor smoke", .serialized)
struct SupervisorSmokeTests {
    @Test func statusAndTickAgainstRealRunner() async throws {
        let host = try RunnerHost()
        let project = try host.makeProject("smoke")
        defer { project.cleanUp() }
        try project.writeState([
            "current_milestone_index": 0, "current_plan_name": "plan-m1", "last_state": "done",
        ])
        let cloud = try CloudSpec.load(path: project.cloudYAMLPath)
        let pool = SSHPool(configuration: host.server.configuration())
        let runner = try RunnerFactory.make(for: cloud, pool: pool, home: project.home)
        let reader = ChainStatusReader(cloud: cloud, runner: runner, home: project.home)
        let status = try await reader.read()
        print(status.payload["effective_status"]!, status.payload["runner"]!, status.payload["plan_status"]!)
        #expect(runner.commandCount == 1)
        let tick = await SupervisorTick(reader: reader).run()
        print(tick.summaryLine)
        print(JSONValue.object(tick.report).serialized())
        print(project.calls())
        await pool.shutdown()
    }
}
