import FleetCore
import Foundation

/// What an identity file is, judged from its text (no passphrase needed), and whether its
/// permissions let it be used.
struct SSHIdentityInfo {
    var isRSA = false
    var isEncrypted = false
    var readable = false
    /// Why the file is refused for its permissions (nil: it is not). OpenSSH's rule (authfile.c,
    /// `sshkey_perm_ok`): a key file owned by the real user must not be accessible by group or
    /// others (`mode & 077 == 0`); a file owned by another user is not checked.
    var permissionProblem: String? = nil

    init(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size <= 1 << 20 else { return }
        readable = true
        if info.st_uid == getuid(), info.st_mode & 0o077 != 0 {
            let mode = String(info.st_mode & 0o777, radix: 8)
            permissionProblem =
                "identity file \(path) has mode 0\(mode), readable or writable by group or others; private keys must not be accessible to anyone else, so it is refused (as OpenSSH does): chmod 600 \(path)"
            return
        }
        var contents = [UInt8](repeating: 0, count: Int(info.st_size))
        var offset = 0
        while offset < contents.count {
            let count = contents.withUnsafeMutableBytes {
                read(fd, $0.baseAddress! + offset, $0.count - offset)
            }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            offset += count
        }
        let text = String(decoding: contents.prefix(offset), as: UTF8.self)
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
