/// Removes secrets from every text that can leave the process (cloud reference §9, applied
/// everywhere as §12.2 asks). Three passes, in the reference's order:
/// 1. assignments of the configured secret names, in every common syntax (see `assignmentEnd`);
/// 2. the literal environment values of those names, 8 characters or longer, longest first
///    (each line of a multi-line value counts on its own too, so line-by-line streams are covered);
/// 3. well-known token shapes: the reference's `sk-`, `ghp_`, `xoxb-`, plus GitHub fine-grained and
///    app tokens, Slack tokens, AWS access key ids and `Bearer` credentials.
public struct Redactor: Sendable {
    public static let token = "***REDACTED***"

    private let names: [[Unicode.Scalar]]
    private let literals: [[Unicode.Scalar]]

    /// No secret names: only the token shapes apply.
    public static let shapesOnly = Redactor(secretNames: [], environment: [:])

    public init(secretNames: [String], environment: [String: String]) {
        names = secretNames.map { Array($0.unicodeScalars) }.filter { !$0.isEmpty }
        var values: [String] = []
        for name in secretNames {
            guard let value = environment[name] else { continue }
            for candidate in [value] + value.split(whereSeparator: \.isNewline).map(String.init)
            where candidate.unicodeScalars.count >= 8 && !values.contains(candidate) {
                values.append(candidate)
            }
        }
        literals = values.map { Array($0.unicodeScalars) }.enumerated()
            .sorted {
                $0.element.count != $1.element.count
                    ? $0.element.count > $1.element.count : $0.offset < $1.offset
            }
            .map(\.element)
    }

    public func redact(_ text: String) -> String {
        var scalars = Array(text.unicodeScalars)
        if !names.isEmpty { scalars = redactAssignments(scalars) }
        for literal in literals { scalars = replaceLiteral(literal, in: scalars) }
        scalars = redactShapes(scalars)
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// `value` serialized with every string redacted and every value under a key that is a
    /// secret name replaced by the token: in a runner's JSON report `{"NAME": "value"}` the name
    /// and the value are separate strings, which no text pass could pair.
    public func serialized(_ value: JSONValue, _ style: JSONStyle = .compact) -> String {
        maskingSecretFields(value).serialized(style, transform: redact)
    }

    /// Masks values under secret-named keys, and the `value` of an object whose `name` (or
    /// `key`) is a secret name (`{"name": "NAME", "value": "v"}`, as Kubernetes writes `env`).
    func maskingSecretFields(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object) where !names.isEmpty:
            let namesASecret = object.entries.contains {
                ["name", "key"].contains($0.key.lowercased())
                    && $0.value.stringValue.map(isSecretName) == true
            }
            return .object(
                JSONObject(
                    uniqueEntries: object.entries.map { entry in
                        let secret =
                            isSecretName(entry.key) || (namesASecret && entry.key.lowercased() == "value")
                        let masked: JSONValue =
                            secret && entry.value != .null
                            ? .string(Self.token) : maskingSecretFields(entry.value)
                        return (entry.key, masked)
                    }))
        case .array(let items) where !names.isEmpty: return .array(items.map(maskingSecretFields))
        default: return value
        }
    }

    // MARK: Pass 1: assignments

    private func redactAssignments(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            if let end = assignmentEnd(text, at: index) {
                out.append(contentsOf: text[index..<end.valueStart])
                out.append(contentsOf: Self.token.unicodeScalars)
                index = end.valueEnd
            } else {
                out.append(text[index])
                index += 1
            }
        }
        return out
    }

    /// The value of a secret name's assignment starting at `start`, in any common syntax:
    /// `NAME=v`, `NAME = v`, `NAME:v`, `NAME: "v"`, `export NAME='v'`, `"NAME": "v"`,
    /// `\"NAME\":\"v\"` (JSON inside a JSON string), `NAME := v`, `NAME => v`, `--name=v`. Names
    /// match ignoring case, with `-` and `_` alike. A quoted value runs to its closing quote
    /// (escaped quotes skipped, line breaks allowed) or the end of its line; a YAML block scalar
    /// (`NAME: |`) over its indented lines; any other value to the next whitespace, quotes
    /// included, so no part of a shell word survives.
    private func assignmentEnd(_ text: [Unicode.Scalar], at start: Int) -> (valueStart: Int, valueEnd: Int)? {
        guard Self.isBoundary(text, start) else { return nil }
        for name in names {
            guard let afterName = Self.matchName(name, text, at: start) else { continue }
            var cursor = afterName
            // The closing quote of a quoted key (`"NAME":`, `\"NAME\":`).
            let keyQuote = Self.quote(text, at: cursor)
            if let keyQuote { cursor += keyQuote.length }
            var quotedKey = keyQuote != nil
            cursor = Self.skipWhitespace(text, from: cursor)
            if let separator = Self.separatorLength(text, at: cursor) {
                cursor += separator
            } else if let field = Self.valueFieldSeparatorEnd(text, from: cursor) {
                // The name given as a value, its value in the `value` field that follows
                // (`- name: NAME` / `value: v`, `{"name": "NAME", "value": "v"}`).
                cursor = field.end
                quotedKey = field.quoted
            } else {
                continue
            }
            cursor = Self.skipWhitespace(text, from: cursor)
            guard cursor < text.count else { continue }
            if let quote = Self.quote(text, at: cursor) {
                let valueStart = cursor + quote.length
                let valueEnd = Self.quotedEnd(text, from: valueStart, quote: quote)
                if valueEnd > valueStart { return (valueStart, valueEnd) }
                continue
            }
            // An unquoted value after a quoted key (JSON, a YAML flow mapping) ends before the
            // punctuation that closes it.
            // A backslash keeps the next character in the word (`NAME=pass\ word`).
            var valueEnd = cursor
            while valueEnd < text.count, !text[valueEnd].properties.isWhitespace,
                !quotedKey || !",}]".unicodeScalars.contains(text[valueEnd])
            {
                let escapes =
                    text[valueEnd] == "\\" && valueEnd + 1 < text.count && text[valueEnd + 1] != "\n"
                valueEnd += escapes ? 2 : 1
            }
            guard valueEnd > cursor else { continue }
            return (cursor, Self.blockScalarEnd(text, indicator: cursor..<valueEnd, keyAt: start) ?? valueEnd)
        }
        return nil
    }

    /// The end of `name` at `start`, compared without case and with `-` and `_` alike.
    static func matchName(_ name: [Unicode.Scalar], _ text: [Unicode.Scalar], at start: Int) -> Int? {
        guard start + name.count <= text.count,
            text[start..<start + name.count].elementsEqual(name, by: { nameFold($0) == nameFold($1) })
        else { return nil }
        return start + name.count
    }

    /// Whether a whole string (a JSON key) is one of the secret names.
    func isSecretName(_ key: String) -> Bool {
        let scalars = Array(key.unicodeScalars)
        return names.contains { $0.count == scalars.count && Self.matchName($0, scalars, at: 0) != nil }
    }

    private static func nameFold(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        scalar == "-" ? "_" : lower(scalar)
    }

    /// After a secret name given as a value, the `value` field of the same mapping: the end of
    /// its separator, and whether the field's name is quoted. Nil when no such field follows.
    private static func valueFieldSeparatorEnd(_ text: [Unicode.Scalar], from start: Int) -> (
        end: Int, quoted: Bool
    )? {
        var cursor = start
        if cursor < text.count, text[cursor] == "," { cursor = skipWhitespace(text, from: cursor + 1) }
        let open = quote(text, at: cursor)
        if let open { cursor += open.length }
        let field = Array("value".unicodeScalars)
        guard cursor + field.count <= text.count,
            text[cursor..<cursor + field.count].elementsEqual(field, by: { lower($0) == $1 })
        else { return nil }
        cursor += field.count
        if let open {
            guard let close = quote(text, at: cursor), close.mark == open.mark, close.escaped == open.escaped
            else { return nil }
            cursor += close.length
        } else if cursor < text.count, isWord(text[cursor]) {
            return nil
        }
        cursor = skipWhitespace(text, from: cursor)
        guard let separator = separatorLength(text, at: cursor) else { return nil }
        return (cursor + separator, open != nil)
    }

    private static func skipWhitespace(_ text: [Unicode.Scalar], from start: Int) -> Int {
        var cursor = start
        while cursor < text.count, text[cursor].properties.isWhitespace { cursor += 1 }
        return cursor
    }

    /// `=`, `:`, `:=` or `=>`, as its length.
    private static func separatorLength(_ text: [Unicode.Scalar], at index: Int) -> Int? {
        guard index < text.count, text[index] == "=" || text[index] == ":" else { return nil }
        if index + 1 < text.count,
            (text[index], text[index + 1]) == (":", "=") || (text[index], text[index + 1]) == ("=", ">")
        {
            return 2
        }
        return 1
    }

    /// A quote: `"` or `'`, or one escaped with a backslash (the text is itself inside a string).
    private struct Quote {
        let mark: Unicode.Scalar
        let escaped: Bool
        var length: Int { escaped ? 2 : 1 }
    }

    private static func quote(_ text: [Unicode.Scalar], at index: Int) -> Quote? {
        guard index < text.count else { return nil }
        if text[index] == "\"" || text[index] == "'" { return Quote(mark: text[index], escaped: false) }
        if text[index] == "\\", index + 1 < text.count, text[index + 1] == "\"" || text[index + 1] == "'" {
            return Quote(mark: text[index + 1], escaped: true)
        }
        return nil
    }

    /// How far a quoted value may run over line breaks looking for its closing quote (a YAML or
    /// Python string can span lines); past it, an unclosed value ends with its line.
    static let quotedSpan = 4096

    /// Where a quoted value ends: at its closing quote, stepping over backslash escapes; an escaped
    /// quote's value is read through one level of backslash escaping first. Without a closing
    /// quote within `quotedSpan` characters, at the end of its first line.
    private static func quotedEnd(_ text: [Unicode.Scalar], from start: Int, quote: Quote) -> Int {
        var cursor = start
        var escapeNext = false
        while cursor < text.count, cursor - start < quotedSpan {
            // One character of the value, and where it starts in the text.
            let position = cursor
            var character = text[cursor]
            if quote.escaped, character == "\\", cursor + 1 < text.count {
                cursor += 1
                character = text[cursor]
                if character == quote.mark, !escapeNext { return position }
            } else if !quote.escaped, character == quote.mark, !escapeNext {
                return position
            }
            escapeNext = !escapeNext && character == "\\"
            cursor += 1
        }
        return text[start..<cursor].firstIndex(of: "\n") ?? cursor
    }

    /// A YAML block scalar (`NAME: |`, `>-`, ...): its value is the following lines indented more
    /// than the key's line. The end of the last of them, or nil when `indicator` is not one.
    private static func blockScalarEnd(_ text: [Unicode.Scalar], indicator: Range<Int>, keyAt key: Int)
        -> Int?
    {
        // The indicator ends its line: this also keeps the look back for the key's indentation
        // within one line per match, so hostile text cannot make the pass quadratic.
        let marks = text[indicator]
        guard indicator.upperBound < text.count, text[indicator.upperBound] == "\n",
            let first = marks.first, first == "|" || first == ">", marks.count <= 3,
            marks.dropFirst().allSatisfy({ $0 == "-" || $0 == "+" || ("1"..."9").contains($0) })
        else { return nil }
        func indentation(from lineStart: Int) -> Int {
            var cursor = lineStart
            while cursor < text.count, text[cursor] == " " || text[cursor] == "\t" { cursor += 1 }
            return cursor - lineStart
        }
        let keyLine = (text[..<key].lastIndex(of: "\n") ?? -1) + 1
        let keyIndent = indentation(from: keyLine)
        var end = indicator.upperBound
        var lineBreak = end
        // Each following line that is blank or indented deeper than the key belongs to the value.
        while lineBreak < text.count, text[lineBreak] == "\n" {
            let lineStart = lineBreak + 1
            var next = lineStart
            while next < text.count, text[next] != "\n" { next += 1 }
            let blank = text[lineStart..<next].allSatisfy { $0 == " " || $0 == "\t" }
            guard blank || indentation(from: lineStart) > keyIndent else { break }
            // Blank lines belong to the value only when an indented line follows them.
            if !blank { end = next }
            lineBreak = next
        }
        return end
    }

    // MARK: Pass 2: literal values

    private func replaceLiteral(_ literal: [Unicode.Scalar], in text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.count >= literal.count else { return text }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var index = 0
        while index < text.count {
            if text[index] == literal[0], index + literal.count <= text.count,
                text[index..<index + literal.count].elementsEqual(literal)
            {
                out.append(contentsOf: Self.token.unicodeScalars)
                index += literal.count
            } else {
                out.append(text[index])
                index += 1
            }
        }
        return out
    }

    // MARK: Pass 3: token shapes

    /// A token shape: a literal prefix, then a run of allowed characters, ending on a word
    /// boundary (found by backtracking, as the reference's regular expressions do).
    private struct Shape: Sendable {
        let prefixes: [[Unicode.Scalar]]
        let allowed: @Sendable (Unicode.Scalar) -> Bool
        let minimumRun: Int
        let exactRun: Int?
        /// The prefix stays visible (`Bearer ` keeps the scheme word).
        let keepPrefix: Bool
        let caseInsensitivePrefix: Bool
        /// Whether the run must end on a word boundary. A bearer credential may end in `=`, `+` or
        /// `/` (base64), so it takes the whole run instead of stopping before its last characters.
        let endsOnBoundary: Bool

        init(
            _ prefixes: [String], minimumRun: Int = 1, exactRun: Int? = nil, keepPrefix: Bool = false,
            caseInsensitivePrefix: Bool = false, endsOnBoundary: Bool = true,
            allowed: @escaping @Sendable (Unicode.Scalar) -> Bool
        ) {
            self.prefixes = prefixes.map { Array($0.unicodeScalars) }
            self.allowed = allowed
            self.minimumRun = minimumRun
            self.exactRun = exactRun
            self.keepPrefix = keepPrefix
            self.caseInsensitivePrefix = caseInsensitivePrefix
            self.endsOnBoundary = endsOnBoundary
        }
    }

    private static func alnum(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9": true
        default: false
        }
    }

    private static let shapes: [Shape] = [
        Shape(["sk-"]) { alnum($0) || $0 == "_" || $0 == "-" },
        Shape(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) { alnum($0) },
        Shape(["github_pat_"]) { alnum($0) || $0 == "_" },
        Shape(["xoxb-", "xoxa-", "xoxp-", "xoxr-"]) { alnum($0) || $0 == "-" },
        Shape(["AKIA", "ASIA"], exactRun: 16) { ("A"..."Z").contains($0) || ("0"..."9").contains($0) },
        Shape(
            ["bearer "], minimumRun: 8, keepPrefix: true, caseInsensitivePrefix: true, endsOnBoundary: false
        ) {
            alnum($0) || "-._~+/=".unicodeScalars.contains($0)
        },
    ]

    private func redactShapes(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var index = 0
        scan: while index < text.count {
            if Self.isBoundary(text, index) {
                for shape in Self.shapes {
                    if let (prefixLength, end) = Self.match(shape, text, at: index) {
                        if shape.keepPrefix { out.append(contentsOf: text[index..<index + prefixLength]) }
                        out.append(contentsOf: Self.token.unicodeScalars)
                        index = end
                        continue scan
                    }
                }
            }
            out.append(text[index])
            index += 1
        }
        return out
    }

    private static func match(_ shape: Shape, _ text: [Unicode.Scalar], at start: Int) -> (Int, Int)? {
        for prefix in shape.prefixes {
            guard start + prefix.count <= text.count else { continue }
            let candidate = text[start..<start + prefix.count]
            let matches =
                shape.caseInsensitivePrefix
                ? candidate.elementsEqual(prefix) { lower($0) == lower($1) }
                : candidate.elementsEqual(prefix)
            guard matches else { continue }
            let runStart = start + prefix.count
            var runEnd = runStart
            while runEnd < text.count, shape.allowed(text[runEnd]) { runEnd += 1 }
            if let exact = shape.exactRun {
                guard runEnd - runStart >= exact else { continue }
                runEnd = runStart + exact
                if isBoundary(text, runEnd) { return (prefix.count, runEnd) }
                continue
            }
            if !shape.endsOnBoundary {
                if runEnd - runStart >= shape.minimumRun { return (prefix.count, runEnd) }
                continue
            }
            // Backtrack to the longest run that ends on a word boundary.
            var end = runEnd
            while end - runStart >= shape.minimumRun {
                if isBoundary(text, end) { return (prefix.count, end) }
                end -= 1
            }
        }
        return nil
    }

    private static func lower(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
    }

    /// Python's `\b` for `str` patterns: a change between word and non-word characters.
    static func isBoundary(_ text: [Unicode.Scalar], _ index: Int) -> Bool {
        let before = index > 0 && isWord(text[index - 1])
        let after = index < text.count && isWord(text[index])
        return before != after
    }

    static func isWord(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "_" { return true }
        if scalar.value < 0x80 { return alnum(scalar) }
        let properties = scalar.properties
        return properties.isAlphabetic || properties.numericType != nil
    }
}
