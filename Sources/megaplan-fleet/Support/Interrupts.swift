import FleetCore
import Foundation
import Locks
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` in a task that SIGINT or SIGTERM cancels, so a command stops its remote work,
/// keeps what it already printed, shuts its connections down and exits promptly.
///
/// The handlers are installed with `sigaction` before the body starts, so no signal can fall
/// into a gap: a Dispatch signal source registers on its manager thread some time after
/// `resume()`, and a signal that came before that (once seen on a fast machine, the tick
/// already waiting on DNS) was lost and the run waited for the resolver.
enum Interrupts {
    /// The signal that cancelled the run (0 when none did).
    static let received = Atomic<Int32>(0)

    /// The conventional exit status after a signal (128 + its number), or nil.
    static var exitStatus: Int32? {
        let number = received.load(ordering: .relaxed)
        return number == 0 ? nil : 128 + number
    }

    static func cancellable<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let watch = try SignalWatch.shared.get()
        let task = Task { try await body() }
        watch.arm { task.cancel() }
        defer { watch.disarm() }
        return try await task.value
    }
}

/// The write end of the self-pipe, read by the signal handler (an atomic load is
/// async-signal-safe).
private let signalPipeWriteEnd = Atomic<Int32>(-1)

/// Records the signal and wakes the watching thread; only async-signal-safe calls.
private func forwardSignal(_ number: Int32) {
    let savedErrno = errno
    Interrupts.received.store(number, ordering: .relaxed)
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(signalPipeWriteEnd.load(ordering: .relaxed), &byte, 1)
    errno = savedErrno
}

/// A self-pipe written by the SIGINT/SIGTERM handlers and a thread of its own that reads it and
/// runs the armed action, outside the handler and off the cooperative pool. Installed once and
/// kept for the life of the process, so no handler ever writes to a descriptor that was closed
/// (and perhaps reused for a file being written); a signal after the run is still recorded in
/// the exit status.
private final class SignalWatch: Sendable {
    private enum State {
        case idle
        case armed(@Sendable () -> Void)
        case signalled
    }

    private let state = Locked(State.idle)
    private let readEnd: Int32

    private init(readEnd: Int32) { self.readEnd = readEnd }

    static let shared: Result<SignalWatch, FleetError> = {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            return .failure(
                FleetError(.ioError, "cannot create the signal pipe: \(String(cString: strerror(errno)))"))
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let watch = SignalWatch(readEnd: ends[0])
        signalPipeWriteEnd.store(ends[1], ordering: .relaxed)
        for number in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = forwardSignal
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
        Thread.detachNewThread { watch.readForever() }
        return .success(watch)
    }()

    /// Runs `action` on the first signal, at once if one came already.
    func arm(_ action: @escaping @Sendable () -> Void) {
        let signalled = state.withLock { state in
            if case .signalled = state { return true }
            state = .armed(action)
            return false
        }
        if signalled { action() }
    }

    func disarm() {
        state.withLock { state in
            if case .armed = state { state = .idle }
        }
    }

    private func readForever() {
        while true {
            var byte: UInt8 = 0
            let count = read(readEnd, &byte, 1)
            if count < 0, errno == EINTR { continue }
            guard count == 1 else { return }
            let action: (@Sendable () -> Void)? = state.withLock { state in
                defer { state = .signalled }
                if case .armed(let action) = state { return action }
                return nil
            }
            action?()
        }
    }
}
