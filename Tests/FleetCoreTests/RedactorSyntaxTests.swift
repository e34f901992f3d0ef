import PropertyBased
import Testing

@testable import FleetCore

private let token = Redactor.token

/// Secret assignments whose value is not in this process's environment (the cron case) are
/// redacted in every common syntax, and no cut keeps a recognisable piece of a secret (review of
/// issue 13).
@Suite struct RedactorSyntaxTests {
    static let name = "OPENAI_API_KEY"
    static let redactor = Redactor(secretNames: [name], environment: [:])

    /// One way of writing `NAME` = value: the text before the value, how the value is written,
    /// and the text after it.
    struct Syntax: Sendable, CustomTestStringConvertible {
        let label: String
        let before: String
        let encode: @Sendable (String) -> String
        let after: String
        /// Whether the value may hold any character (quoted forms) or only a shell word's.
        let quoted: Bool

        var testDescription: String { label }

        func text(_ value: String) -> String { before + encode(value) + after }
        var redacted: String { before + token + after }
    }

    static func jsonString(_ value: String) -> String {
        String(QuotedString.json.quoted(value).dropFirst().dropLast())
    }

    static func shellDoubleQuoted(_ value: String) -> String {
        var out = ""
        for character in value {
            if "\"\\$`".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    static let syntaxes: [Syntax] = [
        Syntax(label: "NAME=v", before: "run \(name)=", encode: { $0 }, after: " next", quoted: false),
        Syntax(label: "NAME = v", before: "\(name) = ", encode: { $0 }, after: " next", quoted: false),
        Syntax(label: "NAME:v", before: "\(name):", encode: { $0 }, after: " next", quoted: false),
        Syntax(
            label: "NAME: v (YAML)", before: "env:\n  \(name): ", encode: { $0 }, after: "\n  other: 1",
            quoted: false),
        Syntax(label: "NAME := v", before: "\(name) := ", encode: { $0 }, after: "\n", quoted: false),
        Syntax(
            label: "--name=v", before: "cli --openai-api-key=", encode: { $0 }, after: " --verbose",
            quoted: false),
        Syntax(
            label: "NAME=\"v\"", before: "\(name)=\"", encode: shellDoubleQuoted, after: "\" next",
            quoted: true),
        Syntax(
            label: "export NAME=\"v\"", before: "export \(name)=\"", encode: shellDoubleQuoted,
            after: "\"; x",
            quoted: true),
        Syntax(
            label: "NAME='v'", before: "\(name)='", encode: { $0 }, after: "' next", quoted: true),
        Syntax(
            label: "NAME: \"v\" (YAML)", before: "\(name): \"", encode: jsonString, after: "\"\nnext: 1",
            quoted: true),
        Syntax(
            label: "{\"NAME\": \"v\"}", before: "{\"\(name)\": \"", encode: jsonString,
            after: "\", \"x\": 1}",
            quoted: true),
        Syntax(
            label: "\"NAME\":\"v\" compact", before: "{\"a\":1,\"\(name)\":\"", encode: jsonString,
            after: "\",\"x\":1}", quoted: true),
        Syntax(
            label: "JSON inside a JSON string", before: "{\"log\":\"{\\\"\(name)\\\":\\\"",
            encode: { jsonString(jsonString($0)) }, after: "\\\"}\"}", quoted: true),
        Syntax(
            label: "name/value pair (YAML)", before: "env:\n- name: \(name)\n  value: \"", encode: jsonString,
            after: "\"\n- name: PATH", quoted: true),
        Syntax(
            label: "name/value pair (JSON)", before: "[{\"name\": \"\(name)\", \"value\": \"",
            encode: jsonString,
            after: "\"}]", quoted: true),
        Syntax(
            label: "name/value pair unquoted", before: "- name: \(name)\n  value: ", encode: { $0 },
            after: "\n- name: PATH", quoted: false),
        Syntax(
            label: "NAME => \"v\"", before: "{ \(name) => \"", encode: shellDoubleQuoted, after: "\" }",
            quoted: true),
    ]

    @Test(arguments: syntaxes)
    func everySyntaxIsRedacted(_ syntax: Syntax) {
        let value = "s3cr3t/V4lue+x=="
        #expect(Self.redactor.redact(syntax.text(value)) == syntax.redacted)
    }

    /// Values with quotes, backslashes and spaces inside quoted forms.
    @Test(arguments: syntaxes.filter(\.quoted))
    func awkwardQuotedValuesAreRedactedWhole(_ syntax: Syntax) {
        for value in [#"ab"cd"#, #"a\b"#, "with space", #"end\"#, "é日🙂", "x"]
        where !syntax.label.contains("'") {
            #expect(Self.redactor.redact(syntax.text(value)) == syntax.redacted, "\(value)")
        }
    }

    /// Characters a word of the shell can hold; an unquoted value starts with a letter or digit.
    static let wordCharacters = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/@%!#$^&*()<>?|;=")
    static let anyCharacters =
        wordCharacters + Array(" \"'\\`,:{}[]\t") + ["é", "日", "🙂"]

    @Test func randomValuesNeverSurviveAnySyntax() async {
        let word = Gen<Character?>.element(of: Self.wordCharacters).map { $0! }.string(of: 1...40)
        let any = Gen<Character?>.element(of: Self.anyCharacters).map { $0! }.string(of: 1...40)
        var runs = 0
        await propertyCheck(count: 300, input: word, any) { plain, awkward in
            runs += 1
            for syntax in Self.syntaxes {
                var value = syntax.quoted ? awkward : "v" + plain
                // Single quotes end where the next single quote is: the shell has no escape there.
                if syntax.label.contains("'") { value = value.filter { $0 != "'" && $0 != "\\" } }
                if value.isEmpty { continue }
                let text = syntax.text(value)
                #expect(
                    Self.redactor.redact(text) == syntax.redacted,
                    "\(syntax.label): \(text.debugDescription)")
            }
        }
        #expect(runs >= 300)
    }

    @Test(arguments: [
        (#"OPENAI_API_KEY="""#, #"OPENAI_API_KEY="""#),
        ("OPENAI_API_KEY=", "OPENAI_API_KEY="),
        ("OPENAI_API_KEY=\"open quote\nnext line", "OPENAI_API_KEY=\"\(token)\nnext line"),
        (#"{"OPENAI_API_KEY":12345,"x":1}"#, #"{"OPENAI_API_KEY":\#(token),"x":1}"#),
        ("openai_api_key: abc", "openai_api_key: \(token)"),
        ("Openai-Api-Key: abc", "Openai-Api-Key: \(token)"),
        ("OPENAI_API_KEY=abc\"def\" next", "OPENAI_API_KEY=\(token) next"),
        ("--openai-api-key-file=/path", "--openai-api-key-file=/path"),
        ("the OPENAI_API_KEY is set", "the OPENAI_API_KEY is set"),
        ("name: OPENAI_API_KEY\nvalues: [1]", "name: OPENAI_API_KEY\nvalues: [1]"),
        (#"{"name":"OPENAI_API_KEY","value":123}"#, #"{"name":"OPENAI_API_KEY","value":\#(token)}"#),
        ("OPENAI_API_KEY=pass\\ word next", "OPENAI_API_KEY=\(token) next"),
        ("OPENAI_API_KEY: |\n  line-one\n\n  line-two\nnext: 1", "OPENAI_API_KEY: \(token)\nnext: 1"),
        ("OPENAI_API_KEY: >-\n  folded\n", "OPENAI_API_KEY: \(token)\n"),
        ("OPENAI_API_KEY: \"spans\n  two lines\"\nnext: 1", "OPENAI_API_KEY: \"\(token)\"\nnext: 1"),
        ("OPENAI_API_KEY: |x\n  kept", "OPENAI_API_KEY: \(token)\n  kept"),
        (
            "env:\n  OPENAI_API_KEY: |\n    deeper\n  other: kept",
            "env:\n  OPENAI_API_KEY: \(token)\n  other: kept"
        ),
    ])
    func edges(_ input: String, _ expected: String) {
        #expect(Self.redactor.redact(input) == expected)
    }

    /// A runner's JSON report carries the name and the value as separate strings.
    @Test func valuesUnderSecretKeysInJSONAreMasked() throws {
        let report: JSONValue = [
            "env": ["OPENAI_API_KEY": "plain-value", "openai-api-key": 42, "PATH": "/usr/bin"],
            "list": [["OPENAI_API_KEY": ["nested": "deep-value"]]],
            "OPENAI_API_KEY": .null,
            "containers": [
                [
                    "env": [
                        ["name": "OPENAI_API_KEY", "value": "k8s-value"], ["name": "PATH", "value": "/bin"],
                    ]
                ]
            ],
        ]
        let text = Self.redactor.serialized(report)
        #expect(!text.contains("plain-value"))
        #expect(!text.contains("42"))
        #expect(!text.contains("deep-value"))
        let parsed = try JSONValue.parse(text)
        #expect(parsed["env"]?["OPENAI_API_KEY"] == .string(token))
        #expect(parsed["env"]?["PATH"] == "/usr/bin")
        #expect(parsed["OPENAI_API_KEY"] == .null)
        #expect(!text.contains("k8s-value"))
        #expect(text.contains(#"{"name":"PATH","value":"/bin"}"#))
    }

    // MARK: Cuts

    /// Filler words never share a character with the secrets, so any 8-character piece of a
    /// secret in the output can only come from the secret.
    static let fillerCharacters = Array("abcdefghijklmnopqrstuvwxyz")
    static let secretCharacters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+/=")

    static func pieces(of secret: String, length: Int = 8) -> [String] {
        let characters = Array(secret)
        guard characters.count >= length else { return [] }
        return (0...(characters.count - length)).map { String(characters[$0..<$0 + length]) }
    }

    @Test func noEightCharacterPieceOfASecretSurvivesACut() async {
        let secret = Gen<Character?>.element(of: Self.secretCharacters).map { $0! }.string(of: 8...48)
        let filler = Gen<Character?>.element(of: Self.fillerCharacters + [" ", "\n", "\t"]).map { $0! }
            .string(of: 0...80)
        let cut = Gen<Int>.int(in: 0...200)
        var runs = 0
        await propertyCheck(count: 500, input: secret, filler, cut) { secret, filler, cutPoint in
            runs += 1
            let redactor = Redactor(secretNames: ["TOKEN"], environment: ["TOKEN": secret])
            let text = filler + " " + secret + " " + filler + " TOKEN=" + secret + " end"
            let shown = redactor.redact(TextCut.excerpt(text, limit: cutPoint))
            for piece in Self.pieces(of: secret) where shown.contains(piece) {
                Issue.record("\(piece) of \(secret) survives a cut at \(cutPoint): \(shown.debugDescription)")
            }
        }
        #expect(runs >= 500)
    }
}
