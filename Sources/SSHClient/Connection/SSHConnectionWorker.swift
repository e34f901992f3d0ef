import CLibSSH2
import FleetCore
import Foundation

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

    var session: OpaquePointer? = nil
    var sock: Int32 = -1
    /// The ssh_config `ProxyCommand` whose stdin and stdout are `sock`'s peer, if the endpoint has one.
    var proxy: SSHProxyCommand? = nil
    /// The request for the jump host's `direct-tcpip` channel that `sock`'s peer is relayed to,
    /// if the endpoint has a `ProxyJump`.
    var tunnel: SSHRequest? = nil
    let counters: UnsafeMutablePointer<mpf_io_counters>

    /// Requests being worked on, in arrival order (including those waiting for the opening slot).
    var ops: [SSHWorkerOp] = []
    /// The one op whose channel (or SFTP subsystem) is being opened: libssh2 keeps a single
    /// channel-open state per session.
    var opening: SSHWorkerOp? = nil
    /// The op whose last call returned EAGAIN with a packet half sent: the next libssh2 call on
    /// this session must be that same call, so only this op is driven until it completes.
    var sendOwner: SSHWorkerOp? = nil

    var lastInboundCount: UInt64 = 0
    var lastInboundAt = ContinuousClock.now
    var lastKeepaliveAt = ContinuousClock.now

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
}

// MARK: thread confinement

extension SSHConnectionWorker {
    /// Traps in debug builds unless called on the I/O thread that runs `run()`; the worker and
    /// its ops are confined to it (see `SSHConnection.assertOnIOThread`).
    @inline(__always)
    func assertOnIOThread(_ function: StaticString = #function) {
        handle.assertOnIOThread(function)
    }
}

// MARK: lifecycle

extension SSHConnectionWorker {
    /// ssh_config's `ConnectTimeout` for this host, else the pool's.
    var connectTimeout: Duration { endpoint.connectTimeout ?? config.connectTimeout }
    /// ssh_config's `ServerAliveInterval` and `ServerAliveCountMax` for this host, else the pool's.
    var keepaliveInterval: Duration { endpoint.keepaliveInterval ?? config.keepaliveInterval }
    var keepaliveMaxMissed: Int { endpoint.keepaliveMaxMissed ?? config.keepaliveMaxMissed }

    /// The I/O thread's body (`SSHConnection.start`): every other function of the worker, and
    /// every op's, runs on this thread (`assertOnIOThread`).
    func run() {
        handle.recordIOThread()
        SSHLibrary.ensureInitialized()
        defer { handle.markTerminated() }
        let facts: SSHSessionFacts
        do throws(SSHError) {
            facts = try establish()
        } catch {
            let leftovers = handle.closeInbox()
            teardown(graceful: false)
            delegate.connectionFailed(handle, error: routed(error), unstarted: leftovers)
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
        assertOnIOThread()
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
}
