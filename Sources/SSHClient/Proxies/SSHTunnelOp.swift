import CLibSSH2
import FleetCore
import Foundation

/// ProxyJump's relay on the jump host's connection: opens a `direct-tcpip` channel to the inner
/// session's host and copies bytes both ways between it and `SSHTunnelEnd`, non-blocking, on the
/// jump host's I/O thread. The request is resolved when the channel opens (or cannot); the op
/// lives on, holding one of the connection's channels, until either side closes.
final class SSHTunnelOp: SSHWorkerOp {
    enum State { case queued, opening, relay, closing, freeing, done }
    enum Step: Int {
        case write = 0
        case eof, read
    }
    enum StepResult { case idle, progress, blocked, closed }

    private var state = State.queued
    private var channel: OpaquePointer? = nil
    private let host: String
    private let port: Int
    private let end: SSHTunnelEnd
    /// Read from `end`, not yet written to the channel (`pendingOut`): a write that returned
    /// EAGAIN is repeated with the same bytes.
    private let outbound = UnsafeMutableRawBufferPointer.allocate(byteCount: 32 << 10, alignment: 16)
    private var pendingOut = (start: 0, end: 0)
    /// Read from the channel, not yet written to `end` (`pendingIn`).
    private let inbound = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
    private var pendingIn = (start: 0, end: 0)
    private var resume = Step.write
    /// The inner session closed its side (or it failed): nothing more to send.
    private var localEOF = false
    private var eofSent = false
    /// `end` cannot take more bytes now: poll it for POLLOUT.
    private var localFull = false
    private var buffersReleased = false

    override init(request: SSHRequest) {
        guard case .tunnel(let host, let port, let end) = request.work else {
            preconditionFailure("SSHTunnelOp runs tunnel requests only")
        }
        self.host = host
        self.port = port
        self.end = end
        super.init(request: request)
    }

    deinit { releaseLocalResources() }

    override func releaseLocalResources() {
        // Only a tunnel that opened ends its stream here: one that never started may be handed to
        // another connection to the jump host.
        if started { shutdown(end.fd, Int32(SHUT_RDWR)) }
        if !buffersReleased {
            outbound.deallocate()
            inbound.deallocate()
            buffersReleased = true
        }
    }

    override var waitingToOpen: Bool { state == .queued && !finished }
    override func beginOpening() { state = .opening }

    override var inputFD: Int32? {
        state == .relay && !localEOF && pendingOut.start == pendingOut.end ? end.fd : nil
    }

    override var outputFD: Int32? { state == .relay && localFull ? end.fd : nil }

    override func abandon(with error: SSHError, worker: SSHConnectionWorker) {
        super.abandon(with: error, worker: worker)
        if state == .queued {
            state = .done
            finished = true
        }
    }

    override func step(session: OpaquePointer, worker w: SSHConnectionWorker) throws(SSHSessionFailure)
        -> Bool
    {
        switch state {
        case .queued, .done:
            return false
        case .opening:
            let opened = libssh2_channel_direct_tcpip_ex(session, host, Int32(port), "127.0.0.1", 22)
            switch try w.resultOfHandle(opened, for: self) {
            case .again:
                return false
            case .channelError(let code):
                w.opening = nil
                let target = HostAddress.display(host: host, port: port)
                request.complete(
                    .failure(
                        SSHError(
                            kind: .unreachable, host: target,
                            message:
                                "jump host \(w.hostPort) could not open a channel to \(target): \(w.lastError(code))"
                        )))
                markResolved()
                state = .done
                finished = true
                return true
            case .ok:
                channel = opened
                w.opening = nil
                started = true
                request.complete(.success(.done))
                state = abandoned ? .closing : .relay
                return true
            }
        case .relay:
            return try relay(w)
        case .closing:
            guard let channel else {
                state = .done
                return finish()
            }
            shutdown(end.fd, Int32(SHUT_RDWR))
            guard try settled(libssh2_channel_close(channel), worker: w) else { return false }
            state = .freeing
            return true
        case .freeing:
            guard try freeChannel(&channel, worker: w) else { return false }
            state = .done
            return true
        }
    }

    /// Moves what it can both ways. After a libssh2 call that returned EAGAIN with a packet half
    /// sent (`sendOwner`), that same step is the next one taken.
    private func relay(_ w: SSHConnectionWorker) throws(SSHSessionFailure) -> Bool {
        w.assertOnIOThread()
        guard let channel else { return false }
        var progress = false
        let first = w.sendOwner === self ? resume.rawValue : 0
        for raw in first...Step.read.rawValue {
            let step = Step(rawValue: raw)!
            let result =
                switch step {
                case .write: try stepWrite(channel, w)
                case .eof: try stepEOF(channel, w)
                case .read: try stepRead(channel, w)
                }
            switch result {
            case .idle: break
            case .progress: progress = true
            case .blocked:
                resume = step
                return progress
            case .closed:
                state = .closing
                return true
            }
        }
        let drained = pendingIn.start == pendingIn.end
        if (drained && libssh2_channel_eof(channel) == 1) || (localEOF && eofSent) || abandoned {
            state = .closing
            return true
        }
        return progress
    }

    /// Inner session → channel.
    private func stepWrite(_ channel: OpaquePointer, _ w: SSHConnectionWorker) throws(SSHSessionFailure)
        -> StepResult
    {
        var progress = false
        while true {
            if pendingOut.start == pendingOut.end {
                guard !localEOF else { return progress ? .progress : .idle }
                let n = read(end.fd, outbound.baseAddress, outbound.count)
                if n > 0 {
                    pendingOut = (0, n)
                } else {
                    if n == 0 || (errno != EAGAIN && errno != EINTR) { localEOF = true }
                    return progress ? .progress : .idle
                }
            }
            let base = outbound.baseAddress!.assumingMemoryBound(to: CChar.self) + pendingOut.start
            switch try w.result(
                mpf_channel_write(channel, base, pendingOut.end - pendingOut.start), for: self)
            {
            case .again:
                return w.sendOwner === self ? .blocked : (progress ? .progress : .idle)
            case .ok(let written):
                pendingOut.start += written
                progress = true
            case .channelError:
                // The far side closed: the inner session sees the end of its stream.
                return .closed
            }
        }
    }

    private func stepEOF(_ channel: OpaquePointer, _ w: SSHConnectionWorker) throws(SSHSessionFailure)
        -> StepResult
    {
        guard localEOF, pendingOut.start == pendingOut.end, !eofSent else { return .idle }
        switch try w.result(Int(mpf_channel_send_eof(channel)), for: self) {
        case .again: return w.sendOwner === self ? .blocked : .idle
        case .ok, .channelError:
            eofSent = true
            return .progress
        }
    }

    /// Channel → inner session.
    private func stepRead(_ channel: OpaquePointer, _ w: SSHConnectionWorker) throws(SSHSessionFailure)
        -> StepResult
    {
        var progress = false
        localFull = false
        while true {
            if pendingIn.start < pendingIn.end {
                // MSG_NOSIGNAL: an inner session that closed its end is an error here, not SIGPIPE.
                let n = send(
                    end.fd, inbound.baseAddress! + pendingIn.start, pendingIn.end - pendingIn.start,
                    Int32(MSG_NOSIGNAL))
                if n > 0 {
                    pendingIn.start += n
                    progress = true
                    continue
                }
                if n < 0 && (errno == EAGAIN || errno == EINTR) {
                    localFull = true
                    return progress ? .progress : .idle
                }
                return .closed  // the inner session is gone
            }
            let base = inbound.baseAddress!.assumingMemoryBound(to: CChar.self)
            switch try w.result(mpf_channel_read(channel, base, inbound.count), for: self) {
            case .again: return w.sendOwner === self ? .blocked : (progress ? .progress : .idle)
            case .channelError: return progress ? .progress : .idle
            case .ok(let count):
                if count == 0 { return progress ? .progress : .idle }
                pendingIn = (0, count)
                progress = true
            }
        }
    }
}
