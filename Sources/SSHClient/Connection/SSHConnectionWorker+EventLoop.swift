import CLibSSH2
import FleetCore
import Foundation

// MARK: the main loop: take the inbox, drive the ops, check the peer, poll

extension SSHConnectionWorker {
    /// How one `driveAll` ended.
    enum DrivePace {
        /// No op could make more progress: poll until something happens.
        case settled
        /// Ops were still making progress when the round limit was reached: poll without waiting.
        case saturated
    }

    /// Returns nil after a shutdown request, or the failure that killed the session.
    func mainLoop() -> SSHSessionFailure? {
        assertOnIOThread()
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
            do throws(SSHSessionFailure) {
                let pace = try driveAll()
                try checkLiveness()
                try waitForEvents(pace: pace)
            } catch {
                return error
            }
        }
    }

    func cancelledError() -> SSHError {
        SSHError(kind: .cancelled, host: hostPort, message: "request to \(hostPort) was cancelled")
    }

    /// Drives every op until none makes progress (reading one channel can pull another channel's
    /// packets off the socket, so after any progress all of them are retried before polling).
    private func driveAll() throws(SSHSessionFailure) -> DrivePace {
        assertOnIOThread()
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
                        if let result = op.takeDeferredResult() { op.request.complete(result) }
                    } else {
                        kept.append(op)
                    }
                }
                ops = kept
                progress = true
            }
            if !progress { return .settled }
            rounds += 1
            if rounds >= 256 { return .saturated }
        }
    }

    private func checkLiveness() throws(SSHSessionFailure) {
        assertOnIOThread()
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

    private func waitForEvents(pace: DrivePace) throws(SSHSessionFailure) {
        assertOnIOThread()
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
        if pace == .saturated { timeout = .zero }
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
}
