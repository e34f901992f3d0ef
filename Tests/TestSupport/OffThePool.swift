import Foundation

/// Runs blocking work (spawning a process and waiting for it, polling a daemon) on a thread of its
/// own, so a test does not hold one of the few cooperative-pool threads (one per core) that every
/// test running beside it needs.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
