import FleetCore
import Foundation
import Locks
import Synchronization

/// Events of a `stream` request, produced by the I/O thread and consumed by the caller's task.
enum SSHStreamEvent: Sendable {
    case output([UInt8])
    case finished(Result<Int32, SSHError>)
}

/// One file of an upload plan.
struct SSHUploadFile: Sendable {
    enum Source: Sendable {
        case bytes([UInt8])
        case localFile(String)
    }
    var source: Source
    var remotePath: String
    var mode: Int32
}

/// Directories to create (parents first) and files to write, in one SFTP session.
struct SSHUploadPlan: Sendable {
    var directories: [String]
    var files: [SSHUploadFile]
}

/// A unit of work submitted to the pool and executed by exactly one connection's I/O thread.
/// It is Sendable: every stored property is immutable and Sendable, except the completion
/// target, which is a `ResumeOnce` so that it is resumed exactly once from whichever thread wins.
final class SSHRequest: Sendable {
    enum Work: Sendable {
        case exec(command: String, stdin: [UInt8]?, outputLimit: Int)
        case stream(command: String)
        case upload(SSHUploadPlan)
        case interactive(
            command: String?, term: String, columns: Int, rows: Int, inputFD: Int32, outputFD: Int32)
        /// A `direct-tcpip` channel to `host:port` relayed to `end` (`SSHTunnelOp`); resolved with
        /// `.done` once the channel is open.
        case tunnel(host: String, port: Int, end: SSHTunnelEnd)
    }

    enum Outcome: Sendable {
        case result(SSHCommandResult)
        case status(Int32)
        case done
    }

    enum Target: Sendable {
        case continuation(CheckedContinuation<Result<Outcome, SSHError>, Never>)
        case stream(AsyncStream<SSHStreamEvent>.Continuation)
        /// Called once, on whichever thread resolves the request (an I/O thread waiting for a
        /// tunnel: it must not block).
        case callback(@Sendable (Result<Outcome, SSHError>) -> Void)
    }

    let id: UInt64
    let endpoint: SSHEndpoint
    let work: Work
    let submittedAt: ContinuousClock.Instant
    /// Caller's deadline (from submission), if any.
    let deadline: Duration?
    private let resolution: ResumeOnce<Result<Outcome, SSHError>, Target>
    /// Times this request was handed back by a dying connection before it started.
    let resubmissions = Atomic<Int>(0)
    let cancelled = Atomic<Bool>(false)

    init(id: UInt64, endpoint: SSHEndpoint, work: Work, deadline: Duration?, target: Target? = nil) {
        self.id = id
        self.endpoint = endpoint
        self.work = work
        self.deadline = deadline
        self.submittedAt = .now
        self.resolution = ResumeOnce(receiver: target, deliver: Self.deliver)
    }

    var deadlineInstant: ContinuousClock.Instant? { deadline.map { submittedAt + $0 } }

    var isCompleted: Bool { resolution.isResolved }

    /// Attach the caller's continuation (if the request was resolved already, resume at once).
    func attach(_ target: Target) { resolution.attach(target) }

    /// Streams only: deliver output (dropped once the request is resolved).
    func emit(_ bytes: [UInt8]) {
        resolution.whilePending { target in
            if case .stream(let c) = target { c.yield(.output(bytes)) }
        }
    }

    /// Resolve the request exactly once. Returns false when it had already been resolved.
    @discardableResult
    func complete(_ result: Result<Outcome, SSHError>) -> Bool { resolution.resolve(result) }

    @Sendable private static func deliver(_ result: Result<Outcome, SSHError>, to target: Target) {
        switch target {
        case .continuation(let c):
            c.resume(returning: result)
        case .stream(let c):
            switch result {
            case .success(.status(let s)): c.yield(.finished(.success(s)))
            case .success(.result(let r)): c.yield(.finished(.success(r.exitStatus)))
            case .success(.done): c.yield(.finished(.success(0)))
            case .failure(let e): c.yield(.finished(.failure(e)))
            }
            c.finish()
        case .callback(let call):
            call(result)
        }
    }

    /// A jump host's channel for a session behind it: it does not take one of the connection's
    /// `channelsPerConnection` slots (sshd's `MaxSessions` does not count `direct-tcpip`
    /// channels), so that one connection carries every session behind the jump host.
    var isTunnel: Bool {
        if case .tunnel = work { return true }
        return false
    }

    var describeWork: String {
        switch work {
        case .exec, .stream: return "running a command"
        case .upload: return "uploading files"
        case .interactive: return "running an interactive session"
        case .tunnel(let host, let port, _):
            return "carrying a session to \(HostAddress.display(host: host, port: port))"
        }
    }
}
