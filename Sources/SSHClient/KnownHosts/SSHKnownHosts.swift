import CLibSSH2
import FleetCore
import Foundation
import Locks

/// Host-key verification against an OpenSSH known_hosts file: the decision is FleetCore's
/// `KnownHosts` model (patterns, hashed names, markers); this file reads the file, turns the
/// decision into an error, and records new keys under accept-new. Called only from a
/// connection's I/O thread, with that thread's session.
enum SSHKnownHosts {
    /// Serialises read-check-append of known_hosts files within this process, so concurrent first
    /// connections to a new host under accept-new record one line, not several (an `flock` on the
    /// file does the same across processes).
    private static let fileLock = Lock()

    /// A known_hosts file larger than this is refused rather than read.
    static let sizeLimit = 16 << 20

    /// The verified key (`type SHA256:…`) and where known_hosts holds it.
    struct Verified {
        var key: String
        var place: String
    }

    /// Throws `hostKeyRevoked`, `hostKeyChanged` or `hostKeyUnknown`, or records the key under
    /// accept-new in the first of `paths`. As ssh with several known_hosts files: a key revoked in
    /// any file is refused, a key any file holds for the host is known, and otherwise another key
    /// for the host in any file is a changed key. The host is looked up as `HostKeyAlias` names it.
    static func verify(
        session: OpaquePointer, endpoint: SSHEndpoint, paths: [String], policy: HostKeyPolicy
    ) throws(SSHError) -> Verified {
        let hostPort = endpoint.hostPort
        var keyLength = 0
        var rawType: Int32 = 0
        guard let keyPointer = libssh2_session_hostkey(session, &keyLength, &rawType), keyLength > 0 else {
            throw SSHError(kind: .protocolError, host: hostPort, message: "\(hostPort) offered no host key")
        }
        let key = [UInt8](UnsafeRawBufferPointer(start: keyPointer, count: keyLength))
        let lookup = (
            host: endpoint.hostKeyAlias ?? endpoint.host,
            port: endpoint.hostKeyAlias == nil ? endpoint.port : 22
        )
        let checks = paths.map { path in
            Check(
                endpoint: endpoint, path: SSHPaths.expandTilde(path), key: key, lookupHost: lookup.host,
                lookupPort: lookup.port,
                hostField: HostPatterns.hostField(host: lookup.host, port: lookup.port))
        }
        guard let first = checks.first, let type = SSHKeyBlob.typeName(key), !type.isEmpty else {
            throw SSHError(
                kind: .protocolError, host: hostPort,
                message:
                    "\(hostPort) offered a host key that cannot be read, fingerprint \(KnownHosts.fingerprint(key))"
            )
        }
        let place = try fileLock.withLock { () throws(SSHError) -> String in
            var verdicts: [(check: Check, verdict: KnownHosts.Verdict)] = []
            for check in checks {
                verdicts.append(
                    (check, try check.read().verdict(host: lookup.host, port: lookup.port, key: key)))
            }
            for (check, verdict) in verdicts {
                if case .revoked = verdict { _ = try check.settle(verdict, type: type) }
            }
            for (check, verdict) in verdicts {
                if case .known(let entry) = verdict { return "\(check.path) line \(entry.line)" }
            }
            for (check, verdict) in verdicts { _ = try check.settle(verdict, type: type) }
            switch policy {
            case .strict:
                let searched = checks.count == 1 ? first.path : checks.map(\.path).joined(separator: ", ")
                throw first.error(
                    .hostKeyUnknown,
                    "host key for \(hostPort) is not in \(searched) (offered \(type) \(first.offered)); add it or use host key policy accept-new"
                )
            case .acceptNew:
                try first.record(type: type)
                return "recorded in \(first.path) (accept-new)"
            }
        }
        return Verified(key: "\(type) \(first.offered)", place: place)
    }

    /// One presented key checked against one file.
    struct Check {
        let endpoint: SSHEndpoint
        let path: String
        let key: [UInt8]
        /// The name and port known_hosts is searched under (`HostKeyAlias`, else the host's).
        let lookupHost: String
        let lookupPort: Int
        /// `host` or `[host]:port`, lower case: what accept-new records and messages name.
        let hostField: String

        var offered: String { KnownHosts.fingerprint(key) }
        var hostPort: String { endpoint.hostPort }

        func error(_ kind: SSHError.Kind, _ message: String) -> SSHError {
            SSHError(kind: kind, host: hostPort, message: message)
        }

        /// Returns true when the key is unknown (the policy decides); false when it is known;
        /// throws for revoked, changed and certificate-only hosts, under every policy.
        func settle(_ verdict: KnownHosts.Verdict, type: String) throws(SSHError) -> Bool {
            switch verdict {
            case .known:
                return false
            case .unknown:
                return true
            case .revoked(let entry):
                throw error(
                    .hostKeyRevoked,
                    "host key for \(hostPort) is REVOKED: offered \(type) \(offered) is marked @revoked in \(path) line \(entry.line); refusing to connect (the host needs a new key, recorded in known_hosts)"
                )
            case .changed(let recorded):
                let otherType = recorded.keyType == type ? "" : " (a different key type)"
                throw error(
                    .hostKeyChanged,
                    "host key for \(hostPort) has CHANGED: offered \(type) \(offered), known_hosts (\(path)) line \(recorded.line) has \(recorded.keyType) \(KnownHosts.fingerprint(recorded.key))\(otherType); refusing to connect (remove the old entry with ssh-keygen -R '\(hostField)' -f \(path) if the change is expected)"
                )
            case .certAuthorityOnly(let authority):
                throw error(
                    .hostKeyUnknown,
                    "host key for \(hostPort) cannot be checked: \(path) names it only in @cert-authority lines (line \(authority.line)), and host certificates are not supported (libssh2 1.10 cannot verify them); record the host's own key instead: a line '\(hostField) \(type) <key>' in \(path), after checking that the host's fingerprint is \(offered)"
                )
            }
        }

        /// The file as it is now; a missing file is an empty one. Reading follows a symlink, as
        /// OpenSSH does (only writing refuses one).
        func read() throws(SSHError) -> KnownHosts {
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            if fd < 0 {
                if errno == ENOENT { return KnownHosts() }
                throw unreadable(String(cString: strerror(errno)))
            }
            defer { close(fd) }
            return try contents(of: fd)
        }

        /// Parses the whole regular file open at `fd` (from its start).
        func contents(of fd: Int32) throws(SSHError) -> KnownHosts {
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw unreadable(String(cString: strerror(errno))) }
            guard info.st_mode & S_IFMT == S_IFREG else { throw unreadable("not a regular file") }
            guard Int(info.st_size) <= sizeLimit else {
                throw unreadable("larger than \(sizeLimit >> 20) MiB")
            }
            var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
            var offset = 0
            while offset < bytes.count {
                let count = bytes.withUnsafeMutableBytes {
                    pread(fd, $0.baseAddress! + offset, $0.count - offset, off_t(offset))
                }
                if count < 0, errno == EINTR { continue }
                guard count >= 0 else { throw unreadable(String(cString: strerror(errno))) }
                if count == 0 { break }
                offset += count
            }
            return KnownHosts.parse(bytes.prefix(offset))
        }

        /// A known_hosts file that cannot be read knows no key: the host key is unknown (as
        /// OpenSSH treats it), with the reason.
        func unreadable(_ why: String) -> SSHError {
            error(
                .hostKeyUnknown,
                "cannot check the host key of \(hostPort) (offered \(offered)): cannot read \(path): \(why)")
        }

        /// accept-new: appends the key under an exclusive `flock`, after reading the file again
        /// through the same descriptor (another process may have recorded this host meanwhile).
        /// Never follows a symlink in the last component, creates the file 0600 (its directory
        /// 0700), and refuses a file that another user owns or that has other hard links (another
        /// name for someone else's file).
        func record(type: String) throws(SSHError) {
            func refuse(_ why: String) -> SSHError {
                error(
                    .hostKeyUnknown,
                    "cannot record host key \(type) \(offered) for \(hostPort) in \(path): \(why)")
            }
            let directory = PosixPath.dirname(path)
            if !FileSystem.isDirectory(directory) {
                do {
                    try FileSystem.makeDirectories(directory, mode: 0o700)
                } catch {
                    throw refuse(error.message)
                }
            }
            let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o600)
            if fd < 0 {
                let code = errno
                throw refuse(
                    code == ELOOP
                        ? "it is a symbolic link, which is never followed for writing"
                        : String(cString: strerror(code)))
            }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw refuse(String(cString: strerror(errno))) }
            guard info.st_mode & S_IFMT == S_IFREG else { throw refuse("not a regular file") }
            guard info.st_uid == geteuid() else {
                throw refuse("the file is owned by uid \(info.st_uid), not by this user (uid \(geteuid()))")
            }
            guard info.st_nlink == 1 else { throw refuse("the file has \(info.st_nlink) hard links") }
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else { throw refuse(String(cString: strerror(errno))) }
            }
            let now = try contents(of: fd)
            guard try settle(now.verdict(host: lookupHost, port: lookupPort, key: key), type: type)
            else {
                return
            }
            guard let line = KnownHosts.line(hostField: hostField, key: key) else {
                throw refuse("the key cannot be encoded")
            }
            // Keep the new entry on its own line even if the file does not end with a newline.
            var last: UInt8 = 0x0A
            if fstat(fd, &info) == 0, info.st_size > 0 { _ = pread(fd, &last, 1, info.st_size - 1) }
            let bytes = Array(((last == 0x0A ? "" : "\n") + line).utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { throw refuse(String(cString: strerror(errno))) }
                offset += written
            }
        }
    }
}
