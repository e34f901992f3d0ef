/// How a POSIX shell splits a command line, to the depth the remote command checks need: words
/// with their quotes removed, operators, here-documents and comments. A word is `literal` when the
/// shell would take it as written: no parameter or command substitution, no glob, no tilde.
///
/// The checks compare a command built from harmless values with the same command built from
/// hostile ones: quoting is right exactly when both split into the same operators and the same
/// words, each hostile value standing where its harmless twin stood.
public struct ShellToken: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case word(literal: Bool)
        case `operator`
    }

    public var kind: Kind
    public var text: String

    public var isWord: Bool { if case .word = kind { true } else { false } }
    public var description: String {
        switch kind {
        case .word(let literal): literal ? "«\(text)»" : "«\(text)»(expands)"
        case .operator: text == "\n" ? "⏎" : text
        }
    }
}

public enum ShellStructure {
    public enum Failure: Error, Equatable { case unterminatedQuote, unterminatedHereDocument }

    static let operators = [
        "&&", "||", ";;", "<<", ">>", ">&", "<&", ">|", ";", "&", "|", "(", ")", "<", ">",
    ]

    /// Splits `text` as `sh -c` would before expanding anything.
    public static func tokens(_ text: String) throws(Failure) -> [ShellToken] {
        var scanner = Scanner(Array(text.unicodeScalars))
        return try scanner.run()
    }

    private struct Scanner {
        let source: [Unicode.Scalar]
        var index = 0
        var tokens: [ShellToken] = []
        var pendingHereDocuments: [(delimiter: String, quoted: Bool)] = []

        init(_ source: [Unicode.Scalar]) { self.source = source }

        func peek(_ offset: Int = 0) -> Unicode.Scalar? {
            index + offset < source.count ? source[index + offset] : nil
        }

        mutating func run() throws(Failure) -> [ShellToken] {
            while let scalar = peek() {
                switch scalar {
                case " ", "\t":
                    index += 1
                case "\n":
                    index += 1
                    tokens.append(ShellToken(kind: .operator, text: "\n"))
                    try readHereDocuments()
                case "#":
                    while let next = peek(), next != "\n" { index += 1 }
                default:
                    if let op = matchOperator() {
                        index += op.unicodeScalars.count
                        tokens.append(ShellToken(kind: .operator, text: op))
                        if op == "<<" { try readHereDocumentDelimiter() }
                    } else {
                        try readWord()
                    }
                }
            }
            if !pendingHereDocuments.isEmpty { throw .unterminatedHereDocument }
            return tokens
        }

        func matchOperator() -> String? {
            ShellStructure.operators.first { op in
                op.unicodeScalars.enumerated().allSatisfy { peek($0.offset) == $0.element }
            }
        }

        static func endsWord(_ scalar: Unicode.Scalar) -> Bool {
            " \t\n;&|()<>".unicodeScalars.contains(scalar)
        }

        mutating func readWord() throws(Failure) {
            let word = try scanWord()
            // A bare number right before a redirection is its descriptor, part of the operator.
            if !word.quoted, word.literal, peek() == ">" || peek() == "<", !word.text.isEmpty,
                word.text.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) })
            {
                tokens.append(ShellToken(kind: .operator, text: word.text))
                return
            }
            tokens.append(ShellToken(kind: .word(literal: word.literal), text: word.text))
        }

        /// One word: its text with quotes removed, whether anything in it expands, and whether any
        /// part of it was quoted (which makes a here-document literal).
        mutating func scanWord() throws(Failure) -> (text: String, literal: Bool, quoted: Bool) {
            var text = String.UnicodeScalarView()
            var literal = true
            var quoted = false
            let start = index
            while let scalar = peek(), !Self.endsWord(scalar) {
                switch scalar {
                case "'":
                    quoted = true
                    index += 1
                    while let next = peek(), next != "'" {
                        text.append(next)
                        index += 1
                    }
                    guard peek() == "'" else { throw .unterminatedQuote }
                    index += 1
                case "\"":
                    quoted = true
                    index += 1
                    while let next = peek(), next != "\"" {
                        if next == "\\", let escaped = peek(1), "$`\"\\\n".unicodeScalars.contains(escaped) {
                            if escaped != "\n" { text.append(escaped) }
                            index += 2
                            continue
                        }
                        if next == "$" || next == "`" { literal = false }
                        text.append(next)
                        index += 1
                    }
                    guard peek() == "\"" else { throw .unterminatedQuote }
                    index += 1
                case "\\":
                    quoted = true
                    if let escaped = peek(1), escaped != "\n" { text.append(escaped) }
                    index += 2
                default:
                    if "$`*?[{".unicodeScalars.contains(scalar) || (scalar == "~" && index == start) {
                        literal = false
                    }
                    text.append(scalar)
                    index += 1
                }
            }
            return (String(text), literal, quoted)
        }

        mutating func readHereDocumentDelimiter() throws(Failure) {
            while peek() == " " || peek() == "\t" { index += 1 }
            let word = try scanWord()
            tokens.append(ShellToken(kind: .word(literal: true), text: word.text))
            pendingHereDocuments.append((word.text, word.quoted))
        }

        /// The bodies of the here-documents opened on the line just ended, each one literal word
        /// when its delimiter was quoted.
        mutating func readHereDocuments() throws(Failure) {
            while !pendingHereDocuments.isEmpty {
                let (delimiter, quoted) = pendingHereDocuments.removeFirst()
                var body = String.UnicodeScalarView()
                var found = false
                while index < source.count {
                    var line = String.UnicodeScalarView()
                    while let scalar = peek(), scalar != "\n" {
                        line.append(scalar)
                        index += 1
                    }
                    if peek() == "\n" { index += 1 }
                    if String(line) == delimiter {
                        found = true
                        break
                    }
                    body.append(contentsOf: line)
                    body.append("\n")
                }
                guard found else { throw .unterminatedHereDocument }
                let text = String(body)
                tokens.append(
                    ShellToken(
                        kind: .word(
                            literal: quoted || !text.unicodeScalars.contains { $0 == "$" || $0 == "`" }),
                        text: text))
            }
        }
    }
}
