/// Standard base64 (RFC 4648 alphabet, `=` padding, no line breaks): the reference's upload
/// payload (§7.1) and the key blobs and hashed host names of OpenSSH's known_hosts.
public enum Base64 {
    private static let alphabet = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The value of each alphabet byte, 255 for bytes outside it.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 255, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [18, 12, 6, 0].map { alphabet[Int((value >> $0) & 63)] }
            index += 3
        }
        let rest = bytes.count - index
        if rest > 0 {
            let value = UInt32(bytes[index]) << 16 | (rest == 2 ? UInt32(bytes[index + 1]) << 8 : 0)
            out.append(alphabet[Int((value >> 18) & 63)])
            out.append(alphabet[Int((value >> 12) & 63)])
            out.append(rest == 2 ? alphabet[Int((value >> 6) & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Strict decoding: whole groups of four, `=` only as the padding of the last group, and no
    /// stray bits in the last character. Anything else is nil (OpenSSH rejects such key blobs too).
    public static func decode<Text: Collection<UInt8>>(_ text: Text) -> [UInt8]? {
        let input = Array(text)
        guard input.count % 4 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            let last = index + 4 == input.count
            let padding =
                last
                ? (input[index + 3] == UInt8(ascii: "=") ? 1 : 0)
                    + (input[index + 2] == UInt8(ascii: "=") ? 1 : 0) : 0
            if padding == 1 && input[index + 2] == UInt8(ascii: "=") { return nil }
            var value: UInt32 = 0
            for offset in 0..<4 {
                let byte = input[index + offset]
                if offset >= 4 - padding {
                    value <<= 6
                    continue
                }
                let digit = values[Int(byte)]
                if digit == 255 { return nil }
                value = value << 6 | UInt32(digit)
            }
            out.append(UInt8(value >> 16))
            if padding < 2 {
                out.append(UInt8((value >> 8) & 0xFF))
            } else if value & 0xFFFF != 0 {
                return nil
            }
            if padding < 1 { out.append(UInt8(value & 0xFF)) } else if value & 0xFF != 0 { return nil }
            index += 4
        }
        return out
    }
}
