import CLibSSH2

/// SHA digests from the libcrypto that libssh2 already links, so no second crypto library is built.
public enum Digest {
    public static func sha256Hex(_ text: String) -> String { hex(sha256: true, Array(text.utf8)) }
    public static func sha1Hex(_ text: String) -> String { hex(sha256: false, Array(text.utf8)) }
    public static func sha256Hex(bytes: [UInt8]) -> String { hex(sha256: true, bytes) }

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] { raw(sha256: true, bytes) }
    public static func sha1(_ bytes: [UInt8]) -> [UInt8] { raw(sha256: false, bytes) }

    /// HMAC-SHA1 (RFC 2104), the hash of OpenSSH's hashed known_hosts names, built on `sha1`.
    public static func hmacSHA1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        let blockSize = 64
        var block = key.count > blockSize ? sha1(key) : key
        block += [UInt8](repeating: 0, count: blockSize - block.count)
        let inner = sha1(block.map { $0 ^ 0x36 } + message)
        return sha1(block.map { $0 ^ 0x5c } + inner)
    }

    private static func raw(sha256: Bool, _ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let length = bytes.withUnsafeBytes { input in
            out.withUnsafeMutableBufferPointer { output in
                mpf_digest(sha256 ? 1 : 0, input.baseAddress, input.count, output.baseAddress)
            }
        }
        precondition(length > 0, "libcrypto digest failed")
        return Array(out.prefix(Int(length)))
    }

    private static func hex(sha256: Bool, _ bytes: [UInt8]) -> String {
        let digest = raw(sha256: sha256, bytes)
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(digest.count * 2)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
