import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` in a task that SIGINT or SIGTERM cancels, so a command stops its remote work,
/// keeps what it already printed, shuts its connections down and exits promptly.
enum Interrupts {
    /// The signal that cancelled the run (0 when none did).
    static let received = Atomic<Int32>(0)

    /// The conventional exit status after a signal (128 + its number), or nil.
    static var exitStatus: Int32? {
        let number = received.load(ordering: .relaxed)
        return number == 0 ? nil : 128 + number
    }

    static func cancellable<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task = Task { try await body() }
        let queue = DispatchQueue(label: "megaplan-fleet.signals")
        let sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                received.store(number, ordering: .relaxed)
                task.cancel()
            }
            source.resume()
            return source
        }
        defer {
            for source in sources { source.cancel() }
        }
        return try await task.value
    }
}
