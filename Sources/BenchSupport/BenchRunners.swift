/// What every fleet benchmark sets up first: the release binary beside the benchmark, the runner
/// account with the stand-ins installed, and for replayed runners a fresh replay.
public struct BenchRunners: Sendable {
    public let binary: String
    /// nil for live runners. Call `remove()` when done.
    public let replay: RunnerReplay?

    public init(mode: RunnerMode, serviceMilliseconds: Int, fixtures: String, replayName: String) throws {
        binary = try BenchProcess.siblingMegaplanFleet()
        try RunnerAccount.prepare()
        try RunnerAccount.installStandIns(fixtures: fixtures)
        replay = try RunnerReplay.make(for: mode, serviceMilliseconds: serviceMilliseconds, name: replayName)
    }
}
