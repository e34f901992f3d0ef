import CLibSSH2
import FleetCore
import Foundation

/// One request being executed by a connection worker. Confined to that worker's I/O thread.
class SSHWorkerOp {
    let request: SSHRequest
    /// The remote side may have run something: never resubmit.
    var started = false
    /// All libssh2 resources released; the worker removes it.
    var finished = false
    /// The request was resolved with a result (not an error).
    var succeeded = false
    /// The request was already resolved (timeout, cancel, error): only clean up.
    var abandoned = false
    /// A result to deliver once the op is finished and its slot released.
    var deferredResult: Result<SSHRequest.Outcome, SSHError>? = nil

    init(request: SSHRequest) { self.request = request }

    var waitingToOpen: Bool { false }
    var hardDeadline: ContinuousClock.Instant? { nil }
    var inputFD: Int32? { nil }
    /// A local descriptor the op waits to write to (polled for POLLOUT).
    var outputFD: Int32? { nil }
    func beginOpening() {}
    func drive(_ worker: SSHConnectionWorker) throws -> Bool { false }
    func resize(columns: Int, rows: Int) {}
    func releaseLocalResources() {}

    func timeoutError() -> SSHError {
        let limit = request.deadline.map { SSHConnectionWorker.format($0) } ?? "?"
        return SSHError(
            kind: .timedOut, host: request.endpoint.hostPort,
            message: "timed out after \(limit) \(request.describeWork) on \(request.endpoint.hostPort)")
    }

    /// One step of freeing `channel`, the last state of every op that opens one: false while
    /// libssh2 would block; true once it is freed (or there was none), the op then finished.
    func freeChannel(_ channel: inout OpaquePointer?, worker w: SSHConnectionWorker) throws -> Bool {
        if let open = channel {
            switch try w.result(Int(libssh2_channel_free(open)), for: self) {
            case .again: return false
            case .ok, .channelError: channel = nil
            }
        }
        finished = true
        return true
    }

    func abandon(with error: SSHError, worker: SSHConnectionWorker) {
        request.complete(.failure(error))
        abandoned = true
    }

    /// The session died or is shutting down; libssh2 resources go with the session.
    func fail(_ error: SSHError, worker: SSHConnectionWorker) {
        if let result = deferredResult {
            // The command had already finished; only releasing its channel was left.
            deferredResult = nil
            request.complete(result)
            return
        }
        var error = error
        if error.kind == .connectionLost, !error.message.contains(" while ") {
            error.message =
                "connection lost to \(request.endpoint.hostPort) while \(request.describeWork)"
                + (error.message.isEmpty ? "" : " (\(error.message))")
        }
        request.complete(.failure(error))
        abandoned = true
    }

    static func make(for request: SSHRequest) -> SSHWorkerOp {
        switch request.work {
        case .upload(let plan): return SSHUploadOp(request: request, plan: plan)
        case .tunnel: return SSHTunnelOp(request: request)
        default: return SSHChannelOp(request: request)
        }
    }
}

/// exec / stream / interactive over one session channel.
final class SSHChannelOp: SSHWorkerOp {
    enum State { case queued, opening, pty, exec, io, closing, waitClosed, freeing, done }
    enum IOStep: Int {
        case resize = 0
        case write, eof, readOut, readErr
    }
    enum StepResult { case idle, progress, blocked }

    private var state = State.queued
    private var channel: OpaquePointer? = nil
    private var ioResume = IOStep.resize

    private let command: String?
    private let isStream: Bool
    private let isInteractive: Bool
    private let outputLimit: Int
    // stdin (exec) or keyboard input (interactive): stable buffer so an EAGAIN'd write can be repeated verbatim.
    private var input: UnsafeMutableRawBufferPointer? = nil
    private var inputLength = 0
    private var inputOffset = 0
    private var wantEOF = true
    private var eofSent = false
    private var localInputEOF = false
    private var localInputFD: Int32 = -1
    private var localOutputFD: Int32 = -1
    private var term = "xterm"
    private var size = (columns: 80, rows: 24)
    private var pendingResize: (columns: Int, rows: Int)? = nil

    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
    /// Captured output (exec), each at most `outputLimit` bytes.
    private var stdout: [UInt8] = []
    private var stderr: [UInt8] = []
    /// Remote `timeout` wrapping applied at exec time.
    private var remoteTimeoutApplied = false
    private var execAt: ContinuousClock.Instant? = nil

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
    private var readBufferReleased = false

    override var waitingToOpen: Bool { state == .queued && !finished }
    override func beginOpening() { state = .opening }

    /// 8 MiB (fast bulk transfers), but for a capture no more than its cap and a packet: past
    /// the cap the channel is dropped, and what the server had already sent is all libssh2
    /// holds, so a flood costs about twice the cap.
    private var receiveWindow: UInt32 {
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

    override func drive(_ w: SSHConnectionWorker) throws -> Bool {
        guard let session = w.session else { return false }
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
                abandoned = true
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
                complete(
                    .failure(
                        SSHError(
                            kind: .commandFailed, host: w.hostPort,
                            message: "\(w.hostPort) refused a terminal: \(w.lastError(code))")))
                state = .closing
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
                complete(
                    .failure(
                        SSHError(
                            kind: .commandFailed, host: w.hostPort,
                            message: "\(w.hostPort) refused to start the command: \(w.lastError(code))")))
                state = .closing
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
                finished = true
                return true
            }
            let rc = libssh2_channel_close(channel)
            switch try w.result(Int(rc), for: self) {
            case .again: return false
            case .ok, .channelError:
                // libssh2 1.10's close returns after reading any one packet, possibly before the
                // server's exit-status and CLOSE: wait for them unless the result is not wanted.
                state = abandoned ? .freeing : .waitClosed
                return true
            }
        case .waitClosed:
            guard let channel else {
                state = .done
                finished = true
                return true
            }
            let rc = libssh2_channel_wait_closed(channel)
            switch try w.result(Int(rc), for: self) {
            case .again: return false
            case .ok, .channelError:
                if !abandoned { deliver(exitStatus: libssh2_channel_get_exit_status(channel)) }
                state = .freeing
                return true
            }
        case .freeing:
            guard try freeChannel(&channel, worker: w) else { return false }
            state = .done
            return true
        }
    }

    private func complete(_ result: Result<SSHRequest.Outcome, SSHError>) {
        if case .success = result, !request.isCompleted {
            // Delivered by the worker after the channel is freed and the pool slot released, so a
            // caller that submits its next request at once finds the slot free.
            deferredResult = result
            succeeded = true
        } else {
            request.complete(result)
        }
        abandoned = true
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

    private func driveIO(_ w: SSHConnectionWorker) throws -> Bool {
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

    private func stepResize(_ channel: OpaquePointer, _ w: SSHConnectionWorker) throws -> StepResult {
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

    private func stepWrite(_ channel: OpaquePointer, _ w: SSHConnectionWorker) throws -> StepResult {
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

    private func stepEOF(_ channel: OpaquePointer, _ w: SSHConnectionWorker) throws -> StepResult {
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

    private func stepRead(_ channel: OpaquePointer, _ w: SSHConnectionWorker, stderr isStderr: Bool) throws
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
            abandoned = true
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

/// Upload of files (and creation of directories) through one SFTP subsystem channel.
final class SSHUploadOp: SSHWorkerOp {
    enum State { case queued, initSFTP, mkdir, open, write, setstat, closeHandle, shutdown, done }

    private let plan: SSHUploadPlan
    private var state = State.queued
    private var sftp: OpaquePointer? = nil
    private var handle: OpaquePointer? = nil
    private var directoryIndex = 0
    private var fileIndex = 0
    private var failure: SSHError? = nil
    private let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    private var chunkReleased = false
    private var chunkLength = 0
    private var chunkOffset = 0
    private var sourceOffset = 0
    private var sourceFD: Int32 = -1
    private var sourceDone = false
    private var attributes = LIBSSH2_SFTP_ATTRIBUTES()

    init(request: SSHRequest, plan: SSHUploadPlan) {
        self.plan = plan
        super.init(request: request)
    }

    deinit { releaseLocalResources() }

    override func releaseLocalResources() {
        if !chunkReleased {
            chunk.deallocate()
            chunkReleased = true
        }
        if sourceFD >= 0 {
            close(sourceFD)
            sourceFD = -1
        }
    }

    override var waitingToOpen: Bool { state == .queued && !finished }
    override func beginOpening() { state = .initSFTP }

    override func abandon(with error: SSHError, worker: SSHConnectionWorker) {
        super.abandon(with: error, worker: worker)
        if state == .queued { finished = true }
        // Otherwise the upload runs to its end (its result is dropped): SFTP state cannot be cut short safely.
    }

    private var hostPort: String { request.endpoint.hostPort }

    private func sftpFailure(_ what: String, _ path: String) -> SSHError {
        let status = sftp.map { libssh2_sftp_last_error($0) } ?? 0
        return SSHError(
            kind: .commandFailed, host: hostPort,
            message: "cannot \(what) \(path) on \(hostPort): SFTP status \(status)\(Self.statusName(status))")
    }

    static func statusName(_ status: UInt) -> String {
        switch status {
        case 2: return " (no such file or directory)"
        case 3: return " (permission denied)"
        case 4: return " (failure)"
        case 14: return " (no space on filesystem)"
        default: return ""
        }
    }

    private func nextFile() {
        if failure == nil, fileIndex < plan.files.count {
            state = .open
        } else {
            state = .shutdown
        }
    }

    override func drive(_ w: SSHConnectionWorker) throws -> Bool {
        guard let session = w.session else { return false }
        switch state {
        case .queued, .done:
            return false
        case .initSFTP:
            started = true
            let opened = libssh2_sftp_init(session)
            switch try w.resultOfHandle(opened, for: self) {
            case .again: return false
            case .channelError(let code):
                w.opening = nil
                request.complete(
                    .failure(
                        SSHError(
                            kind: .protocolError, host: hostPort,
                            message: "\(hostPort) refused the SFTP subsystem: \(w.lastError(code))")))
                abandoned = true
                state = .done
                finished = true
                return true
            case .ok:
                w.opening = nil
                sftp = opened
                if plan.directories.isEmpty { nextFile() } else { state = .mkdir }
                return true
            }
        case .mkdir:
            guard let sftp else { return false }
            let path = plan.directories[directoryIndex]
            let rc = mpf_sftp_mkdir(sftp, path, 0o755)
            switch try w.result(Int(rc), for: self) {
            case .again: return false
            case .ok, .channelError:
                // An existing directory is fine; a real problem surfaces when a file is created in it.
                directoryIndex += 1
                if directoryIndex >= plan.directories.count { nextFile() }
                return true
            }
        case .open:
            guard let sftp else { return false }
            let file = plan.files[fileIndex]
            let flags = UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC)
            let opened = mpf_sftp_open(sftp, file.remotePath, flags, Int(file.mode))
            switch try w.resultOfHandle(opened, for: self) {
            case .again: return false
            case .channelError:
                failure = sftpFailure("create", file.remotePath)
                state = .shutdown
                return true
            case .ok:
                handle = opened
                chunkLength = 0
                chunkOffset = 0
                sourceOffset = 0
                sourceDone = false
                if case .localFile(let path) = file.source {
                    sourceFD = open(path, O_RDONLY | O_CLOEXEC)
                    if sourceFD < 0 {
                        failure = SSHError(
                            kind: .commandFailed, host: hostPort,
                            message:
                                "cannot read local file \(path) for upload to \(hostPort): \(String(cString: strerror(errno)))"
                        )
                        state = .closeHandle
                        return true
                    }
                }
                state = .write
                return true
            }
        case .write:
            guard let handle else { return false }
            var progress = false
            for _ in 0..<64 {
                if chunkOffset >= chunkLength {
                    if !refill() {
                        if sourceFD >= 0 {
                            close(sourceFD)
                            sourceFD = -1
                        }
                        if failure != nil {
                            state = .closeHandle
                        } else {
                            attributes = LIBSSH2_SFTP_ATTRIBUTES()
                            attributes.flags = UInt(LIBSSH2_SFTP_ATTR_PERMISSIONS)
                            attributes.permissions =
                                UInt(plan.files[fileIndex].mode) | UInt(LIBSSH2_SFTP_S_IFREG)
                            state = .setstat
                        }
                        return true
                    }
                }
                let base = chunk.baseAddress!.assumingMemoryBound(to: CChar.self) + chunkOffset
                let n = libssh2_sftp_write(handle, base, chunkLength - chunkOffset)
                switch try w.result(n, for: self) {
                case .again: return progress
                case .channelError:
                    failure = sftpFailure("write", plan.files[fileIndex].remotePath)
                    state = .closeHandle
                    return true
                case .ok(let written):
                    chunkOffset += written
                    progress = true
                }
            }
            return progress
        case .setstat:
            guard let handle else { return false }
            let rc = mpf_sftp_fsetstat(handle, &attributes)
            switch try w.result(Int(rc), for: self) {
            case .again: return false
            case .ok, .channelError:
                state = .closeHandle
                return true
            }
        case .closeHandle:
            guard let handle else {
                nextFile()
                return true
            }
            let rc = libssh2_sftp_close_handle(handle)
            switch try w.result(Int(rc), for: self) {
            case .again: return false
            case .ok, .channelError:
                self.handle = nil
                if failure == nil { fileIndex += 1 }
                nextFile()
                return true
            }
        case .shutdown:
            guard let sftp else {
                state = .done
                finished = true
                return true
            }
            let rc = libssh2_sftp_shutdown(sftp)
            switch try w.result(Int(rc), for: self) {
            case .again: return false
            case .ok, .channelError:
                self.sftp = nil
                if let failure {
                    request.complete(.failure(failure))
                } else if !request.isCompleted {
                    deferredResult = .success(.done)
                    succeeded = true
                }
                abandoned = true
                state = .done
                finished = true
                return true
            }
        }
    }

    /// Fills the chunk buffer from the current file's source. False at end of file (or on a read error).
    private func refill() -> Bool {
        guard !sourceDone else { return false }
        let file = plan.files[fileIndex]
        var count = 0
        switch file.source {
        case .bytes(let bytes):
            count = min(chunk.count, bytes.count - sourceOffset)
            if count > 0 {
                bytes.withUnsafeBytes { all in
                    chunk.baseAddress!.copyMemory(from: all.baseAddress! + sourceOffset, byteCount: count)
                }
            }
        case .localFile(let path):
            while true {
                let n = read(sourceFD, chunk.baseAddress, chunk.count)
                if n < 0 && errno == EINTR { continue }
                if n < 0 {
                    failure = SSHError(
                        kind: .commandFailed, host: hostPort,
                        message:
                            "cannot read local file \(path) for upload to \(hostPort): \(String(cString: strerror(errno)))"
                    )
                    sourceDone = true
                    return false
                }
                count = n
                break
            }
        }
        if count <= 0 {
            sourceDone = true
            return false
        }
        sourceOffset += count
        chunkLength = count
        chunkOffset = 0
        return true
    }
}
