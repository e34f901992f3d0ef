import CLibSSH2
import FleetCore
import Foundation

// MARK: libssh2 calls made for ops

extension SSHConnectionWorker {
    enum CallResult {
        case ok(Int)
        case again
        case channelError(Int32)
    }

    /// Classifies the return code of a libssh2 call made on behalf of `op` and maintains the
    /// "same call after EAGAIN with a half-sent packet" ownership.
    func result(_ rc: Int, for op: SSHWorkerOp) throws(SSHSessionFailure) -> CallResult {
        assertOnIOThread()
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
    func resultOfHandle(_ pointer: OpaquePointer?, for op: SSHWorkerOp) throws(SSHSessionFailure)
        -> CallResult
    {
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
