/// One line of an OpenSSH client configuration file split the way ssh reads it (readconf.c):
/// the keyword ends at whitespace, a double quote or one `=`; the arguments are split on blanks
/// with `"` and `'` quoting, backslash escapes of quotes, backslashes and (outside quotes) spaces,
/// and a `#` at the start of an argument ends the line.
struct SSHConfigLine: Equatable {
    /// Lowercased, as keywords are case-insensitive.
    var keyword: String
    var arguments: [String]
    /// The text after the keyword and its separator, for ProxyCommand and ProxyJump, which
    /// OpenSSH takes whole.
    var rest: String

    enum Problem: Error, Equatable {
        case missingArgument(String)
        case invalidQuotes
    }

    /// `nil` for blank and comment lines.
    static func parse(_ raw: String) throws(Problem) -> SSHConfigLine? {
        var bytes = Array(raw.utf8)
        while let last = bytes.last,
            isBlank(last) || last == 0x0C || last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r")
        {
            bytes.removeLast()
        }
        var index = 0
        while index < bytes.count, isBlank(bytes[index]) { index += 1 }
        guard index < bytes.count, bytes[index] != UInt8(ascii: "#") else { return nil }
        let keywordStart = index
        while index < bytes.count, !isBlank(bytes[index]), bytes[index] != UInt8(ascii: "="),
            bytes[index] != UInt8(ascii: "\"")
        {
            index += 1
        }
        let keyword = String(
            decoding: bytes[keywordStart..<index].map(HostPatterns.lowercased), as: UTF8.self)
        // One `=` may separate the keyword from its value, with blanks on either side.
        while index < bytes.count, isBlank(bytes[index]) { index += 1 }
        if index < bytes.count, bytes[index] == UInt8(ascii: "=") { index += 1 }
        while index < bytes.count, isBlank(bytes[index]) || bytes[index] == UInt8(ascii: "=") { index += 1 }
        guard index < bytes.count else { throw .missingArgument(keyword) }
        let rest = Array(bytes[index...])
        return SSHConfigLine(
            keyword: keyword, arguments: try splitArguments(rest), rest: String(decoding: rest, as: UTF8.self)
        )
    }

    /// Blank-separated arguments with OpenSSH's quoting rules (misc.c `argv_split`).
    static func splitArguments(_ text: [UInt8]) throws(Problem) -> [String] {
        var arguments: [String] = []
        var index = 0
        while index < text.count {
            if isBlank(text[index]) {
                index += 1
                continue
            }
            if text[index] == UInt8(ascii: "#") { break }
            var quote: UInt8 = 0
            var argument: [UInt8] = []
            while index < text.count {
                let byte = text[index]
                if byte == UInt8(ascii: "\\"), index + 1 < text.count,
                    [UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "\\")].contains(text[index + 1])
                        || (quote == 0 && text[index + 1] == UInt8(ascii: " "))
                {
                    argument.append(text[index + 1])
                    index += 2
                    continue
                }
                if quote == 0, isBlank(byte) { break }
                if quote == 0, byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    quote = byte
                } else if quote != 0, byte == quote {
                    quote = 0
                } else {
                    argument.append(byte)
                }
                index += 1
            }
            if quote != 0 { throw .invalidQuotes }
            arguments.append(String(decoding: argument, as: UTF8.self))
        }
        return arguments
    }

    static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
}
