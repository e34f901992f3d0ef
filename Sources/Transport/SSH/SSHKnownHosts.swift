import CLibSSH2
import FleetCore
import Foundation
import Synchronization

/// Host-key verification against an OpenSSH known_hosts file through libssh2's knownhost API.
/// Called only from a connection's I/O thread, with that thread's session.
enum SSHKnownHosts {
    /// Serialises read-check-append of known_hosts files within this process, so concurrent first
    /// connections to a new host under accept-new record one line, not several. The guarded value
    /// is a placeholder that is not zero-sized (see `SSHLock`).
    private static let fileLock = SSHLock(false)

    struct KeyType {
        let name: String
        let knownHostBit: Int32
    }

    static func keyType(_ libssh2Type: Int32) -> KeyType? {
        switch libssh2Type {
        case LIBSSH2_HOSTKEY_TYPE_ED25519:
            return KeyType(name: "ssh-ed25519", knownHostBit: LIBSSH2_KNOWNHOST_KEY_ED25519)
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
            return KeyType(name: "ecdsa-sha2-nistp256", knownHostBit: LIBSSH2_KNOWNHOST_KEY_ECDSA_256)
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
            return KeyType(name: "ecdsa-sha2-nistp384", knownHostBit: LIBSSH2_KNOWNHOST_KEY_ECDSA_384)
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
            return KeyType(name: "ecdsa-sha2-nistp521", knownHostBit: LIBSSH2_KNOWNHOST_KEY_ECDSA_521)
        case LIBSSH2_HOSTKEY_TYPE_RSA:
            return KeyType(name: "ssh-rsa", knownHostBit: LIBSSH2_KNOWNHOST_KEY_SSHRSA)
        case LIBSSH2_HOSTKEY_TYPE_DSS:
            return KeyType(name: "ssh-dss", knownHostBit: LIBSSH2_KNOWNHOST_KEY_SSHDSS)
        default: return nil
        }
    }

    static let allKeyBits: [Int32] = [
        LIBSSH2_KNOWNHOST_KEY_ED25519, LIBSSH2_KNOWNHOST_KEY_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_384,
        LIBSSH2_KNOWNHOST_KEY_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_SSHRSA, LIBSSH2_KNOWNHOST_KEY_SSHDSS,
    ]

    /// OpenSSH-style `SHA256:<base64 without padding>` of a raw public-key blob.
    static func fingerprint(_ blob: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 32)
        let n = blob.withUnsafeBytes { input in
            out.withUnsafeMutableBufferPointer {
                mpf_digest(1, input.baseAddress, input.count, $0.baseAddress)
            }
        }
        var b64 = Data(out.prefix(Int(n))).base64EncodedString()
        while b64.hasSuffix("=") { b64.removeLast() }
        return "SHA256:" + b64
    }

    /// The host field as OpenSSH writes it: `host` for port 22, else `[host]:port`.
    static func hostField(_ endpoint: SSHEndpoint) -> String {
        endpoint.port == 22 ? endpoint.host : "[\(endpoint.host)]:\(endpoint.port)"
    }

    /// Throws `hostKeyUnknown` / `hostKeyChanged` (or records the key under accept-new).
    static func verify(
        session: OpaquePointer, endpoint: SSHEndpoint, path: String, policy: HostKeyPolicy
    ) throws(SSHError) {
        let hostPort = endpoint.hostPort
        var keyLength = 0
        var rawType: Int32 = 0
        guard let keyPointer = libssh2_session_hostkey(session, &keyLength, &rawType), keyLength > 0 else {
            throw SSHError(kind: .protocolError, host: hostPort, message: "\(hostPort) offered no host key")
        }
        let blob = [UInt8](UnsafeRawBufferPointer(start: keyPointer, count: keyLength))
        let offered = fingerprint(blob)
        guard let type = keyType(rawType) else {
            throw SSHError(
                kind: .protocolError, host: hostPort,
                message:
                    "\(hostPort) offered an unsupported host key type (\(rawType)), fingerprint \(offered)"
            )
        }
        let knownHostsPath = SSHPaths.expandTilde(path)

        try fileLock.withLock { _ throws(SSHError) in
            let outcome = check(
                session: session, endpoint: endpoint, path: knownHostsPath, blob: blob,
                keyBit: type.knownHostBit)
            switch outcome {
            case .match:
                return
            case .mismatch(let knownFingerprint):
                throw SSHError(
                    kind: .hostKeyChanged, host: hostPort,
                    message:
                        "host key for \(hostPort) has CHANGED: offered \(type.name) \(offered), known_hosts (\(knownHostsPath)) has \(knownFingerprint); refusing to connect (remove the old entry with ssh-keygen -R '\(hostField(endpoint))' -f \(knownHostsPath) if the change is expected)"
                )
            case .notFound:
                switch policy {
                case .strict:
                    throw SSHError(
                        kind: .hostKeyUnknown, host: hostPort,
                        message:
                            "host key for \(hostPort) is not in \(knownHostsPath) (offered \(type.name) \(offered)); add it or use host key policy accept-new"
                    )
                case .acceptNew:
                    let line = "\(hostField(endpoint)) \(type.name) \(Data(blob).base64EncodedString())\n"
                    if let problem = append(line: line, to: knownHostsPath) {
                        throw SSHError(
                            kind: .hostKeyUnknown, host: hostPort,
                            message:
                                "cannot record host key \(offered) for \(hostPort) in \(knownHostsPath): \(problem)"
                        )
                    }
                }
            case .failure(let why):
                throw SSHError(
                    kind: .protocolError, host: hostPort,
                    message: "cannot check host key of \(hostPort) against \(knownHostsPath): \(why)")
            }
        }
    }

    enum Outcome {
        case match
        case mismatch(knownFingerprint: String)
        case notFound
        case failure(String)
    }

    private static func check(
        session: OpaquePointer, endpoint: SSHEndpoint, path: String, blob: [UInt8], keyBit: Int32
    ) -> Outcome {
        guard let hosts = libssh2_knownhost_init(session) else {
            return .failure("libssh2_knownhost_init failed")
        }
        defer { libssh2_knownhost_free(hosts) }
        // Read line by line: libssh2_knownhost_readfile stops at the first line it cannot parse
        // (e.g. sk-ssh-ed25519 or @cert-authority entries), which would hide later entries.
        // Read with FileSystem, not Foundation: String(contentsOfFile:) leaks its 4 KiB buffer on an
        // empty file (a new known_hosts under accept-new).
        if let text = FileSystem.readText(path) {
            for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix("@") { continue }
                // NUL-terminated: libssh2 copies the key with its terminator (one byte past `len`),
                // as its own readfile passes lines read with fgets.
                let bytes = Array(trimmed.utf8) + [0]
                _ = bytes.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) {
                        libssh2_knownhost_readline(
                            hosts, $0.baseAddress, $0.count - 1, LIBSSH2_KNOWNHOST_FILE_OPENSSH)
                    }
                }
            }
        }
        let port: Int32 = endpoint.port == 22 ? -1 : Int32(endpoint.port)
        func lookup(_ bit: Int32, _ key: [UInt8]) -> (Int32, String?) {
            var found: UnsafeMutablePointer<libssh2_knownhost>? = nil
            let typemask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | bit
            let rc = key.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) {
                    libssh2_knownhost_checkp(
                        hosts, endpoint.host, port, $0.baseAddress, $0.count, typemask, &found)
                }
            }
            var knownFingerprint: String? = nil
            if let found, let base64 = found.pointee.key,
                let data = Data(base64Encoded: String(cString: base64), options: .ignoreUnknownCharacters)
            {
                knownFingerprint = fingerprint([UInt8](data))
            }
            return (rc, knownFingerprint)
        }
        let (rc, known) = lookup(keyBit, blob)
        switch rc {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH: return .match
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            return .mismatch(knownFingerprint: known ?? "an unreadable key")
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            // A key of another type recorded for this host also counts as a change (as in OpenSSH):
            // otherwise an attacker could offer a different key type and be "new".
            let probe = [UInt8](repeating: 0, count: 8)
            for bit in allKeyBits where bit != keyBit {
                let (other, otherKnown) = lookup(bit, probe)
                if other == LIBSSH2_KNOWNHOST_CHECK_MISMATCH || other == LIBSSH2_KNOWNHOST_CHECK_MATCH {
                    return .mismatch(knownFingerprint: (otherKnown ?? "?") + " (a different key type)")
                }
            }
            return .notFound
        default:
            return .failure("libssh2_knownhost_checkp returned \(rc)")
        }
    }

    /// Appends one line, creating the file 0600 (and its directory 0700) when missing. Returns an error text.
    private static func append(line: String, to path: String) -> String? {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            } catch { return "cannot create \(directory): \(error)" }
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { return String(cString: strerror(errno)) }
        defer { close(fd) }
        // Keep the new entry on its own line even if the file does not end with a newline.
        var text = line
        if let existing = FileSystem.readBytes(path), let last = existing.last, last != 0x0A {
            text = "\n" + text
        }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return written == bytes.count ? nil : String(cString: strerror(errno))
    }
}

/// What an identity file is, judged from its text (no passphrase needed).
struct SSHIdentityInfo {
    var isRSA = false
    var isEncrypted = false
    var readable = false

    init(path: String) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        readable = true
        if text.contains("BEGIN RSA PRIVATE KEY") { isRSA = true }
        if text.contains("ENCRYPTED") { isEncrypted = true }
        guard text.contains("BEGIN OPENSSH PRIVATE KEY") else { return }
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let data = Data(base64Encoded: body, options: .ignoreUnknownCharacters) else { return }
        let bytes = [UInt8](data)
        // openssh-key-v1\0, string ciphername, string kdfname, string kdfoptions, uint32 n, string pubkey
        var index = 15
        func readString() -> [UInt8]? {
            guard index + 4 <= bytes.count else { return nil }
            let n =
                Int(bytes[index]) << 24 | Int(bytes[index + 1]) << 16 | Int(bytes[index + 2]) << 8
                | Int(bytes[index + 3])
            index += 4
            guard n >= 0, index + n <= bytes.count else { return nil }
            defer { index += n }
            return Array(bytes[index..<index + n])
        }
        guard bytes.count > 15, let cipher = readString() else { return }
        if String(decoding: cipher, as: UTF8.self) != "none" { isEncrypted = true }
        _ = readString()
        _ = readString()
        index += 4
        guard let pub = readString() else { return }
        let saved = index
        index = 0
        let pubBytes = pub
        if pubBytes.count >= 4 {
            let n = Int(pubBytes[0]) << 24 | Int(pubBytes[1]) << 16 | Int(pubBytes[2]) << 8 | Int(pubBytes[3])
            if 4 + n <= pubBytes.count, String(decoding: pubBytes[4..<4 + n], as: UTF8.self) == "ssh-rsa" {
                isRSA = true
            }
        }
        index = saved
    }
}
