import CLibSSH2
import FleetCore
import Foundation
import Locks

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

    private struct Inbox {
        var requests: [SSHRequest] = []
        var controls: [Control] = []
        var shutdown = false
        /// The worker stopped accepting requests (dying or shut down).
        var closed = false
        /// The eventfd was closed (after the thread was joined); never write to it again.
        var wakeClosed = false
    }

    private struct Termination {
        var terminated = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var thread: pthread_t? = nil
        /// No thread could be started: there is nothing to join.
        var threadless = false
        var joined = false

        /// Terminated and its thread recorded (or known not to exist), so it can be joined. The
        /// I/O thread may finish (a refused connection takes microseconds) before `start` has
        /// recorded its handle; until then the connection does not count as terminated, or a
        /// join would find no thread, give up, and leak the thread and the eventfd.
        var joinable: Bool { terminated && (thread != nil || threadless) }

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
            connection.termination.withLock { $0.threadless = true }
            return false
        }
        let waiters = connection.termination.withLock { state in
            state.thread = thread
            return state.takeWaiters()
        }
        for waiter in waiters { waiter.resume() }
        return true
    }

    /// Queue a request. False if the connection no longer accepts work.
    func submit(_ request: SSHRequest) -> Bool {
        inbox.withLock { box in
            if box.closed || box.shutdown { return false }
            box.requests.append(request)
            Self.signal(box, wakeFD)
            return true
        }
    }

    func send(_ control: Control) {
        inbox.withLock { box in
            if box.closed { return }
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
            box.shutdown = true
            Self.signal(box, wakeFD)
        }
    }

    private static func signal(_ box: Inbox, _ fd: Int32) {
        guard !box.wakeClosed else { return }
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(fd, $0.baseAddress, 8) }
    }

    // MARK: worker side

    /// True when shutdown was requested (checked while connecting, before the inbox is taken).
    func peekShutdown() -> Bool { inbox.withLock { $0.shutdown } }

    func takeInbox() -> (requests: [SSHRequest], controls: [Control], shutdown: Bool) {
        inbox.withLock { box in
            let taken = (box.requests, box.controls, box.shutdown)
            box.requests = []
            box.controls = []
            return taken
        }
    }

    /// Stop accepting requests; returns those that were queued but not yet taken.
    func closeInbox() -> [SSHRequest] {
        inbox.withLock { box in
            box.closed = true
            let left = box.requests
            box.requests = []
            return left
        }
    }

    func drainWake() {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { read(wakeFD, $0.baseAddress, 8) }
    }

    /// Last act of the I/O thread (after libssh2 and the socket are released).
    func markTerminated() {
        let waiters = termination.withLock { state in
            state.terminated = true
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
        let join = termination.withLock { state -> (Bool, pthread_t?) in
            guard state.joinable, !state.joined else { return (false, nil) }
            state.joined = true
            return (true, state.thread)
        }
        guard join.0 else { return }
        if let thread = join.1 { pthread_join(thread, nil) }
        inbox.withLock { box in
            box.closed = true
            if !box.wakeClosed {
                box.wakeClosed = true
                close(wakeFD)
            }
        }
    }
}

/// Fatal for the whole session (socket gone, protocol broken): every started request fails.
struct SSHSessionFailure: Error {
    var error: SSHError
}

/// Owns one libssh2 session and its socket; runs on its own OS thread; drives every channel of the
/// session non-blocking from one poll() loop. Not Sendable, never shared: see `SSHConnection.start`.
final class SSHConnectionWorker {
    let handle: SSHConnection
    let delegate: any SSHConnectionDelegate
    let config: SSHConfiguration
    var endpoint: SSHEndpoint { handle.endpoint }
    var hostPort: String { handle.endpoint.hostPort }

    private(set) var session: OpaquePointer? = nil
    private(set) var sock: Int32 = -1
    /// The ssh_config `ProxyCommand` whose stdin and stdout are `sock`'s peer, if the endpoint has one.
    private var proxy: SSHProxyCommand? = nil
    /// The request for the jump host's `direct-tcpip` channel that `sock`'s peer is relayed to,
    /// if the endpoint has a `ProxyJump`.
    private var tunnel: SSHRequest? = nil
    private let counters: UnsafeMutablePointer<mpf_io_counters>

    /// Requests being worked on, in arrival order (including those waiting for the opening slot).
    private var ops: [SSHWorkerOp] = []
    /// The one op whose channel (or SFTP subsystem) is being opened: libssh2 keeps a single
    /// channel-open state per session.
    var opening: SSHWorkerOp? = nil
    /// The op whose last call returned EAGAIN with a packet half sent: the next libssh2 call on
    /// this session must be that same call, so only this op is driven until it completes.
    var sendOwner: SSHWorkerOp? = nil

    private var lastInboundCount: UInt64 = 0
    private var lastInboundAt = ContinuousClock.now
    private var lastKeepaliveAt = ContinuousClock.now
    private var busy = false

    init(handle: SSHConnection, delegate: any SSHConnectionDelegate, config: SSHConfiguration) {
        self.handle = handle
        self.delegate = delegate
        self.config = config
        counters = .allocate(capacity: 1)
        counters.initialize(to: mpf_io_counters(bytes_in: 0))
    }

    deinit {
        counters.deallocate()
    }

    // MARK: lifecycle

    func run() {
        SSHLibrary.ensureInitialized()
        defer { handle.markTerminated() }
        let facts: SSHSessionFacts
        do {
            facts = try establish()
        } catch let error as SSHError {
            let leftovers = handle.closeInbox()
            teardown(graceful: false)
            delegate.connectionFailed(handle, error: routed(error), unstarted: leftovers)
            return
        } catch {
            let leftovers = handle.closeInbox()
            teardown(graceful: false)
            delegate.connectionFailed(
                handle, error: routed(SSHError(kind: .protocolError, host: hostPort, message: "\(error)")),
                unstarted: leftovers)
            return
        }
        delegate.connectionEstablished(handle, facts: facts)
        lastInboundAt = .now
        lastInboundCount = counters.pointee.bytes_in

        let failure = mainLoop()
        let leftovers = handle.closeInbox()
        if let failure {
            // Shut the socket first so that freeing the session cannot wait on a dead peer, and
            // so that a proxy command ends and has said all it will say on its stderr.
            if sock >= 0 { shutdown(sock, Int32(SHUT_RDWR)) }
            proxy?.stop()
            let error = routed(failure.error)
            var unstarted = leftovers
            for op in ops {
                if op.started || op.request.isCompleted {
                    op.fail(error, worker: self)
                } else {
                    unstarted.append(op.request)
                }
            }
            ops.removeAll()
            delegate.connectionLost(handle, error: error, unstarted: unstarted)
            teardown(graceful: false)
        } else {
            let stop = SSHError(
                kind: .connectionLost, host: hostPort,
                message: "connection pool shut down; \(hostPort) closed")
            for op in ops { op.fail(stop, worker: self) }
            for request in leftovers { request.complete(.failure(stop)) }
            ops.removeAll()
            teardown(graceful: true)
        }
    }

    private func teardown(graceful: Bool) {
        if let session {
            libssh2_session_set_blocking(session, 1)
            libssh2_session_set_timeout(session, 1000)
            if graceful {
                _ = libssh2_session_disconnect_ex(
                    session, SSH_DISCONNECT_BY_APPLICATION, "megaplan-fleet closing", "")
            }
            if sock >= 0 { shutdown(sock, Int32(SHUT_RDWR)) }
            libssh2_session_free(session)
            self.session = nil
        }
        for op in ops { op.releaseLocalResources() }
        ops.removeAll()
        opening = nil
        sendOwner = nil
        if sock >= 0 {
            close(sock)
            sock = -1
        }
        proxy?.stop()
        if let tunnel, !tunnel.isCompleted { delegate.cancel(tunnel) }
    }

    /// A connection-level error that names the route when it is not a direct connection, with
    /// what the proxy command wrote on its stderr (the command has been stopped); secret shapes
    /// in either are redacted.
    private func routed(_ error: SSHError) -> SSHError {
        guard let route = endpoint.route else { return error }
        var routed = error
        let said = proxy?.stderrSummary ?? ""
        routed.message += Redactor.shapesOnly.redact(
            " (through \(route)" + (said.isEmpty ? ")" : "; its stderr: \(said))"))
        return routed
    }

    // MARK: connect, handshake, host key, auth

    /// ssh_config's `ConnectTimeout` for this host, else the pool's.
    private var connectTimeout: Duration { endpoint.connectTimeout ?? config.connectTimeout }
    /// ssh_config's `ServerAliveInterval` and `ServerAliveCountMax` for this host, else the pool's.
    private var keepaliveInterval: Duration { endpoint.keepaliveInterval ?? config.keepaliveInterval }
    private var keepaliveMaxMissed: Int { endpoint.keepaliveMaxMissed ?? config.keepaliveMaxMissed }

    private func establish() throws -> SSHSessionFacts {
        let deadline = ContinuousClock.now + connectTimeout
        if let bastion = endpoint.bastion {
            sock = try openTunnel(through: bastion, deadline: deadline)
        } else if let command = endpoint.proxyCommand {
            let proxy = try SSHProxyCommand(command: command, hostPort: hostPort)
            self.proxy = proxy
            sock = proxy.socket
        } else {
            sock = try connectSocket(deadline: deadline)
        }
        guard let session = mpf_session_init_counted(counters) else {
            throw SSHError(
                kind: .protocolError, host: hostPort,
                message: "libssh2 could not create a session for \(hostPort)")
        }
        self.session = session
        libssh2_session_set_blocking(session, 0)
        _ = libssh2_session_method_pref(
            session, LIBSSH2_METHOD_HOSTKEY,
            "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521")
        let keepaliveSeconds = UInt32(max(1, Int(keepaliveInterval.secondsDouble.rounded(.down))))
        libssh2_keepalive_config(session, 1, keepaliveSeconds)

        while true {
            let rc = libssh2_session_handshake(session, sock)
            if rc == 0 { break }
            if rc == LIBSSH2_ERROR_EAGAIN {
                try waitSocket(deadline: deadline, phase: "key exchange")
                continue
            }
            // libssh2 reports a peer that hangs up inside the key exchange as a key exchange
            // failure: the connection was lost, so it is `unreachable` like a drop at any other point.
            let lost =
                rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_RECV
                || rc == LIBSSH2_ERROR_BANNER_RECV
            let closed = !lost && peerClosed()
            throw SSHError(
                kind: lost || closed ? .unreachable : .protocolError, host: hostPort,
                message:
                    "key exchange with \(hostPort) failed: \(lastError(rc))\(closed ? " (the server closed the connection)" : "")"
            )
        }
        let hostKey = try SSHKnownHosts.verify(
            session: session, endpoint: endpoint,
            paths: [endpoint.knownHostsPath ?? config.knownHostsPath] + endpoint.otherKnownHostsPaths,
            policy: endpoint.hostKeyPolicy ?? config.hostKeyPolicy)
        let authentication = try authenticate(deadline: deadline)
        return SSHSessionFacts(
            banner: libssh2_session_banner_get(session).map { String(cString: $0) } ?? "",
            hostKey: hostKey.key, knownHosts: hostKey.place, authentication: authentication)
    }

    /// Whether the server has closed or reset the connection (end of stream, or a reset, waiting
    /// on the socket).
    private func peerClosed() -> Bool {
        guard sock >= 0 else { return true }
        var byte: UInt8 = 0
        let n = recv(sock, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN))
    }

    /// The endpoint's addresses, looked up off this thread (`SSHNameLookup`): waiting stops at
    /// the deadline or on shutdown, whatever the resolver does.
    private func resolve(deadline: ContinuousClock.Instant) throws -> [SSHResolvedAddress] {
        guard (1...65535).contains(endpoint.port) else {
            throw SSHError(
                kind: .unreachable, host: hostPort,
                message: "cannot connect to \(hostPort): port \(endpoint.port) is not from 1 to 65535")
        }
        guard let lookup = SSHNameLookup.start(host: endpoint.host, port: endpoint.port) else {
            throw SSHError(
                kind: .protocolError, host: hostPort,
                message: "cannot start a name lookup for \(hostPort): \(String(cString: strerror(errno)))")
        }
        while true {
            try waitFD(
                lookup.readyFD, events: Int16(POLLIN), deadline: deadline, phase: "name resolution",
                timeoutKind: .unreachable)
            switch lookup.result {
            case .resolved(let addresses)?: return addresses
            case .failed(let code)?:
                throw SSHError(
                    kind: .unreachable, host: hostPort,
                    message:
                        "cannot resolve \(endpoint.host) for \(hostPort): \(String(cString: gai_strerror(code)))"
                )
            case nil: continue
            }
        }
    }

    /// One end of a socket pair whose other end the jump host's pooled connection relays to a
    /// `direct-tcpip` channel to this endpoint (`SSHTunnelOp`), once that channel is open.
    private func openTunnel(through bastion: SSHEndpoint, deadline: ContinuousClock.Instant) throws -> Int32 {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0
        else {
            throw SSHError(
                kind: .protocolError, host: hostPort,
                message: "cannot create a socket pair for \(hostPort): \(String(cString: strerror(errno)))")
        }
        _ = mpf_set_nonblocking(pair[0])
        _ = mpf_set_nonblocking(pair[1])
        let outcome = Locked<Result<SSHRequest.Outcome, SSHError>?>(nil)
        let handle = self.handle
        let request = SSHRequest(
            id: delegate.nextRequestID(), endpoint: bastion,
            work: .tunnel(host: endpoint.host, port: endpoint.port, end: SSHTunnelEnd(fd: pair[1])),
            deadline: nil,
            target: .callback { result in
                outcome.withLock { $0 = result }
                handle.wake()
            })
        tunnel = request
        delegate.submit(request)
        while true {
            switch outcome.withLock({ $0 }) {
            case .success?:
                return pair[0]
            case .failure(let error)?:
                close(pair[0])
                throw SSHError(
                    kind: error.kind, host: hostPort,
                    message:
                        "cannot reach \(hostPort) through jump host \(bastion.hostPort): \(error.message)")
            case nil:
                do {
                    try waitFD(
                        pair[0], events: Int16(POLLIN), deadline: deadline,
                        phase: "opening a channel through jump host \(bastion.hostPort)",
                        timeoutKind: .unreachable, returnOnWake: true)
                } catch {
                    close(pair[0])
                    throw error
                }
            }
        }
    }

    private func connectSocket(deadline: ContinuousClock.Instant) throws -> Int32 {
        let addresses = try resolve(deadline: deadline)
        var lastProblem = "no address"
        for info in addresses {
            let fd = socket(info.family, info.socketType | Int32(SOCK_CLOEXEC.rawValue), info.socketProtocol)
            if fd < 0 {
                lastProblem = String(cString: strerror(errno))
                continue
            }
            _ = mpf_set_nonblocking(fd)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let rc = info.address.withUnsafeBytes { raw in
                connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
            }
            if rc == 0 { return fd }
            if errno != EINPROGRESS {
                lastProblem = String(cString: strerror(errno))
                close(fd)
                continue
            }
            do {
                try waitFD(
                    fd, events: Int16(POLLOUT), deadline: deadline, phase: "TCP connect",
                    timeoutKind: .unreachable)
            } catch {
                close(fd)
                throw error
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError == 0 { return fd }
            lastProblem = String(cString: strerror(soError))
            close(fd)
        }
        throw SSHError(
            kind: .unreachable, host: hostPort, message: "cannot connect to \(hostPort): \(lastProblem)")
    }

    /// Waits until `fd` is ready, the deadline passes (throws), or shutdown is requested (throws);
    /// with `returnOnWake`, also until the connection is woken.
    private func waitFD(
        _ fd: Int32, events: Int16, deadline: ContinuousClock.Instant, phase: String,
        timeoutKind: SSHError.Kind, returnOnWake: Bool = false
    ) throws {
        while true {
            let remaining = deadline - .now
            if remaining <= .zero {
                throw SSHError(
                    kind: timeoutKind, host: hostPort,
                    message: "\(phase) with \(hostPort) timed out after \(Self.format(connectTimeout))"
                )
            }
            var fds = [
                pollfd(fd: fd, events: events, revents: 0),
                pollfd(fd: handle.wakeFD, events: Int16(POLLIN), revents: 0),
            ]
            if let proxyFD = proxy?.pollFD {
                fds.append(pollfd(fd: proxyFD, events: Int16(POLLIN), revents: 0))
            }
            let ms = Int32(min(Double(Int32.max), max(1, (remaining.secondsDouble * 1000).rounded(.up))))
            let n = poll(&fds, nfds_t(fds.count), ms)
            if n < 0 && errno == EINTR { continue }
            if fds.count > 2, fds[2].revents != 0 { proxy?.drainStderr() }
            if fds[1].revents != 0 {
                handle.drainWake()
                let pending = handle.peekShutdown()
                if pending {
                    throw SSHError(
                        kind: .connectionLost, host: hostPort,
                        message: "connection pool shut down while connecting to \(hostPort)")
                }
                if returnOnWake { return }
            }
            if fds[0].revents != 0 { return }
        }
    }

    private func waitSocket(deadline: ContinuousClock.Instant, phase: String) throws {
        guard let session else { return }
        let directions = libssh2_session_block_directions(session)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        try waitFD(sock, events: events, deadline: deadline, phase: phase, timeoutKind: .timedOut)
    }

    /// Returns how the session authenticated; throws `authFailed` naming every method tried and
    /// why each failed.
    private func authenticate(deadline: ContinuousClock.Instant) throws -> String {
        guard let session else { return "" }
        let user = endpoint.resolvedUser
        var notes: [String] = []

        func tryFile(_ path: String) throws -> String? {
            let info = SSHIdentityInfo(path: path)
            if !info.readable {
                notes.append("\(path) is not readable")
                return nil
            }
            if let problem = info.permissionProblem {
                notes.append(problem)
                return nil
            }
            if info.isEncrypted {
                notes.append(
                    "identity file \(path) is passphrase-protected; megaplan-fleet cannot prompt for passphrases: load it into ssh-agent (ssh-add) or use a key without a passphrase"
                )
                return nil
            }
            if let certificate = certificatePath(for: path),
                let used = try tryCertificate(certificate, key: path)
            {
                return used
            }
            guard let refused = try publicKeyAuth(publicKey: nil, privateKey: path) else {
                return "publickey \(path)"
            }
            notes.append(
                info.isRSA
                    ? "RSA keys are not supported by libssh2 1.10 (no rsa-sha2 signatures); use an ed25519 or ECDSA key (\(path) is RSA)"
                    : "key \(path) was refused (\(refused))")
            return nil
        }

        /// A user certificate for the key `path`: checked here first for what the server would
        /// refuse without saying why, then offered with the key.
        func tryCertificate(_ certificatePath: String, key path: String) throws -> String? {
            guard let certificate = SSHCertificate(path: certificatePath) else {
                notes.append("certificate \(certificatePath) is not an OpenSSH user certificate")
                return nil
            }
            let named = "certificate \(certificatePath) (key id \"\(certificate.keyID)\")"
            if let reason = certificate.unsupportedReason
                ?? certificate.refusal(user: user, now: UInt64(max(0, Timestamp.wallClock())))
            {
                notes.append("\(named) cannot be used: \(reason)")
                return nil
            }
            guard try publicKeyAuth(publicKey: certificatePath, privateKey: path) != nil else {
                return "\(named) with key \(path)"
            }
            notes.append(
                "\(named) was refused: \(hostPort) does not trust its CA for \(user) (TrustedUserCAKeys, AuthorizedPrincipalsFile)"
            )
            return nil
        }

        /// nil when the server accepted the key, else libssh2's reason.
        func publicKeyAuth(publicKey: String?, privateKey path: String) throws -> String? {
            while true {
                let rc = mpf_userauth_publickey_fromfile(session, user, publicKey, path, nil)
                if rc == 0 { return nil }
                if rc == LIBSSH2_ERROR_EAGAIN {
                    try waitSocket(deadline: deadline, phase: "authentication")
                    continue
                }
                // libssh2 reports a peer that hangs up while it waits for the answer as an
                // unverified key (-19): a closed connection is a lost one, not a refused key.
                if rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_RECV
                    || rc == LIBSSH2_ERROR_SOCKET_SEND || peerClosed()
                {
                    throw SSHError(
                        kind: .connectionLost, host: hostPort,
                        message: "connection lost to \(hostPort) during authentication: \(lastError(rc))")
                }
                return lastError(rc)
            }
        }

        if let identity = endpoint.identityFile {
            for path in [identity] + endpoint.otherIdentityFiles {
                if let used = try tryFile(SSHPaths.expandTilde(path)) { return used }
            }
        } else {
            if let agentSocket = agentSocket {
                if let used = try tryAgent(socket: agentSocket, user: user, deadline: deadline, notes: &notes)
                {
                    return used
                }
            }
            let home = SSHPaths.homeDirectory
            var tried = false
            for name in ["id_ed25519", "id_ecdsa"] {
                let path = home + "/.ssh/" + name
                guard FileManager.default.fileExists(atPath: path) else { continue }
                tried = true
                if let used = try tryFile(path) { return used }
            }
            if !tried && FileManager.default.fileExists(atPath: home + "/.ssh/id_rsa") {
                notes.append(
                    "only ~/.ssh/id_rsa exists: RSA keys are not supported by libssh2 1.10 (no rsa-sha2 signatures); use an ed25519 or ECDSA key"
                )
            }
            if notes.isEmpty {
                let agent = endpoint.agent == .none ? "IdentityAgent none" : "no ssh-agent"
                notes.append("\(agent) and no ~/.ssh/id_ed25519 or ~/.ssh/id_ecdsa")
            }
        }
        throw SSHError(
            kind: .authFailed, host: hostPort,
            message: "authentication as \(user) to \(hostPort) failed: " + notes.joined(separator: "; "))
    }

    /// The certificate offered with the key at `path`: ssh_config's `CertificateFile`, else
    /// `<path>-cert.pub` when it exists (as ssh loads it).
    private func certificatePath(for path: String) -> String? {
        if let configured = endpoint.certificateFile { return SSHPaths.expandTilde(configured) }
        let beside = path + "-cert.pub"
        return FileManager.default.fileExists(atPath: beside) ? beside : nil
    }

    /// The agent's socket: ssh_config's `IdentityAgent`, else `$SSH_AUTH_SOCK`; nil for none.
    private var agentSocket: String? {
        switch endpoint.agent {
        case .none: return nil
        case .socket(let path): return path
        case .environment:
            let socket = ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"] ?? ""
            return socket.isEmpty ? nil : socket
        }
    }

    private func tryAgent(
        socket: String, user: String, deadline: ContinuousClock.Instant, notes: inout [String]
    )
        throws -> String?
    {
        guard let session, let agent = libssh2_agent_init(session) else { return nil }
        defer { libssh2_agent_free(agent) }
        libssh2_agent_set_identity_path(agent, socket)
        guard libssh2_agent_connect(agent) == 0 else {
            notes.append("ssh-agent at \(socket) is not reachable")
            return nil
        }
        defer { libssh2_agent_disconnect(agent) }
        guard libssh2_agent_list_identities(agent) == 0 else {
            notes.append("ssh-agent did not list identities")
            return nil
        }
        var previous: UnsafeMutablePointer<libssh2_agent_publickey>? = nil
        var identity: UnsafeMutablePointer<libssh2_agent_publickey>? = nil
        var offered = 0
        while libssh2_agent_get_identity(agent, &identity, previous) == 0, let current = identity {
            offered += 1
            let blob = Array(
                UnsafeBufferPointer(start: current.pointee.blob, count: current.pointee.blob_len))
            let isRSA = Self.blobType(current.pointee.blob, current.pointee.blob_len) == "ssh-rsa"
            let certificate = SSHCertificate(blob: blob)
            while true {
                let rc = libssh2_agent_userauth(agent, user, current)
                if rc == 0 {
                    let kind = certificate.map { "certificate (key id \"\($0.keyID)\")" } ?? "key"
                    let comment = current.pointee.comment.map { String(cString: $0) } ?? ""
                    return
                        "ssh-agent \(kind) \(KnownHosts.fingerprint(blob))\(comment.isEmpty ? "" : " (\(comment))")"
                }
                if rc == LIBSSH2_ERROR_EAGAIN {
                    try waitSocket(deadline: deadline, phase: "authentication")
                    continue
                }
                if isRSA {
                    notes.append(
                        "agent key is RSA: RSA keys are not supported by libssh2 1.10 (no rsa-sha2 signatures); use an ed25519 or ECDSA key"
                    )
                } else if let certificate,
                    let reason = certificate.unsupportedReason
                        ?? certificate.refusal(user: user, now: UInt64(max(0, Timestamp.wallClock())))
                {
                    notes.append(
                        "agent certificate (key id \"\(certificate.keyID)\") cannot be used: \(reason)")
                }
                break
            }
            previous = current
        }
        notes.append("ssh-agent offered \(offered) key(s), none accepted")
        return nil
    }

    private static func blobType(_ blob: UnsafeMutablePointer<UInt8>?, _ length: Int) -> String {
        guard let blob, length >= 4 else { return "" }
        let n = Int(blob[0]) << 24 | Int(blob[1]) << 16 | Int(blob[2]) << 8 | Int(blob[3])
        guard n > 0, 4 + n <= length else { return "" }
        return String(decoding: UnsafeBufferPointer(start: blob + 4, count: n), as: UTF8.self)
    }

    // MARK: main loop

    /// Returns nil after a shutdown request, or the failure that killed the session.
    private func mainLoop() -> SSHSessionFailure? {
        while true {
            let inbox = handle.takeInbox()
            if inbox.shutdown { return nil }
            for request in inbox.requests {
                if request.cancelled.load(ordering: .acquiring) {
                    request.complete(.failure(cancelledError()))
                    delegate.requestFinished(handle, request, succeeded: false)
                    continue
                }
                ops.append(SSHWorkerOp.make(for: request))
            }
            for control in inbox.controls {
                switch control {
                case .cancel(let id):
                    for op in ops where op.request.id == id {
                        op.abandon(with: cancelledError(), worker: self)
                    }
                case .resize(let id, let columns, let rows):
                    for op in ops where op.request.id == id { op.resize(columns: columns, rows: rows) }
                }
            }
            do {
                try driveAll()
                try checkLiveness()
                try waitForEvents()
            } catch let failure as SSHSessionFailure {
                return failure
            } catch {
                return SSHSessionFailure(
                    error: SSHError(kind: .connectionLost, host: hostPort, message: "\(error)"))
            }
        }
    }

    func cancelledError() -> SSHError {
        SSHError(kind: .cancelled, host: hostPort, message: "request to \(hostPort) was cancelled")
    }

    /// Drives every op until none makes progress (reading one channel can pull another channel's
    /// packets off the socket, so after any progress all of them are retried before polling).
    private func driveAll() throws {
        busy = false
        var rounds = 0
        while true {
            var progress = false
            let now = ContinuousClock.now
            for op in ops where !op.abandoned {
                if let deadline = op.hardDeadline, now >= deadline {
                    op.abandon(with: op.timeoutError(), worker: self)
                    progress = true
                }
            }
            if let owner = sendOwner {
                if try owner.drive(self) { progress = true }
            } else {
                if opening == nil, let next = ops.first(where: { $0.waitingToOpen }) {
                    opening = next
                    next.beginOpening()
                }
                for op in ops {
                    if try op.drive(self) { progress = true }
                    if sendOwner != nil { break }
                }
            }
            if ops.contains(where: { $0.finished }) {
                var kept: [SSHWorkerOp] = []
                for op in ops {
                    if op.finished {
                        if opening === op { opening = nil }
                        if sendOwner === op { sendOwner = nil }
                        op.releaseLocalResources()
                        delegate.requestFinished(handle, op.request, succeeded: op.succeeded)
                        if let result = op.deferredResult {
                            op.deferredResult = nil
                            op.request.complete(result)
                        }
                    } else {
                        kept.append(op)
                    }
                }
                ops = kept
                progress = true
            }
            if !progress { return }
            rounds += 1
            if rounds >= 256 {
                busy = true
                return
            }
        }
    }

    private func checkLiveness() throws {
        guard let session else { return }
        let now = ContinuousClock.now
        let pending = UInt64(max(0, mpf_fionread(sock)))
        let inbound = counters.pointee.bytes_in &+ pending
        if inbound != lastInboundCount {
            lastInboundCount = inbound
            lastInboundAt = now
        }
        let silence = now - lastInboundAt
        let limit = keepaliveInterval * keepaliveMaxMissed
        if silence >= limit {
            throw SSHSessionFailure(
                error: SSHError(
                    kind: .connectionLost, host: hostPort,
                    message:
                        "connection lost to \(hostPort): no response for \(Self.format(silence)) (\(keepaliveMaxMissed) keepalives of \(Self.format(keepaliveInterval)) unanswered)"
                ))
        }
        if silence >= keepaliveInterval, now - lastKeepaliveAt >= keepaliveInterval,
            sendOwner == nil
        {
            // Only when the kernel can take the whole packet: a keepalive left half sent would make
            // the next, different, send on this session fail with LIBSSH2_ERROR_BAD_USE.
            var probe = pollfd(fd: sock, events: Int16(POLLOUT), revents: 0)
            if poll(&probe, 1, 0) == 1, probe.revents & Int16(POLLOUT) != 0 {
                var next: Int32 = 0
                let rc = libssh2_keepalive_send(session, &next)
                if rc < 0 && rc != LIBSSH2_ERROR_EAGAIN {
                    throw SSHSessionFailure(error: lostError(rc))
                }
                lastKeepaliveAt = now
            }
        }
    }

    private func waitForEvents() throws {
        guard let session else { return }
        var fds: [pollfd] = []
        var socketEvents: Int16 = 0
        let active = !ops.isEmpty
        if active {
            socketEvents = Int16(POLLIN)
            if libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 {
                socketEvents |= Int16(POLLOUT)
            }
        } else {
            // Idle: unread keepalive replies stay in the kernel buffer (counted with FIONREAD), so
            // POLLIN would spin; a closed peer still shows up as RDHUP/HUP.
            socketEvents = Self.pollRDHUP
        }
        fds.append(pollfd(fd: sock, events: socketEvents, revents: 0))
        fds.append(pollfd(fd: handle.wakeFD, events: Int16(POLLIN), revents: 0))
        if let proxyFD = proxy?.pollFD { fds.append(pollfd(fd: proxyFD, events: Int16(POLLIN), revents: 0)) }
        for op in ops {
            if let fd = op.inputFD { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            if let fd = op.outputFD { fds.append(pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)) }
        }
        var timeout = Duration.milliseconds(
            max(20, min(1000, Int(keepaliveInterval.secondsDouble * 250))))
        if busy { timeout = .zero }
        let now = ContinuousClock.now
        for op in ops where !op.abandoned {
            if let deadline = op.hardDeadline { timeout = min(timeout, max(.zero, deadline - now)) }
        }
        let ms = Int32((timeout.secondsDouble * 1000).rounded(.up))
        let n = poll(&fds, nfds_t(fds.count), ms)
        if n < 0 { return }
        if fds[1].revents != 0 { handle.drainWake() }
        if let proxyFD = proxy?.pollFD, fds[2].fd == proxyFD, fds[2].revents != 0 { proxy?.drainStderr() }
        let revents = fds[0].revents
        if !active, revents & (Self.pollRDHUP | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
            throw SSHSessionFailure(
                error: SSHError(
                    kind: .connectionLost, host: hostPort,
                    message: "connection lost to \(hostPort): closed by the server"))
        }
    }

    static let pollRDHUP: Int16 = 0x2000

    // MARK: helpers for ops

    enum CallResult {
        case ok(Int)
        case again
        case channelError(Int32)
    }

    /// Classifies the return code of a libssh2 call made on behalf of `op` and maintains the
    /// "same call after EAGAIN with a half-sent packet" ownership.
    func result(_ rc: Int, for op: SSHWorkerOp) throws -> CallResult {
        if rc >= 0 {
            if sendOwner === op { sendOwner = nil }
            return .ok(rc)
        }
        let code = Int32(rc)
        if code == LIBSSH2_ERROR_EAGAIN {
            if let session, libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 {
                sendOwner = op
            } else if sendOwner === op {
                sendOwner = nil
            }
            return .again
        }
        if sendOwner === op { sendOwner = nil }
        switch code {
        case LIBSSH2_ERROR_CHANNEL_FAILURE, LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED,
            LIBSSH2_ERROR_CHANNEL_UNKNOWN,
            LIBSSH2_ERROR_CHANNEL_CLOSED, LIBSSH2_ERROR_CHANNEL_EOF_SENT, LIBSSH2_ERROR_SFTP_PROTOCOL,
            LIBSSH2_ERROR_REQUEST_DENIED, LIBSSH2_ERROR_FILE, LIBSSH2_ERROR_INVAL:
            return .channelError(code)
        default:
            throw SSHSessionFailure(error: lostError(code))
        }
    }

    /// For calls that return a handle: NULL plus the session's last errno.
    func resultOfHandle(_ pointer: OpaquePointer?, for op: SSHWorkerOp) throws -> CallResult {
        if pointer != nil { return try result(0, for: op) }
        guard let session else { return .channelError(LIBSSH2_ERROR_SOCKET_NONE) }
        return try result(Int(libssh2_session_last_errno(session)), for: op)
    }

    func lostError(_ code: Int32) -> SSHError {
        SSHError(
            kind: .connectionLost, host: hostPort,
            message: "connection lost to \(hostPort): \(lastError(code))")
    }

    func lastError(_ code: Int32) -> String {
        guard let session else { return "libssh2 error \(code)" }
        var message: UnsafeMutablePointer<CChar>? = nil
        var length: Int32 = 0
        _ = libssh2_session_last_error(session, &message, &length, 0)
        let text = message.map { String(cString: $0) } ?? ""
        return text.isEmpty ? "libssh2 error \(code)" : "\(text) (libssh2 error \(code))"
    }

    static func format(_ duration: Duration) -> String {
        let s = duration.secondsDouble
        if s == s.rounded() { return "\(Int(s)) s" }
        return String(format: "%.1f s", s)
    }
}
