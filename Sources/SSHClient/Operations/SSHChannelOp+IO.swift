import CLibSSH2
import FleetCore
import Foundation

// MARK: the command's input and output once it runs

extension SSHChannelOp {
    func driveIO(_ w: SSHConnectionWorker) throws(SSHSessionFailure) -> Bool {
        w.assertOnIOThread()
        guard let channel else { return false }
        var progress = false
        let first = w.sendOwner === self ? ioResume.rawValue : 0
        for raw in first...IOStep.readErr.rawValue {
            let step = IOStep(rawValue: raw)!
            let result: StepResult
            switch step {
            case .resize: result = try stepResize(channel, w)
            case .write: result = try stepWrite(channel, w)
            case .eof: result = try stepEOF(channel, w)
            case .readOut: result = try stepRead(channel, w, stderr: false)
            case .readErr: result = try stepRead(channel, w, stderr: true)
            }
            switch result {
            case .idle: break
            case .progress: progress = true
            case .blocked:
                ioResume = step
                return progress
            }
        }
        if abandoned && w.sendOwner !== self {
            state = .closing
            return true
        }
        if libssh2_channel_eof(channel) == 1 {
            state = .closing
            return true
        }
        return progress
    }

    private func classify(_ callResult: SSHConnectionWorker.CallResult, _ w: SSHConnectionWorker)
        -> StepResult
    {
        if case .again = callResult { return w.sendOwner === self ? .blocked : .idle }
        return .idle
    }

    private func stepResize(_ channel: OpaquePointer, _ w: SSHConnectionWorker) throws(SSHSessionFailure)
        -> StepResult
    {
        guard let size = pendingResize else { return .idle }
        let rc = mpf_channel_request_pty_size(channel, Int32(size.columns), Int32(size.rows))
        let r = try w.result(Int(rc), for: self)
        switch r {
        case .again: return classify(r, w)
        case .ok, .channelError:
            pendingResize = nil
            return .progress
        }
    }

    private func stepWrite(_ channel: OpaquePointer, _ w: SSHConnectionWorker) throws(SSHSessionFailure)
        -> StepResult
    {
        var progress = false
        if isInteractive, inputOffset >= inputLength, !localInputEOF, let input {
            var probe = pollfd(fd: localInputFD, events: Int16(POLLIN), revents: 0)
            if poll(&probe, 1, 0) == 1 {
                let n = read(localInputFD, input.baseAddress, input.count)
                if n > 0 {
                    inputOffset = 0
                    inputLength = n
                } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                    localInputEOF = true
                    wantEOF = true
                }
            }
        }
        var rounds = 0
        while inputOffset < inputLength, let input, rounds < 16 {
            rounds += 1
            let base = input.baseAddress!.assumingMemoryBound(to: CChar.self) + inputOffset
            let n = mpf_channel_write(channel, base, min(inputLength - inputOffset, 1 << 20))
            let r = try w.result(n, for: self)
            switch r {
            case .again: return progress ? .progress : classify(r, w)
            case .ok(let written):
                inputOffset += written
                progress = true
                if written == 0 { return .progress }
            case .channelError:
                // The remote side stopped reading (closed); drop the rest of stdin.
                inputOffset = inputLength
                eofSent = true
                return .progress
            }
        }
        return progress ? .progress : .idle
    }

    private func stepEOF(_ channel: OpaquePointer, _ w: SSHConnectionWorker) throws(SSHSessionFailure)
        -> StepResult
    {
        guard wantEOF, !eofSent, inputOffset >= inputLength else { return .idle }
        let rc = mpf_channel_send_eof(channel)
        let r = try w.result(Int(rc), for: self)
        switch r {
        case .again: return classify(r, w)
        case .ok, .channelError:
            eofSent = true
            return .progress
        }
    }

    private func stepRead(_ channel: OpaquePointer, _ w: SSHConnectionWorker, stderr isStderr: Bool)
        throws(SSHSessionFailure)
        -> StepResult
    {
        var progress = false
        let base = readBuffer.baseAddress!.assumingMemoryBound(to: CChar.self)
        for _ in 0..<32 {
            let n =
                isStderr
                ? mpf_channel_read_stderr(channel, base, readBuffer.count)
                : mpf_channel_read(channel, base, readBuffer.count)
            let r = try w.result(n, for: self)
            switch r {
            case .again: return progress ? .progress : classify(r, w)
            case .channelError: return progress ? .progress : .idle
            case .ok(let count):
                if count == 0 { return progress ? .progress : .idle }
                progress = true
                consume(UnsafeRawBufferPointer(start: readBuffer.baseAddress, count: count), stderr: isStderr)
            }
        }
        return .progress
    }

    private func consume(_ bytes: UnsafeRawBufferPointer, stderr isStderr: Bool) {
        if abandoned { return }
        if isInteractive {
            var offset = 0
            while offset < bytes.count {
                let n = write(localOutputFD, bytes.baseAddress! + offset, bytes.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
                    var probe = pollfd(fd: localOutputFD, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&probe, 1, 100)
                } else {
                    return
                }
            }
            return
        }
        if isStream {
            request.emit([UInt8](bytes))
            return
        }
        guard (isStderr ? stderr.count : stdout.count) + bytes.count <= outputLimit else {
            // Past the cap the command is ended (the channel closes) rather than drained, so the
            // cost of a flood is the cap whatever its size and however slow this machine is.
            let host = request.endpoint.hostPort
            request.complete(
                .failure(
                    SSHError(
                        kind: .commandFailed, host: host,
                        message:
                            "\(host) sent more than \(OutputLimits.describe(outputLimit)) on \(isStderr ? "stderr" : "stdout"), the cap for this command; the command was stopped there"
                    )))
            markResolved()
            stdout = []
            stderr = []
            return
        }
        if isStderr {
            stderr.append(contentsOf: bytes)
        } else {
            stdout.append(contentsOf: bytes)
        }
    }
}
