import CLibSSH2
import FleetCore
import Foundation

// MARK: authentication through ssh-agent

extension SSHConnectionWorker {
    /// The agent's socket: ssh_config's `IdentityAgent`, else `$SSH_AUTH_SOCK`; nil for none.
    var agentSocket: String? {
        switch endpoint.agent {
        case .none: return nil
        case .socket(let path): return path
        case .environment:
            let socket = ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"] ?? ""
            return socket.isEmpty ? nil : socket
        }
    }

    /// Offers the agent's keys; with `only`, just those whose public key blob is in it (the
    /// identity files' keys under `IdentitiesOnly`, as ssh uses an agent for a configured key).
    func tryAgent(
        socket: String, user: String, deadline: ContinuousClock.Instant, only: Set<[UInt8]>? = nil,
        notes: inout [String]
    )
        throws(SSHError) -> String?
    {
        guard let session, let agent = libssh2_agent_init(session) else { return nil }
        defer { libssh2_agent_free(agent) }
        libssh2_agent_set_identity_path(agent, socket)
        guard libssh2_agent_connect(agent) == 0 else {
            notes.append("ssh-agent at \(socket) is not reachable")
            return nil
        }
        defer { libssh2_agent_disconnect(agent) }
        guard libssh2_agent_list_identities(agent) == 0 else {
            notes.append("ssh-agent did not list identities")
            return nil
        }
        var previous: UnsafeMutablePointer<libssh2_agent_publickey>? = nil
        var identity: UnsafeMutablePointer<libssh2_agent_publickey>? = nil
        var offered = 0
        while libssh2_agent_get_identity(agent, &identity, previous) == 0, let current = identity {
            previous = current
            let blob = Array(
                UnsafeBufferPointer(start: current.pointee.blob, count: current.pointee.blob_len))
            if let only, !only.contains(blob) { continue }
            offered += 1
            let isRSA = Self.blobType(current.pointee.blob, current.pointee.blob_len) == "ssh-rsa"
            let certificate = SSHCertificate(blob: blob)
            while true {
                let rc = libssh2_agent_userauth(agent, user, current)
                if rc == 0 {
                    let kind = certificate.map { "certificate (key id \"\($0.keyID)\")" } ?? "key"
                    let comment = current.pointee.comment.map { String(cString: $0) } ?? ""
                    return
                        "ssh-agent \(kind) \(KnownHosts.fingerprint(blob))\(comment.isEmpty ? "" : " (\(comment))")"
                }
                if rc == LIBSSH2_ERROR_EAGAIN {
                    try waitSocket(deadline: deadline, phase: "authentication")
                    continue
                }
                if isRSA {
                    notes.append(
                        "agent key is RSA: RSA keys are not supported by libssh2 1.10 (no rsa-sha2 signatures); use an ed25519 or ECDSA key"
                    )
                } else if let certificate,
                    let reason = certificate.unsupportedReason
                        ?? certificate.refusal(user: user, now: UInt64(max(0, Timestamp.wallClock())))
                {
                    notes.append(
                        "agent certificate (key id \"\(certificate.keyID)\") cannot be used: \(reason)")
                }
                break
            }
        }
        notes.append(
            only == nil
                ? "ssh-agent offered \(offered) key(s), none accepted"
                : "ssh-agent held \(offered) of the identity files' keys (IdentitiesOnly), none accepted")
        return nil
    }

    /// The blobs an agent may hold for the identity files at `paths`: each `<path>.pub`, and its
    /// certificate (`<path>-cert.pub`, or ssh_config's `CertificateFile`).
    func agentBlobs(forIdentities paths: [String]) -> Set<[UInt8]> {
        let files =
            paths.flatMap { [$0 + ".pub", $0 + "-cert.pub"] }
            + [endpoint.certificateFile.map(SSHPaths.expandTilde)].compactMap { $0 }
        return Set(files.compactMap(Self.publicKeyBlob))
    }

    /// The key blob of a public key or certificate file (`type base64 [comment]`), when readable.
    private static func publicKeyBlob(file path: String) -> [UInt8]? {
        guard let text = FileSystem.readText(path, limit: 64 << 10) else { return nil }
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count >= 2 else { return nil }
        return Base64.decode(fields[1].utf8)
    }

    private static func blobType(_ blob: UnsafeMutablePointer<UInt8>?, _ length: Int) -> String {
        guard let blob, length >= 4 else { return "" }
        let n = Int(blob[0]) << 24 | Int(blob[1]) << 16 | Int(blob[2]) << 8 | Int(blob[3])
        guard n > 0, 4 + n <= length else { return "" }
        return String(decoding: UnsafeBufferPointer(start: blob + 4, count: n), as: UTF8.self)
    }
}
