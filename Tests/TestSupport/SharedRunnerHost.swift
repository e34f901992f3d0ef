import Testing

/// One real sshd runner host per suite (`RunnerHost`), started before the suite's first test and
/// killed after its last; the suite's tests (parallel) share it, each with its own project.
/// `prepare` runs once on the new host (e.g. extra stand-ins).
public struct SharedRunnerHost: SuiteTrait, TestScoping {
    @TaskLocal public static var current: RunnerHost?

    private let prepare: @Sendable (RunnerHost) throws -> Void

    public init(prepare: @escaping @Sendable (RunnerHost) throws -> Void = { _ in }) {
        self.prepare = prepare
    }

    public var isRecursive: Bool { false }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let host = try RunnerHost()
        defer { host.server.kill() }
        try prepare(host)
        try await Self.$current.withValue(host) { try await function() }
    }

    /// The suite's host; fails the test when the suite has no `SharedRunnerHost` trait.
    public static func host() throws -> RunnerHost {
        try #require(current, "the suite needs a SharedRunnerHost trait")
    }
}
