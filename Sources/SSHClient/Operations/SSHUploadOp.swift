import CLibSSH2
import FleetCore
import Foundation

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

    override func step(session: OpaquePointer, worker w: SSHConnectionWorker) throws(SSHSessionFailure)
        -> Bool
    {
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
                markResolved()
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
            guard try settled(mpf_sftp_mkdir(sftp, path, 0o755), worker: w) else { return false }
            // An existing directory is fine; a real problem surfaces when a file is created in it.
            directoryIndex += 1
            if directoryIndex >= plan.directories.count { nextFile() }
            return true
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
            guard try settled(mpf_sftp_fsetstat(handle, &attributes), worker: w) else { return false }
            state = .closeHandle
            return true
        case .closeHandle:
            guard let handle else {
                nextFile()
                return true
            }
            guard try settled(libssh2_sftp_close_handle(handle), worker: w) else { return false }
            self.handle = nil
            if failure == nil { fileIndex += 1 }
            nextFile()
            return true
        case .shutdown:
            guard let sftp else {
                state = .done
                return finish()
            }
            guard try settled(libssh2_sftp_shutdown(sftp), worker: w) else { return false }
            self.sftp = nil
            if let failure {
                request.complete(.failure(failure))
                markResolved()
            } else if !request.isCompleted {
                succeed(deferring: .success(.done))
            } else {
                markResolved()
            }
            state = .done
            finished = true
            return true
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
