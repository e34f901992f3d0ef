import Foundation

/// Runs blocking work (spawning processes and waiting for them) on a thread of its own, so tests
/// that do a lot of it never hold the cooperative pool's few threads while other tests wait.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
