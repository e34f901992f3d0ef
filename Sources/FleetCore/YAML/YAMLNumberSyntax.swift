/// PyYAML's implicit patterns for integers, floats and timestamps, matched by hand in one pass
/// over the bytes: a regular expression per scalar cost about a millisecond (a file of numbers
/// would take minutes), and `Regex` values cannot be shared between threads. Each function
/// accepts exactly what PyYAML's pattern of the same name accepts as a whole.
struct YAMLNumberSyntax {
    private let bytes: [UInt8]
    private var index = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    /// `[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
    /// | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`
    static func isInteger(_ text: String) -> Bool {
        var scan = YAMLNumberSyntax(text)
        scan.skipSign()
        guard let first = scan.next() else { return false }
        if first == UInt8(ascii: "0") {
            if scan.atEnd { return true }
            if scan.skip("b") { return scan.skipRun(Self.isBinary) > 0 && scan.atEnd }
            if scan.skip("x") { return scan.skipRun(Self.isHex) > 0 && scan.atEnd }
            return scan.skipRun(Self.isOctal) > 0 && scan.atEnd
        }
        guard Self.isDigit(first), first != UInt8(ascii: "0") else { return false }
        scan.skipRun(Self.isDigitOrUnderscore)
        if scan.atEnd { return true }
        return scan.skipSexagesimalGroups() && scan.atEnd
    }

    /// `[-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9][0-9_]*([eE][-+][0-9]+)?
    /// | [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)`
    static func isFloat(_ text: String) -> Bool {
        var scan = YAMLNumberSyntax(text)
        let signed = scan.skipSign()
        if scan.skip(".") {
            let rest = String(decoding: scan.bytes[scan.index...], as: UTF8.self)
            if ["inf", "Inf", "INF"].contains(rest) { return true }
            if signed { return false }
            if ["nan", "NaN", "NAN"].contains(rest) { return true }
            guard let first = scan.next(), Self.isDigit(first) else { return false }
            scan.skipRun(Self.isDigitOrUnderscore)
            return scan.skipExponent() && scan.atEnd
        }
        guard let first = scan.next(), Self.isDigit(first) else { return false }
        scan.skipRun(Self.isDigitOrUnderscore)
        if scan.skip(".") {
            scan.skipRun(Self.isDigitOrUnderscore)
            return scan.skipExponent() && scan.atEnd
        }
        guard scan.skipSexagesimalGroups(), scan.skip(".") else { return false }
        scan.skipRun(Self.isDigitOrUnderscore)
        return scan.atEnd
    }

    /// `[0-9]{4}-[0-9]{2}-[0-9]{2} | [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}
    /// (\.[0-9]*)?([ \t]*(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?`
    static func isTimestamp(_ text: String) -> Bool {
        var scan = YAMLNumberSyntax(text)
        guard scan.skipRun(Self.isDigit) == 4, scan.skip("-") else { return false }
        let month = scan.skipRun(Self.isDigit)
        guard (1...2).contains(month), scan.skip("-") else { return false }
        let day = scan.skipRun(Self.isDigit)
        guard (1...2).contains(day) else { return false }
        if scan.atEnd { return month == 2 && day == 2 }
        guard scan.skip("T") || scan.skip("t") || scan.skipRun(Self.isBlank) > 0 else { return false }
        guard (1...2).contains(scan.skipRun(Self.isDigit)), scan.skip(":"), scan.skipRun(Self.isDigit) == 2,
            scan.skip(":"), scan.skipRun(Self.isDigit) == 2
        else { return false }
        if scan.skip(".") { scan.skipRun(Self.isDigit) }
        if scan.atEnd { return true }
        scan.skipRun(Self.isBlank)
        if scan.skip("Z") { return scan.atEnd }
        guard scan.skip("-") || scan.skip("+"), (1...2).contains(scan.skipRun(Self.isDigit)) else {
            return false
        }
        if scan.skip(":"), scan.skipRun(Self.isDigit) != 2 { return false }
        return scan.atEnd
    }

    private var atEnd: Bool { index == bytes.count }

    private mutating func next() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    @discardableResult
    private mutating func skip(_ character: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }

    @discardableResult
    private mutating func skipSign() -> Bool { skip("-") || skip("+") }

    /// Skips the longest run of bytes that `accepts`, returning its length.
    @discardableResult
    private mutating func skipRun(_ accepts: (UInt8) -> Bool) -> Int {
        let start = index
        while index < bytes.count, accepts(bytes[index]) { index += 1 }
        return index - start
    }

    /// `(:[0-5]?[0-9])+`. What follows a group is never a digit, so each group is its whole run
    /// of digits: one digit, or two with the first at most 5.
    private mutating func skipSexagesimalGroups() -> Bool {
        var groups = 0
        while skip(":") {
            let start = index
            switch skipRun(Self.isDigit) {
            case 1: break
            case 2 where bytes[start] <= UInt8(ascii: "5"): break
            default: return false
            }
            groups += 1
        }
        return groups > 0
    }

    /// `([eE][-+][0-9]+)?`: true when there is none or a whole one.
    private mutating func skipExponent() -> Bool {
        guard skip("e") || skip("E") else { return true }
        return skipSign() && skipRun(Self.isDigit) > 0
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
    private static func isDigitOrUnderscore(_ byte: UInt8) -> Bool {
        isDigit(byte) || byte == UInt8(ascii: "_")
    }
    private static func isBinary(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "0") || byte == UInt8(ascii: "1") || byte == UInt8(ascii: "_")
    }
    private static func isOctal(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(byte) || byte == UInt8(ascii: "_")
    }
    private static func isHex(_ byte: UInt8) -> Bool {
        isDigitOrUnderscore(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }
    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }
}
