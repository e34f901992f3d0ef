import CLibSSH2
import FleetCore
import Foundation

// MARK: key exchange, host key, then authentication

extension SSHConnectionWorker {
    func establish() throws(SSHError) -> SSHSessionFacts {
        assertOnIOThread()
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
    func peerClosed() -> Bool {
        guard sock >= 0 else { return true }
        var byte: UInt8 = 0
        let n = recv(sock, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN))
    }
}
