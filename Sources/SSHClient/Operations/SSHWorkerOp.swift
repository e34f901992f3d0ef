import CLibSSH2
import FleetCore
import Foundation

/// One request being executed by a connection worker, on its I/O thread (the entry points check
/// it: `SSHConnectionWorker.assertOnIOThread`).
class SSHWorkerOp {
    let request: SSHRequest
    /// The remote side may have run something: never resubmit.
    var started = false
    /// All libssh2 resources released; the worker removes it.
    var finished = false
    /// What became of the request; it only moves forward, from `pending`.
    private(set) var resolution = Resolution.pending

    /// The lifecycle of an op's request, from the op's side.
    enum Resolution {
        /// The op still works for the request.
        case pending
        /// The request was already resolved (timeout, cancel, error): only clean up.
        case resolved
        /// The request succeeded. Its result (`deferred`) is delivered once the op is finished and
        /// its slot released, so a caller that submits its next request at once finds the slot
        /// free; nil once delivered.
        case succeeded(deferred: Result<SSHRequest.Outcome, SSHError>?)
    }

    init(request: SSHRequest) { self.request = request }

    /// The request was already resolved, or its result is waiting to be delivered: only clean up.
    var abandoned: Bool {
        if case .pending = resolution { return false }
        return true
    }

    /// The request was resolved with a result (not an error).
    var succeeded: Bool {
        if case .succeeded = resolution { return true }
        return false
    }

    /// The request has been resolved (or given up on): from now on the op only cleans up.
    func markResolved() {
        if case .pending = resolution { resolution = .resolved }
    }

    /// The request succeeded with `result`, delivered by `takeDeferredResult` once the op is done.
    func succeed(deferring result: Result<SSHRequest.Outcome, SSHError>) {
        resolution = .succeeded(deferred: result)
    }

    /// The successful result still to be delivered, if any; taken once.
    func takeDeferredResult() -> Result<SSHRequest.Outcome, SSHError>? {
        guard case .succeeded(let deferred?) = resolution else { return nil }
        resolution = .succeeded(deferred: nil)
        return deferred
    }

    var waitingToOpen: Bool { false }
    var hardDeadline: ContinuousClock.Instant? { nil }
    var inputFD: Int32? { nil }
    /// A local descriptor the op waits to write to (polled for POLLOUT).
    var outputFD: Int32? { nil }
    func beginOpening() {}
    /// One step of the op, on the worker's I/O thread (checked here for every op): true when it
    /// made progress. Nothing moves without a session.
    final func drive(_ worker: SSHConnectionWorker) throws(SSHSessionFailure) -> Bool {
        worker.assertOnIOThread()
        guard let session = worker.session else { return false }
        return try step(session: session, worker: worker)
    }
    /// The op's own step on the live `session`; see `drive`.
    func step(session: OpaquePointer, worker: SSHConnectionWorker) throws(SSHSessionFailure) -> Bool { false }
    func resize(columns: Int, rows: Int) {}
    func releaseLocalResources() {}

    func timeoutError() -> SSHError {
        let limit = request.deadline.map { SSHConnectionWorker.format($0) } ?? "?"
        return SSHError(
            kind: .timedOut, host: request.endpoint.hostPort,
            message: "timed out after \(limit) \(request.describeWork) on \(request.endpoint.hostPort)")
    }

    /// A closing step's libssh2 call `rc`: false while it would block; true once done, a
    /// channel error included (the op moves on to release what is left).
    func settled(_ rc: Int32, worker w: SSHConnectionWorker) throws(SSHSessionFailure) -> Bool {
        switch try w.result(Int(rc), for: self) {
        case .again: false
        case .ok, .channelError: true
        }
    }

    /// Marks the op finished (everything released); true, for the step that ends it.
    func finish() -> Bool {
        finished = true
        return true
    }

    /// One step of freeing `channel`, the last state of every op that opens one: false while
    /// libssh2 would block; true once it is freed (or there was none), the op then finished.
    func freeChannel(_ channel: inout OpaquePointer?, worker w: SSHConnectionWorker) throws(SSHSessionFailure)
        -> Bool
    {
        if let open = channel {
            guard try settled(libssh2_channel_free(open), worker: w) else { return false }
            channel = nil
        }
        return finish()
    }

    func abandon(with error: SSHError, worker: SSHConnectionWorker) {
        worker.assertOnIOThread()
        request.complete(.failure(error))
        markResolved()
    }

    /// The session died or is shutting down; libssh2 resources go with the session.
    func fail(_ error: SSHError, worker: SSHConnectionWorker) {
        worker.assertOnIOThread()
        if let result = takeDeferredResult() {
            // The command had already finished; only releasing its channel was left.
            request.complete(result)
            return
        }
        var error = error
        if error.kind == .connectionLost, !error.message.contains(" while ") {
            error.message =
                "connection lost to \(request.endpoint.hostPort) while \(request.describeWork)"
                + (error.message.isEmpty ? "" : " (\(error.message))")
        }
        request.complete(.failure(error))
        markResolved()
    }

    static func make(for request: SSHRequest) -> SSHWorkerOp {
        switch request.work {
        case .upload(let plan): return SSHUploadOp(request: request, plan: plan)
        case .tunnel: return SSHTunnelOp(request: request)
        default: return SSHChannelOp(request: request)
        }
    }
}
