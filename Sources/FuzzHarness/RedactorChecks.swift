import FleetCore

/// A redactor fuzz input: the secrets, then the text to redact.
///
/// Before the first U+0001 byte come the secrets, one `NAME=value` a line (`NAME` alone: a name with
/// no value in the environment; U+0002 in a value stands for a newline, so values can span lines).
/// After it comes the text. Without U+0001 the whole input is the text, redacted with
/// `RedactorInput.defaultSecrets`.
public struct RedactorInput: Sendable {
    public var names: [String]
    public var environment: [String: String]
    public var text: String

    public static let defaultSecrets: [(String, String?)] = [
        ("OPENAI_API_KEY", "sk-test-0123456789abcdef"),
        ("GITHUB_TOKEN", "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"),
        ("DB_PASSWORD", "correct horse battery staple"),
        ("SSH_KEY", "-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQAB\n-----END KEY-----"),
        ("SHORT", "short"),
        ("NAME_ONLY", nil),
    ]

    public init(_ input: String) {
        let scalars = Array(input.unicodeScalars)
        guard let split = scalars.firstIndex(of: "\u{1}") else {
            names = Self.defaultSecrets.map(\.0)
            environment = [:]
            for case (let name, let value?) in Self.defaultSecrets { environment[name] = value }
            text = input
            return
        }
        text = Self.string(scalars[(split + 1)...])
        names = []
        environment = [:]
        // Lines split on U+000A itself (a Character split would keep `\r\n` together).
        for line in scalars[..<split].split(separator: "\n", omittingEmptySubsequences: true) {
            if let equals = line.firstIndex(of: "=") {
                let name = Self.string(line[..<equals])
                names.append(name)
                environment[name] = Self.string(line[(equals + 1)...]).replacingAll("\u{2}", with: "\n")
            } else {
                names.append(Self.string(line))
            }
        }
    }

    static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    /// The literal values the redactor removes: each configured value of 8 characters or more and
    /// each such line of a multi-line value.
    public var literals: [String] {
        var values: [String] = []
        for name in names {
            guard let value = environment[name] else { continue }
            for candidate in [value] + value.split(whereSeparator: \.isNewline).map(String.init)
            where candidate.unicodeScalars.count >= 8 {
                values.append(candidate)
            }
        }
        return values
    }
}

/// Every token shape prefix; the bearer one matches case-insensitively.
let shapePrefixes = [
    "sk-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xoxb-", "xoxa-", "xoxp-", "xoxr-", "AKIA",
    "ASIA",
]

extension FuzzHarness {
    /// Redaction invariants that hold under the reference's semantics:
    /// 1. no configured literal secret remains in the output, unless the secret itself is made of
    ///    the token's characters (a value containing `*`, or `REDACTED`, can reappear as part of
    ///    the token);
    /// 2. with such secrets excluded, the output is at most 14 times the input (each replacement
    ///    takes at least one character and puts the 14-character token);
    /// 3. text that contains no secret name, no literal secret and no token-shape prefix is left
    ///    exactly as it was;
    /// 4. the redactor applied as a JSON serialization transform gives the same strings.
    ///
    /// Redaction is deliberately not checked for idempotence: like the reference, a second pass can
    /// redact more (`zzzzzzzzNAME=v` with the secret `zzzzzzzz`: the first pass turns the literal into
    /// the token, which puts a word boundary before `NAME=v` for the second pass).
    static func checkRedactor(_ input: RedactorInput, _ findings: inout Findings) {
        let redactor = Redactor(secretNames: input.names, environment: input.environment)
        let output = redactor.redact(input.text)
        let outScalars = Array(output.unicodeScalars)
        let inScalars = Array(input.text.unicodeScalars)
        let shown = String(reflecting: input.text)

        let literals = input.literals
        let wellFormed = literals.filter {
            !$0.contains("*") && !$0.unicodeScalars.elementsEqual("REDACTED".unicodeScalars)
        }
        for literal in wellFormed where contains(outScalars, Array(literal.unicodeScalars)) {
            findings.expect(false, "secret \(String(reflecting: literal)) survives redaction of \(shown)")
        }
        if wellFormed.count == literals.count {
            findings.expect(
                outScalars.count <= 14 * inScalars.count,
                "output grew from \(inScalars.count) to \(outScalars.count) characters: \(shown)")
        }

        // Names match without case and with `-` and `_` alike.
        func folded(_ text: String) -> [Unicode.Scalar] {
            Array(text.lowercased().replacingAll("-", with: "_").unicodeScalars)
        }
        let lowered = Array(input.text.lowercased().unicodeScalars)
        let foldedText = folded(input.text)
        let triggers = literals + shapePrefixes
        let untouched =
            !triggers.contains { contains(inScalars, Array($0.unicodeScalars)) }
            && !input.names.contains { !$0.isEmpty && contains(foldedText, folded($0)) }
            && !contains(lowered, Array("bearer ".unicodeScalars))
            && !contains(inScalars, Array("bearer ".unicodeScalars))
        if untouched {
            findings.expect(
                outScalars == inScalars,
                "text without secrets was changed: \(shown) -> \(String(reflecting: output))")
        }

        let document: JSONValue = [input.text: .array([.string(input.text), .int(1)])]
        let serialized = document.serialized(transform: { redactor.redact($0) })
        findings.expect(
            (try? JSONValue.parse(serialized)) == [output: .array([.string(output), .int(1)])],
            "redacting transform differs from redact(): \(serialized)")
    }

    static func contains(_ haystack: [Unicode.Scalar], _ needle: [Unicode.Scalar]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return needle.isEmpty }
        var index = 0
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0], haystack[index..<index + needle.count].elementsEqual(needle) {
                return true
            }
            index += 1
        }
        return false
    }
}
