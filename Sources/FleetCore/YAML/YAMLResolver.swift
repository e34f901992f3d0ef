/// YAML 1.1 typing of plain scalars exactly as PyYAML (the reference's parser) resolves them, and
/// the integer and boolean values PyYAML's safe constructor makes of them. Wider rules would read
/// `1e3` or `5e12345` (a short git sha) as floats and `0o17` as an integer, where PyYAML keeps all
/// three as strings.
enum YAMLResolver {
    /// The type of an untagged plain scalar. As in PyYAML, only texts whose first character can
    /// start a number, a boolean, a null, `<<` or `=` are matched against the patterns.
    static func tag(ofPlain text: String) -> YAMLTag {
        guard let first = text.unicodeScalars.first else { return .null }
        switch first {
        case "y", "Y", "n", "N", "t", "T", "f", "F", "o", "O", "~":
            if trueWords.contains(text) || falseWords.contains(text) { return .bool }
            if nullWords.contains(text) { return .null }
        case "<" where text == "<<":
            return .merge
        case "=" where text == "=":
            return .value
        case "-", "+", ".", "0"..."9":
            if YAMLNumberSyntax.isInteger(text) { return .int }
            if YAMLNumberSyntax.isFloat(text) { return .float }
            if YAMLNumberSyntax.isTimestamp(text) { return .timestamp }
        default:
            break
        }
        return .str
    }

    /// PyYAML's `construct_yaml_int`: underscores dropped, then binary (`0b`), hexadecimal (`0x`),
    /// octal (a leading `0`), base 60 (`1:30`) or decimal. Nil when the value does not fit an `Int`.
    static func integer(_ text: String) -> Int? {
        var digits = Substring(text.filter { $0 != "_" })
        var negative = false
        if let sign = digits.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        let magnitude: Int?
        if digits == "0" {
            magnitude = 0
        } else if digits.hasPrefix("0b") {
            magnitude = Int(digits.dropFirst(2), radix: 2)
        } else if digits.hasPrefix("0x") {
            magnitude = Int(digits.dropFirst(2), radix: 16)
        } else if digits.hasPrefix("0") {
            magnitude = Int(digits, radix: 8)
        } else if digits.contains(":") {
            magnitude = sexagesimal(digits)
        } else {
            magnitude = Int(digits)
        }
        guard let magnitude else { return nil }
        return negative ? -magnitude : magnitude
    }

    /// `1:30:05` read in base 60, nil on overflow.
    private static func sexagesimal(_ digits: Substring) -> Int? {
        var total = 0
        for part in digits.split(separator: ":", omittingEmptySubsequences: false) {
            guard let part = Int(part) else { return nil }
            let (shifted, shiftOverflow) = total.multipliedReportingOverflow(by: 60)
            let (sum, sumOverflow) = shifted.addingReportingOverflow(part)
            guard !shiftOverflow, !sumOverflow else { return nil }
            total = sum
        }
        return total
    }

    /// PyYAML's `construct_yaml_bool`.
    static func boolean(_ text: String) -> Bool? {
        if trueWords.contains(text) { return true }
        if falseWords.contains(text) { return false }
        return nil
    }

    private static let trueWords: Set = ["yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]
    private static let falseWords: Set = ["no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]
    private static let nullWords: Set = ["~", "null", "Null", "NULL"]
}
