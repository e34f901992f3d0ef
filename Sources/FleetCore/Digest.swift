import CLibSSH2

/// SHA digests from the libcrypto that libssh2 already links, so no second crypto library is built.
public enum Digest {
    public static func sha256Hex(_ text: String) -> String { hex(sha256: true, Array(text.utf8)) }
    public static func sha1Hex(_ text: String) -> String { hex(sha256: false, Array(text.utf8)) }
    public static func sha256Hex(bytes: [UInt8]) -> String { hex(sha256: true, bytes) }

    private static func hex(sha256: Bool, _ bytes: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 32)
        let length = bytes.withUnsafeBytes { input in
            out.withUnsafeMutableBufferPointer { output in
                mpf_digest(sha256 ? 1 : 0, input.baseAddress, input.count, output.baseAddress)
            }
        }
        precondition(length > 0, "libcrypto digest failed")
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(Int(length) * 2)
        for byte in out.prefix(Int(length)) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
