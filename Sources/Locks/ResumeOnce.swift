/// A value handed to one receiver (a continuation, a stream) exactly once, by whichever of several
/// callers resolves first: a value that arrives before the receiver is attached is kept for it, and
/// every later resolution is dropped.
///
/// Shared by the scheduler's cancellable waits and the SSH pool's requests, which resolve from a
/// timer, a cancellation handler or an I/O thread, whichever wins.
package final class ResumeOnce<Value: Sendable, Receiver: Sendable>: Sendable {
    private struct State {
        var receiver: Receiver?
        var resolved = false
        /// The value that arrived before the receiver was attached.
        var early: Value?
    }

    private let state: Locked<State>
    private let deliver: @Sendable (Value, Receiver) -> Void

    /// `deliver` hands the value to the receiver; it runs outside the lock, once.
    package init(receiver: Receiver? = nil, deliver: @escaping @Sendable (Value, Receiver) -> Void) {
        state = Locked(State(receiver: receiver))
        self.deliver = deliver
    }

    package var isResolved: Bool { state.withLock { $0.resolved } }

    /// Attaches the receiver; when the value arrived already, it is delivered at once.
    package func attach(_ receiver: Receiver) {
        let early = state.withLock { state -> Value? in
            guard state.resolved else {
                state.receiver = receiver
                return nil
            }
            defer { state.early = nil }
            return state.early
        }
        if let early { deliver(early, receiver) }
    }

    /// Runs `body` with the receiver while the value has not arrived (under the lock, so nothing
    /// reaches the receiver after the value).
    package func whilePending(_ body: (Receiver) -> Void) {
        state.withLock { state in
            if !state.resolved, let receiver = state.receiver { body(receiver) }
        }
    }

    /// Resolves with `value`; false when another caller resolved first (then `value` is dropped).
    @discardableResult
    package func resolve(_ value: Value) -> Bool {
        let (first, receiver) = state.withLock { state -> (Bool, Receiver?) in
            guard !state.resolved else { return (false, nil) }
            state.resolved = true
            defer { state.receiver = nil }
            if state.receiver == nil { state.early = value }
            return (true, state.receiver)
        }
        if let receiver { deliver(value, receiver) }
        return first
    }
}

extension ResumeOnce where Receiver == CheckedContinuation<Value, Never> {
    /// For a continuation: resolving resumes it.
    package convenience init() {
        self.init { value, continuation in continuation.resume(returning: value) }
    }
}
