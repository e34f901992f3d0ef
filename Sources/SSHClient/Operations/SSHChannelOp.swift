import CLibSSH2
import FleetCore
import Foundation

/// exec / stream / interactive over one session channel.
final class SSHChannelOp: SSHWorkerOp {
    enum State { case queued, opening, pty, exec, io, closing, waitClosed, freeing, done }
    enum IOStep: Int {
        case resize = 0
        case write, eof, readOut, readErr
    }
    enum StepResult { case idle, progress, blocked }

    var state = State.queued
    var channel: OpaquePointer? = nil
    var ioResume = IOStep.resize

    let command: String?
    let isStream: Bool
    let isInteractive: Bool
    let outputLimit: Int
    // stdin (exec) or keyboard input (interactive): stable buffer so an EAGAIN'd write can be repeated verbatim.
    var input: UnsafeMutableRawBufferPointer? = nil
    var inputLength = 0
    var inputOffset = 0
    var wantEOF = true
    var eofSent = false
    var localInputEOF = false
    var localInputFD: Int32 = -1
    var localOutputFD: Int32 = -1
    var term = "xterm"
    var size = (columns: 80, rows: 24)
    var pendingResize: (columns: Int, rows: Int)? = nil

    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
    /// Captured output (exec), each at most `outputLimit` bytes.
    var stdout: [UInt8] = []
    var stderr: [UInt8] = []
    /// Remote `timeout` wrapping applied at exec time.
    var remoteTimeoutApplied = false
    var execAt: ContinuousClock.Instant? = nil

    override init(request: SSHRequest) {
        switch request.work {
        case .exec(let command, let stdin, let limit):
            self.command = command
            isStream = false
            isInteractive = false
            outputLimit = limit
            if let stdin, !stdin.isEmpty {
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: stdin.count, alignment: 16)
                buffer.copyBytes(from: stdin)
                input = buffer
                inputLength = stdin.count
            }
        case .stream(let command):
            self.command = command
            isStream = true
            isInteractive = false
            outputLimit = Int.max
        case .interactive(let command, let term, let columns, let rows, let inputFD, let outputFD):
            self.command = command
            isStream = false
            isInteractive = true
            outputLimit = Int.max
            self.term = term
            size = (columns, rows)
            localInputFD = inputFD
            localOutputFD = outputFD
            wantEOF = false
            input = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 10, alignment: 16)
        case .upload, .tunnel:
            preconditionFailure("uploads and tunnels have ops of their own")
        }
        super.init(request: request)
    }

    deinit { releaseLocalResources() }

    override func releaseLocalResources() {
        if let input {
            input.deallocate()
            self.input = nil
        }
        if !readBufferReleased {
            readBuffer.deallocate()
            readBufferReleased = true
        }
    }
    var readBufferReleased = false

    override var waitingToOpen: Bool { state == .queued && !finished }
    override func beginOpening() { state = .opening }

    /// 8 MiB (fast bulk transfers), but for a capture no more than its cap and a packet: past
    /// the cap the channel is dropped, and what the server had already sent is all libssh2
    /// holds, so a flood costs about twice the cap.
    var receiveWindow: UInt32 {
        let bulk = Int(mpf_channel_window_bulk())
        let packet = Int(LIBSSH2_CHANNEL_PACKET_DEFAULT)
        return UInt32(outputLimit >= bulk ? bulk : max(outputLimit, packet) + packet)
    }

    override var hardDeadline: ContinuousClock.Instant? {
        guard let deadline = request.deadlineInstant, !isInteractive else { return nil }
        // After exec the remote `timeout` stops the process at the deadline and reports 124; the
        // client-side limit (2 s later) only catches a remote side that could not do so.
        return remoteTimeoutApplied ? deadline + .seconds(2) : deadline
    }

    override var inputFD: Int32? {
        guard isInteractive, state == .io, !localInputEOF, inputOffset >= inputLength else { return nil }
        return localInputFD
    }

    override func resize(columns: Int, rows: Int) {
        guard isInteractive else { return }
        pendingResize = (columns, rows)
    }

    override func abandon(with error: SSHError, worker: SSHConnectionWorker) {
        super.abandon(with: error, worker: worker)
        if state == .queued { finished = true }
    }

    override func step(session: OpaquePointer, worker w: SSHConnectionWorker) throws(SSHSessionFailure)
        -> Bool
    {
        switch state {
        case .queued, .done:
            return false
        case .opening:
            let opened = mpf_channel_open_session_ex(session, receiveWindow)
            switch try w.resultOfHandle(opened, for: self) {
            case .again:
                return false
            case .channelError:
                w.opening = nil
                let error = SSHError(
                    kind: .protocolError, host: w.hostPort,
                    message:
                        "\(w.hostPort) refused to open a channel (\(w.lastError(libssh2_session_last_errno(session)))); is sshd MaxSessions below channelsPerConnection?"
                )
                request.complete(.failure(error))
                markResolved()
                state = .done
                finished = true
                return true
            case .ok:
                channel = opened
                w.opening = nil
                if abandoned {
                    state = .closing
                } else {
                    if isStream {
                        libssh2_channel_handle_extended_data2(opened, LIBSSH2_CHANNEL_EXTENDED_DATA_MERGE)
                    }
                    state = isInteractive ? .pty : .exec
                }
                return true
            }
        case .pty:
            guard let channel else { return false }
            let rc = mpf_channel_request_pty_term(channel, term, Int32(size.columns), Int32(size.rows))
            switch try w.result(Int(rc), for: self) {
            case .again: return false
            case .channelError(let code):
                refused("a terminal", code: code, w)
            case .ok:
                state = .exec
            }
            return true
        case .exec:
            guard let channel else { return false }
            if abandoned && w.sendOwner !== self {
                state = .closing
                return true
            }
            let line: String?
            if let command {
                if let deadline = request.deadlineInstant, !isInteractive {
                    let remaining = deadline - .now
                    if remaining <= .milliseconds(10) {
                        abandon(with: timeoutError(), worker: w)
                        state = .closing
                        return true
                    }
                    remoteTimeoutApplied = true
                    let seconds = String(format: "%.3f", remaining.secondsDouble)
                    line = "timeout -k 1 \(seconds) sh -c \(ShellQuote.quote(command))"
                } else {
                    line = command
                }
            } else {
                line = nil
            }
            started = true
            if execAt == nil { execAt = .now }
            let rc = line.map { mpf_channel_exec(channel, $0) } ?? mpf_channel_shell(channel)
            switch try w.result(Int(rc), for: self) {
            case .again:
                return false
            case .channelError(let code):
                refused("to start the command", code: code, w)
            case .ok:
                state = .io
                ioResume = .resize
            }
            return true
        case .io:
            return try driveIO(w)
        case .closing:
            guard let channel else {
                state = .done
                return finish()
            }
            guard try settled(libssh2_channel_close(channel), worker: w) else { return false }
            // libssh2 1.10's close returns after reading any one packet, possibly before the
            // server's exit-status and CLOSE: wait for them unless the result is not wanted.
            state = abandoned ? .freeing : .waitClosed
            return true
        case .waitClosed:
            guard let channel else {
                state = .done
                return finish()
            }
            guard try settled(libssh2_channel_wait_closed(channel), worker: w) else { return false }
            if !abandoned { deliver(exitStatus: libssh2_channel_get_exit_status(channel)) }
            state = .freeing
            return true
        case .freeing:
            guard try freeChannel(&channel, worker: w) else { return false }
            state = .done
            return true
        }
    }

    /// The server refused `what` (libssh2's `code`): the request fails, the channel closes.
    private func refused(_ what: String, code: Int32, _ w: SSHConnectionWorker) {
        complete(
            .failure(
                SSHError(
                    kind: .commandFailed, host: w.hostPort,
                    message: "\(w.hostPort) refused \(what): \(w.lastError(code))")))
        state = .closing
    }

    private func complete(_ result: Result<SSHRequest.Outcome, SSHError>) {
        if case .success = result, !request.isCompleted {
            // Delivered by the worker after the channel is freed and the pool slot released, so a
            // caller that submits its next request at once finds the slot free.
            succeed(deferring: result)
        } else {
            request.complete(result)
            markResolved()
        }
    }

    private func deliver(exitStatus: Int32) {
        if remoteTimeoutApplied, exitStatus == 124 || exitStatus == 137,
            let deadline = request.deadlineInstant,
            ContinuousClock.now >= deadline - .milliseconds(100)
        {
            var error = timeoutError()
            error.message += " (remote process stopped)"
            complete(.failure(error))
            return
        }
        if isStream || isInteractive {
            complete(.success(.status(exitStatus)))
        } else {
            complete(
                .success(
                    .result(
                        SSHCommandResult(exitStatus: exitStatus, stdout: stdout, stderr: stderr))))
        }
    }

}
