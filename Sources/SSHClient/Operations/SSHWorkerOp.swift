import CLibSSH2
import FleetCore
import Foundation

/// One request being executed by a connection worker. Confined to that worker's I/O thread.
class SSHWorkerOp {
    let request: SSHRequest
    /// The remote side may have run something: never resubmit.
    var started = false
    /// All libssh2 resources released; the worker removes it.
    var finished = false
    /// The request was resolved with a result (not an error).
    var succeeded = false
    /// The request was already resolved (timeout, cancel, error): only clean up.
    var abandoned = false
    /// A result to deliver once the op is finished and its slot released.
    var deferredResult: Result<SSHRequest.Outcome, SSHError>? = nil

    init(request: SSHRequest) { self.request = request }

    var waitingToOpen: Bool { false }
    var hardDeadline: ContinuousClock.Instant? { nil }
    var inputFD: Int32? { nil }
    /// A local descriptor the op waits to write to (polled for POLLOUT).
    var outputFD: Int32? { nil }
    func beginOpening() {}
    func drive(_ worker: SSHConnectionWorker) throws -> Bool { false }
    func resize(columns: Int, rows: Int) {}
    func releaseLocalResources() {}

    func timeoutError() -> SSHError {
        let limit = request.deadline.map { SSHConnectionWorker.format($0) } ?? "?"
        return SSHError(
            kind: .timedOut, host: request.endpoint.hostPort,
            message: "timed out after \(limit) \(request.describeWork) on \(request.endpoint.hostPort)")
    }

    /// One step of freeing `channel`, the last state of every op that opens one: false while
    /// libssh2 would block; true once it is freed (or there was none), the op then finished.
    func freeChannel(_ channel: inout OpaquePointer?, worker w: SSHConnectionWorker) throws -> Bool {
        if let open = channel {
            switch try w.result(Int(libssh2_channel_free(open)), for: self) {
            case .again: return false
            case .ok, .channelError: channel = nil
            }
        }
        finished = true
        return true
    }

    func abandon(with error: SSHError, worker: SSHConnectionWorker) {
        request.complete(.failure(error))
        abandoned = true
    }

    /// The session died or is shutting down; libssh2 resources go with the session.
    func fail(_ error: SSHError, worker: SSHConnectionWorker) {
        if let result = deferredResult {
            // The command had already finished; only releasing its channel was left.
            deferredResult = nil
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
        abandoned = true
    }

    static func make(for request: SSHRequest) -> SSHWorkerOp {
        switch request.work {
        case .upload(let plan): return SSHUploadOp(request: request, plan: plan)
        case .tunnel: return SSHTunnelOp(request: request)
        default: return SSHChannelOp(request: request)
        }
    }
}
