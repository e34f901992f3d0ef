/// Removes secrets from every text that can leave the process (cloud reference §9, applied
/// everywhere as §12.2 asks). Three passes, in the reference's order:
/// 1. `NAME=value` / `NAME: value` assignments of the configured secret names;
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

    private func assignmentEnd(_ text: [Unicode.Scalar], at start: Int) -> (valueStart: Int, valueEnd: Int)? {
        for name in names {
            guard Self.isBoundary(text, start), start + name.count <= text.count,
                text[start..<start + name.count].elementsEqual(name)
            else { continue }
            var cursor = start + name.count
            while cursor < text.count, text[cursor].properties.isWhitespace { cursor += 1 }
            guard cursor < text.count, text[cursor] == ":" || text[cursor] == "=" else { continue }
            cursor += 1
            while cursor < text.count, text[cursor].properties.isWhitespace { cursor += 1 }
            let valueStart = cursor
            while cursor < text.count, !text[cursor].properties.isWhitespace, text[cursor] != "\"",
                text[cursor] != "'"
            {
                cursor += 1
            }
            if cursor > valueStart { return (valueStart, cursor) }
        }
        return nil
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
