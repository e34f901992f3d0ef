import CLibSSH2
import FleetCore
import Foundation

// MARK: authentication with identity files and certificates

extension SSHConnectionWorker {
    /// Returns how the session authenticated; throws `authFailed` naming every method tried and
    /// why each failed.
    func authenticate(deadline: ContinuousClock.Instant) throws(SSHError) -> String {
        assertOnIOThread()
        guard let session else { return "" }
        let user = endpoint.resolvedUser
        var notes: [String] = []

        func tryFile(_ path: String) throws(SSHError) -> String? {
            let info = SSHIdentityInfo(path: path)
            if !info.readable {
                notes.append("\(path) is not readable")
                return nil
            }
            if let problem = info.permissionProblem {
                notes.append(problem)
                return nil
            }
            if info.isEncrypted {
                notes.append(
                    "identity file \(path) is passphrase-protected; megaplan-fleet cannot prompt for passphrases: load it into ssh-agent (ssh-add) or use a key without a passphrase"
                )
                return nil
            }
            if let certificate = certificatePath(for: path),
                let used = try tryCertificate(certificate, key: path)
            {
                return used
            }
            guard let refused = try publicKeyAuth(publicKey: nil, privateKey: path) else {
                return "publickey \(path)"
            }
            notes.append(
                info.isRSA
                    ? "RSA keys are not supported by libssh2 1.10 (no rsa-sha2 signatures); use an ed25519 or ECDSA key (\(path) is RSA)"
                    : "key \(path) was refused (\(refused))")
            return nil
        }

        /// A user certificate for the key `path`: checked here first for what the server would
        /// refuse without saying why, then offered with the key.
        func tryCertificate(_ certificatePath: String, key path: String) throws(SSHError) -> String? {
            guard let certificate = SSHCertificate(path: certificatePath) else {
                notes.append("certificate \(certificatePath) is not an OpenSSH user certificate")
                return nil
            }
            let named = "certificate \(certificatePath) (key id \"\(certificate.keyID)\")"
            if let reason = certificate.unsupportedReason
                ?? certificate.refusal(user: user, now: UInt64(max(0, Timestamp.wallClock())))
            {
                notes.append("\(named) cannot be used: \(reason)")
                return nil
            }
            guard try publicKeyAuth(publicKey: certificatePath, privateKey: path) != nil else {
                return "\(named) with key \(path)"
            }
            notes.append(
                "\(named) was refused: \(hostPort) does not trust its CA for \(user) (TrustedUserCAKeys, AuthorizedPrincipalsFile)"
            )
            return nil
        }

        /// nil when the server accepted the key, else libssh2's reason.
        func publicKeyAuth(publicKey: String?, privateKey path: String) throws(SSHError) -> String? {
            while true {
                let rc = mpf_userauth_publickey_fromfile(session, user, publicKey, path, nil)
                if rc == 0 { return nil }
                if rc == LIBSSH2_ERROR_EAGAIN {
                    try waitSocket(deadline: deadline, phase: "authentication")
                    continue
                }
                // libssh2 reports a peer that hangs up while it waits for the answer as an
                // unverified key (-19): a closed connection is a lost one, not a refused key.
                if rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_RECV
                    || rc == LIBSSH2_ERROR_SOCKET_SEND || peerClosed()
                {
                    throw SSHError(
                        kind: .connectionLost, host: hostPort,
                        message: "connection lost to \(hostPort) during authentication: \(lastError(rc))")
                }
                return lastError(rc)
            }
        }

        // After the identity files, the agent: every key it holds, or under `IdentitiesOnly` only
        // the files' own keys (a passphrase-protected one loaded with ssh-add). ssh offers the
        // agent's keys first; here the files the configuration names come first, so a server's
        // `MaxAuthTries` is not spent on other keys before the one meant for it.
        if let identity = endpoint.identityFile {
            let paths = ([identity] + endpoint.otherIdentityFiles).map(SSHPaths.expandTilde)
            for path in paths {
                if let used = try tryFile(path) { return used }
            }
            if let agentSocket {
                let only = endpoint.identitiesOnly ? agentBlobs(forIdentities: paths) : nil
                if only?.isEmpty != true,
                    let used = try tryAgent(
                        socket: agentSocket, user: user, deadline: deadline, only: only, notes: &notes)
                {
                    return used
                }
            }
        } else {
            if !endpoint.identitiesOnly, let agentSocket,
                let used = try tryAgent(socket: agentSocket, user: user, deadline: deadline, notes: &notes)
            {
                return used
            }
            let home = SSHPaths.homeDirectory
            var tried = false
            for name in ["id_ed25519", "id_ecdsa"] {
                let path = home + "/.ssh/" + name
                guard FileManager.default.fileExists(atPath: path) else { continue }
                tried = true
                if let used = try tryFile(path) { return used }
            }
            if !tried && FileManager.default.fileExists(atPath: home + "/.ssh/id_rsa") {
                notes.append(
                    "only ~/.ssh/id_rsa exists: RSA keys are not supported by libssh2 1.10 (no rsa-sha2 signatures); use an ed25519 or ECDSA key"
                )
            }
            if notes.isEmpty {
                let agent = endpoint.agent == .none ? "IdentityAgent none" : "no ssh-agent"
                notes.append("\(agent) and no ~/.ssh/id_ed25519 or ~/.ssh/id_ecdsa")
            }
        }
        throw SSHError(
            kind: .authFailed, host: hostPort,
            message: "authentication as \(user) to \(hostPort) failed: " + notes.joined(separator: "; "))
    }

    /// The certificate offered with the key at `path`: ssh_config's `CertificateFile`, else
    /// `<path>-cert.pub` when it exists (as ssh loads it).
    private func certificatePath(for path: String) -> String? {
        if let configured = endpoint.certificateFile { return SSHPaths.expandTilde(configured) }
        let beside = path + "-cert.pub"
        return FileManager.default.fileExists(atPath: beside) ? beside : nil
    }
}
