import FleetCore
import Foundation

/// The public part of an OpenSSH user certificate (`*-cert.pub`, PROTOCOL.certkeys), read for what
/// neither libssh2 nor the server says when authentication fails: whether libssh2 can sign for it
/// at all, and whether it is valid now for the login account.
struct SSHCertificate: Equatable {
    /// The certificate's key type, e.g. `ecdsa-sha2-nistp256-cert-v01@openssh.com`.
    var type: String
    var keyID: String
    /// Empty: valid for any account.
    var principals: [String]
    /// Seconds since 1970; `validBefore` is `UInt64.max` for "forever".
    var validAfter: UInt64
    var validBefore: UInt64

    /// The strings (mpints included) each certificate type carries for its key, after the nonce.
    private static let keyFieldCount: [String: Int] = [
        "ssh-ed25519-cert-v01@openssh.com": 1,
        "ecdsa-sha2-nistp256-cert-v01@openssh.com": 2,
        "ecdsa-sha2-nistp384-cert-v01@openssh.com": 2,
        "ecdsa-sha2-nistp521-cert-v01@openssh.com": 2,
        "ssh-rsa-cert-v01@openssh.com": 2,
    ]

    /// Why libssh2 1.10 cannot sign for this kind of certificate, or nil when it can (ECDSA).
    /// It puts the certificate's type in the signature where sshd expects the key's algorithm,
    /// trimming it only for ECDSA; RSA would need rsa-sha2 signatures, which it cannot make.
    var unsupportedReason: String? {
        if type.hasPrefix("ecdsa-sha2-") { return nil }
        let kind =
            type.hasPrefix("ssh-ed25519") ? "an ed25519" : type.hasPrefix("ssh-rsa") ? "an RSA" : "a \(type)"
        return
            "it is \(kind) certificate, which libssh2 1.10 cannot sign for (sshd refuses its signature); use an ECDSA key and certificate (ssh-keygen -t ecdsa, then ssh-keygen -s) or authorize the key itself"
    }

    /// Why sshd will refuse this certificate for `user` at `now` (seconds since 1970), or nil.
    func refusal(user: String, now: UInt64) -> String? {
        if now < validAfter { return "it is not valid before \(Self.time(validAfter))" }
        if now >= validBefore { return "it expired at \(Self.time(validBefore))" }
        if !principals.isEmpty, !principals.contains(user) {
            return "it is for the principal(s) \(principals.joined(separator: ", ")), not \(user)"
        }
        return nil
    }

    private static func time(_ seconds: UInt64) -> String {
        Timestamp.format(Double(min(seconds, 253_402_300_799)), microseconds: false)  // up to 9999-12-31
    }
}

extension SSHCertificate {
    /// Reads the certificate at `path` (at most 64 KiB); nil when it is not one.
    init?(path: String) {
        guard FileSystem.isRegularFile(path), let text = FileSystem.readText(path), text.utf8.count <= 1 << 16
        else { return nil }
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count >= 2, let data = Data(base64Encoded: String(fields[1])) else { return nil }
        self.init(blob: [UInt8](data))
    }

    /// Parses a certificate blob: type, nonce, the key's own fields, serial, certificate type, key
    /// id, principals, validity.
    init?(blob: [UInt8]) {
        var reader = WireReader(bytes: blob)
        guard let typeBytes = reader.string() else { return nil }
        type = String(decoding: typeBytes, as: UTF8.self)
        guard let keyFields = Self.keyFieldCount[type], reader.string() != nil else { return nil }
        for _ in 0..<keyFields { guard reader.string() != nil else { return nil } }
        guard reader.uint64() != nil, let certificateType = reader.uint32(), certificateType == 1,
            let id = reader.string(), let packed = reader.string(), let after = reader.uint64(),
            let before = reader.uint64()
        else { return nil }
        keyID = String(decoding: id, as: UTF8.self)
        var names = WireReader(bytes: packed)
        principals = []
        while !names.isAtEnd {
            guard let name = names.string() else { return nil }
            principals.append(String(decoding: name, as: UTF8.self))
        }
        validAfter = after
        validBefore = before
    }
}

/// SSH wire-format fields (RFC 4251 §5), bounds-checked.
private struct WireReader {
    let bytes: [UInt8]
    var index = 0

    var isAtEnd: Bool { index >= bytes.count }

    mutating func uint32() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        defer { index += 4 }
        return bytes[index..<index + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func uint64() -> UInt64? {
        guard index + 8 <= bytes.count else { return nil }
        defer { index += 8 }
        return bytes[index..<index + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func string() -> [UInt8]? {
        guard let length = uint32().map(Int.init), length <= bytes.count - index else { return nil }
        defer { index += length }
        return Array(bytes[index..<index + length])
    }
}
