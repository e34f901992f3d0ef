/// Serialization and parsing for `JSONValue`.
///
/// Output is either compact (JSON lines) or indented by two spaces (the reference's documents).
/// Every string can pass through a transform on its way out, which is how redaction is applied to
/// each value before escaping: a secret is found in its raw form, not in its escaped form.
public enum JSONStyle: Sendable { case compact, pretty }

extension JSONValue {
    public func serialized(
        _ style: JSONStyle = .compact, transform: (@Sendable (String) -> String)? = nil
    ) -> String {
        var out = ""
        write(into: &out, style: style, level: 0, transform: transform)
        return out
    }

    private func write(
        into out: inout String, style: JSONStyle, level: Int, transform: (@Sendable (String) -> String)?
    ) {
        let newline = style == .pretty
        func indent(_ level: Int) { if newline { out += "\n" + String(repeating: "  ", count: level) } }
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .double(let value): out += JSONValue.format(double: value)
        case .string(let value): QuotedString.json.quote(transform?(value) ?? value, into: &out)
        case .array(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                indent(level + 1)
                item.write(into: &out, style: style, level: level + 1, transform: transform)
            }
            indent(level)
            out += "]"
        case .object(let object):
            if object.isEmpty {
                out += "{}"
                return
            }
            out += "{"
            for (index, entry) in object.entries.enumerated() {
                if index > 0 { out += "," }
                indent(level + 1)
                QuotedString.json.quote(transform?(entry.key) ?? entry.key, into: &out)
                out += newline ? ": " : ":"
                entry.value.write(into: &out, style: style, level: level + 1, transform: transform)
            }
            indent(level)
            out += "}"
        }
    }

    static func format(double value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(), abs(value) < 1e16 { return String(Int(value)) + ".0" }
        return String(value)
    }
}

/// A JSON parse failure, with a short detail in the style of Python's `json` errors.
public struct JSONParseError: Error, Sendable, CustomStringConvertible {
    public let detail: String
    public var description: String { detail }
}

extension JSONObject {
    /// Parses text that must hold one JSON object; both failures are `provider_failed`, worded by
    /// the caller (`invalid` receives the parser's detail).
    public static func parse(
        _ text: String, invalid: (String) -> String, notAnObject: @autoclosure () -> String
    ) throws(FleetError) -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            throw FleetError(.providerFailed, invalid(error.detail))
        }
        guard case .object(let object) = value else { throw FleetError(.providerFailed, notAnObject()) }
        return object
    }
}

extension JSONValue {
    /// Nesting deeper than this is rejected rather than recursing without bound on hostile input.
    public static let maximumDepth = 512

    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(utf8: text.utf8)
    }

    /// Parses UTF-8 bytes (a slice of a larger reply, without copying it to a String first).
    public static func parse(utf8 bytes: some Sequence<UInt8>) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: Array(bytes))
        return try parser.parseDocument()
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        if index >= bytes.count { throw failure("Expecting value") }
        let value = try parseValue(depth: 0)
        skipWhitespace()
        if index < bytes.count { throw failure("Extra data") }
        return value
    }

    /// Python's detail: line, column and offset count characters (code points), not bytes.
    private func failure(_ message: String, at position: Int? = nil) -> JSONParseError {
        var line = 1
        var column = 1
        var offset = 0
        for byte in bytes.prefix(position ?? index) where byte & 0xC0 != 0x80 {
            offset += 1
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return JSONParseError(detail: "\(message): line \(line) column \(column) (char \(offset))")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth < JSONValue.maximumDepth else { throw failure("Nesting too deep") }
        guard index < bytes.count else { throw failure("Expecting value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "N"): return try literal("NaN", .double(.nan))
        default: return try parseNumber()
        }
    }

    private mutating func literal(_ word: String, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        let expected = Array(word.utf8)
        guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected
        else { throw failure("Expecting value") }
        index += expected.count
        return value
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        index += 1
        // A repeated key keeps its first position and takes the last value, as Python's dict does.
        var entries: [(key: String, value: JSONValue)] = []
        var positions: [String: Int] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(JSONObject())
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw failure("Expecting property name enclosed in double quotes")
            }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw failure("Expecting ':' delimiter")
            }
            index += 1
            skipWhitespace()
            let value = try parseValue(depth: depth + 1)
            if let position = positions[key] {
                entries[position].value = value
            } else {
                positions[key] = entries.count
                entries.append((key, value))
            }
            skipWhitespace()
            guard index < bytes.count else { throw failure("Expecting ',' delimiter") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(JSONObject(uniqueEntries: entries))
            }
            throw failure("Expecting ',' delimiter")
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        index += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard index < bytes.count else { throw failure("Expecting ',' delimiter") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
            throw failure("Expecting ',' delimiter")
        }
    }

    /// One copy of the string's bytes at most: a string without escapes is decoded straight from
    /// the input; otherwise its UTF-8 is assembled once (hostile replies are mostly strings).
    private mutating func parseString() throws(JSONParseError) -> String {
        let start = index
        index += 1
        var runStart = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: bytes[runStart..<index - 1], as: UTF8.self)
            }
            if byte < 0x20 { throw failure("Invalid control character at") }
            if byte == UInt8(ascii: "\\") { break }
            index += 1
        }
        // Invalid UTF-8 is replaced run by run, as decoding the whole string at once would.
        var utf8: [UInt8] = []
        func flush(upTo end: Int) {
            if runStart < end {
                utf8.append(contentsOf: String(decoding: bytes[runStart..<end], as: UTF8.self).utf8)
            }
        }
        func append(_ scalar: Unicode.Scalar) { utf8.append(contentsOf: UTF8.encode(scalar)!) }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                flush(upTo: index)
                index += 1
                return String(decoding: utf8, as: UTF8.self)
            }
            if byte < 0x20 { throw failure("Invalid control character at") }
            if byte != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            flush(upTo: index)
            let backslash = index
            index += 1
            guard index < bytes.count else { break }
            let escaped = bytes[index]
            index += 1
            switch escaped {
            case UInt8(ascii: "\""): append("\"")
            case UInt8(ascii: "\\"): append("\\")
            case UInt8(ascii: "/"): append("/")
            case UInt8(ascii: "b"): append("\u{08}")
            case UInt8(ascii: "f"): append("\u{0C}")
            case UInt8(ascii: "n"): append("\n")
            case UInt8(ascii: "r"): append("\r")
            case UInt8(ascii: "t"): append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4(escapeAt: backslash + 1)
                if (0xD800..<0xDC00).contains(code), index + 1 < bytes.count,
                    bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                {
                    let save = index
                    index += 2
                    let low = try hex4(escapeAt: save + 1)
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        index = save
                    }
                }
                append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: throw failure("Invalid \\escape", at: backslash)
            }
            runStart = index
        }
        throw failure("Unterminated string starting at", at: start)
    }

    private mutating func hex4(escapeAt position: Int) throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("Invalid \\uXXXX escape", at: position) }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else {
                throw failure("Invalid \\uXXXX escape", at: position)
            }
            value = value * 16 + UInt32(digit)
        }
        index += 4
        return value
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        var isInteger = true
        scan: while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): index += 1
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"),
                UInt8(ascii: "-"):
                isInteger = false
                index += 1
            default: break scan
            }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if text.isEmpty || text == "-" {
            index = start
            throw failure("Expecting value")
        }
        if isInteger, let value = Int(text) { return .int(value) }
        if let value = Double(text) { return .double(value) }
        index = start
        throw failure("Expecting value")
    }
}
