import CLibSSH2
import FleetCore
import Foundation
import Locks
import Synchronization

/// Callbacks from a connection's I/O thread to its pool. They are called without any connection
/// lock held and must not block.
protocol SSHConnectionDelegate: AnyObject, Sendable {
    func connectionEstablished(_ connection: SSHConnection, facts: SSHSessionFacts)
    /// Connecting (TCP, key exchange, host key, auth) failed; `unstarted` never reached the server.
    func connectionFailed(_ connection: SSHConnection, error: SSHError, unstarted: [SSHRequest])
    /// An established connection died; started requests were already failed; `unstarted` may be resubmitted.
    func connectionLost(_ connection: SSHConnection, error: SSHError, unstarted: [SSHRequest])
    /// A request left the connection (its channel is released). `succeeded`: it produced a result.
    func requestFinished(_ connection: SSHConnection, _ request: SSHRequest, succeeded: Bool)
    /// A connection behind a jump host asks the pool for its tunnel (`SSHRequest.Work.tunnel`),
    /// and withdraws the request when it gives up before the tunnel opened.
    func nextRequestID() -> UInt64
    func submit(_ request: SSHRequest)
    func cancel(_ request: SSHRequest)
}

/// The thread-safe face of one SSH connection: an inbox the pool writes to and an eventfd that wakes
/// the connection's I/O thread. All libssh2 state lives in `SSHConnectionWorker`, confined to that
/// thread. Sendable because every mutable field is behind a lock (Locked).
final class SSHConnection: Sendable {
    enum Control: Sendable {
        case cancel(UInt64)
        case resize(UInt64, columns: Int, rows: Int)
    }

    /// The inbox's lifecycle; it only moves forward (`advance`).
    enum InboxPhase: Int, Comparable {
        /// Takes requests and controls.
        case open
        /// Shutdown was requested: no new requests; controls are still taken.
        case shuttingDown
        /// The worker stopped accepting requests (dying or shut down); it may still be woken.
        case closed
        /// The eventfd was closed (after the thread was joined); never write to it again.
        case wakeClosed

        static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    private struct Inbox {
        var requests: [SSHRequest] = []
        var controls: [Control] = []
        var phase = InboxPhase.open

        mutating func advance(to next: InboxPhase) { phase = max(phase, next) }
    }

    /// The I/O thread as `start` recorded it.
    enum ThreadRecord {
        /// `start` has not recorded the thread yet (it may already be running, or even done).
        case unrecorded
        case started(pthread_t)
        /// No thread could be started: there is nothing to join.
        case threadless
    }

    /// How far the I/O thread has got towards being joined.
    enum TerminationPhase {
        case running
        /// The I/O thread's last act (`markTerminated`) is done.
        case terminated
        /// `joinTerminated` has joined it (or found nothing to join).
        case joined
    }

    private struct Termination {
        var phase = TerminationPhase.running
        var thread = ThreadRecord.unrecorded
        var waiters: [CheckedContinuation<Void, Never>] = []

        /// Terminated and its thread recorded (or known not to exist), so it can be joined. The
        /// I/O thread may finish (a refused connection takes microseconds) before `start` has
        /// recorded its handle; until then the connection does not count as terminated, or a
        /// join would find no thread, give up, and leak the thread and the eventfd.
        var joinable: Bool {
            if case .unrecorded = thread { return false }
            return phase != .running
        }

        mutating func takeWaiters() -> [CheckedContinuation<Void, Never>] {
            guard joinable else { return [] }
            let taken = waiters
            waiters = []
            return taken
        }
    }

    let endpoint: SSHEndpoint
    let wakeFD: Int32
    private let inbox = Locked(Inbox())
    private let termination = Locked(Termination())
    /// The I/O thread (`pthread_self()` in `SSHConnectionWorker.run`), 0 until it has started:
    /// what `assertOnIOThread` compares with.
    private let ioThread = Atomic<pthread_t>(0)

    init?(endpoint: SSHEndpoint) {
        let fd = mpf_eventfd()
        if fd < 0 { return nil }
        self.endpoint = endpoint
        self.wakeFD = fd
    }

    /// Starts the I/O thread that owns `worker`. Returns false if no thread could be created.
    static func start(_ worker: SSHConnectionWorker) -> Bool {
        let connection = worker.handle
        // Ownership of the (non-Sendable) worker moves to the new thread: this function keeps no
        // reference after passRetained, so the worker is only ever touched by that thread.
        let raw = Unmanaged.passRetained(worker).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { argument in
                let worker = Unmanaged<SSHConnectionWorker>.fromOpaque(argument!).takeRetainedValue()
                worker.run()
                return nil
            }, raw)
        if rc != 0 {
            Unmanaged<SSHConnectionWorker>.fromOpaque(raw).release()
            connection.termination.withLock { $0.thread = .threadless }
            return false
        }
        let waiters = connection.termination.withLock { state in
            state.thread = .started(thread)
            return state.takeWaiters()
        }
        for waiter in waiters { waiter.resume() }
        return true
    }

    /// Queue a request. False if the connection no longer accepts work.
    func submit(_ request: SSHRequest) -> Bool {
        inbox.withLock { box in
            if box.phase != .open { return false }
            box.requests.append(request)
            Self.signal(box, wakeFD)
            return true
        }
    }

    func send(_ control: Control) {
        inbox.withLock { box in
            if box.phase >= .closed { return }
            box.controls.append(control)
            Self.signal(box, wakeFD)
        }
    }

    /// Wakes the I/O thread (the tunnel it waits for opened or failed).
    func wake() {
        inbox.withLock { box in Self.signal(box, wakeFD) }
    }

    func requestShutdown() {
        inbox.withLock { box in
            box.advance(to: .shuttingDown)
            Self.signal(box, wakeFD)
        }
    }

    private static func signal(_ box: Inbox, _ fd: Int32) {
        guard box.phase < .wakeClosed else { return }
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(fd, $0.baseAddress, 8) }
    }

    // MARK: worker side

    /// The first act of the I/O thread: from now on the worker side below is confined to it.
    func recordIOThread() {
        ioThread.store(pthread_self(), ordering: .releasing)
    }

    /// Traps in debug builds unless called on the I/O thread; costs nothing in release builds.
    @inline(__always)
    func assertOnIOThread(_ function: StaticString = #function) {
        assert(
            pthread_equal(ioThread.load(ordering: .acquiring), pthread_self()) != 0,
            "\(function) must run on the I/O thread of the connection to \(endpoint.hostPort)")
    }

    /// True when shutdown was requested (checked while connecting, before the inbox is taken).
    func peekShutdown() -> Bool {
        assertOnIOThread()
        return inbox.withLock { $0.phase == .shuttingDown }
    }

    func takeInbox() -> (requests: [SSHRequest], controls: [Control], shutdown: Bool) {
        assertOnIOThread()
        return inbox.withLock { box in
            let taken = (box.requests, box.controls, box.phase == .shuttingDown)
            box.requests = []
            box.controls = []
            return taken
        }
    }

    /// Stop accepting requests; returns those that were queued but not yet taken.
    func closeInbox() -> [SSHRequest] {
        assertOnIOThread()
        return inbox.withLock { box in
            box.advance(to: .closed)
            let left = box.requests
            box.requests = []
            return left
        }
    }

    func drainWake() {
        assertOnIOThread()
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { read(wakeFD, $0.baseAddress, 8) }
    }

    /// Last act of the I/O thread (after libssh2 and the socket are released).
    func markTerminated() {
        assertOnIOThread()
        let waiters = termination.withLock { state in
            state.phase = .terminated
            return state.takeWaiters()
        }
        for waiter in waiters { waiter.resume() }
    }

    // MARK: pool side

    /// Terminated and ready to be joined.
    var isTerminated: Bool { termination.withLock { $0.joinable } }

    func waitTerminated() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = termination.withLock { state -> Bool in
                if state.joinable { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Joins the I/O thread (which has already signalled termination, so this returns at once) and
    /// closes the eventfd. Idempotent.
    func joinTerminated() {
        let join = termination.withLock { state -> ThreadRecord? in
            guard state.joinable, state.phase != .joined else { return nil }
            state.phase = .joined
            return state.thread
        }
        guard let join else { return }
        if case .started(let thread) = join { pthread_join(thread, nil) }
        inbox.withLock { box in
            if box.phase < .wakeClosed {
                box.advance(to: .wakeClosed)
                close(wakeFD)
            }
        }
    }
}
