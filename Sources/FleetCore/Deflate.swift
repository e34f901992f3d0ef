import CLibSSH2

/// zlib's deflate (RFC 1950), from the libz that libssh2 already links: what Python's
/// `zlib.decompress` reads.
public enum Deflate {
    /// `bytes` compressed, or nil when zlib fails (it only does without memory).
    public static func zlib(_ bytes: [UInt8]) -> [UInt8]? {
        var length = compressBound(uLong(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(length))
        let status = output.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { input in
                compress2(out.baseAddress, &length, input.baseAddress, uLong(bytes.count), Z_BEST_COMPRESSION)
            }
        }
        guard status == Z_OK else { return nil }
        return Array(output.prefix(Int(length)))
    }
}
