import CLibSSH2
import FleetCore
import Foundation

// MARK: name lookup, TCP connect, and waiting on a descriptor while connecting

extension SSHConnectionWorker {
    /// The endpoint's addresses, looked up off this thread (`SSHNameLookup`): waiting stops at
    /// the deadline or on shutdown, whatever the resolver does.
    private func resolve(deadline: ContinuousClock.Instant) throws(SSHError) -> [SSHResolvedAddress] {
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

    func connectSocket(deadline: ContinuousClock.Instant) throws(SSHError) -> Int32 {
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
            do throws(SSHError) {
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
    func waitFD(
        _ fd: Int32, events: Int16, deadline: ContinuousClock.Instant, phase: String,
        timeoutKind: SSHError.Kind, returnOnWake: Bool = false
    ) throws(SSHError) {
        assertOnIOThread()
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

    func waitSocket(deadline: ContinuousClock.Instant, phase: String) throws(SSHError) {
        guard let session else { return }
        let directions = libssh2_session_block_directions(session)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        try waitFD(sock, events: events, deadline: deadline, phase: phase, timeoutKind: .timedOut)
    }
}
