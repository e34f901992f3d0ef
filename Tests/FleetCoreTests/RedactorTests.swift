import Testing

@testable import FleetCore

private let token = "***REDACTED***"

@Suite struct RedactorTests {
    /// Cloud reference §9 examples and the assignment rule (names only, empty environment). Quoted
    /// values, any case of the name and the rest of a shell word are redacted too, deliberately
    /// beyond the reference (see `RedactorSyntaxTests`).
    @Test(arguments: [
        (["OPENAI_API_KEY"], "OPENAI_API_KEY = abc def", "OPENAI_API_KEY = ***REDACTED*** def"),
        (["OPENAI_API_KEY"], "OPENAI_API_KEY=abc", "OPENAI_API_KEY=***REDACTED***"),
        (["OPENAI_API_KEY"], "OPENAI_API_KEY: abc", "OPENAI_API_KEY: ***REDACTED***"),
        (["OPENAI_API_KEY"], "export OPENAI_API_KEY=abc; next", "export OPENAI_API_KEY=***REDACTED*** next"),
        (["OPENAI_API_KEY"], #"OPENAI_API_KEY="abc""#, #"OPENAI_API_KEY="***REDACTED***""#),
        (["OPENAI_API_KEY"], "OPENAI_API_KEY='abc'", "OPENAI_API_KEY='***REDACTED***'"),
        (["OPENAI_API_KEY"], "MY_OPENAI_API_KEY=x", "MY_OPENAI_API_KEY=x"),
        (["OPENAI_API_KEY"], "OPENAI_API_KEY_OLD=x", "OPENAI_API_KEY_OLD=x"),
        (["OPENAI_API_KEY"], "openai_api_key=x", "openai_api_key=***REDACTED***"),
        (["OPENAI_API_KEY"], "OPENAI_API_KEY", "OPENAI_API_KEY"),
        (["OPENAI_API_KEY"], "OPENAI_API_KEY=", "OPENAI_API_KEY="),
        (["OPENAI_API_KEY"], "OPENAI_API_KEY=\nvalue", "OPENAI_API_KEY=\n***REDACTED***"),
        (["GITHUB_TOKEN"], "GITHUB_TOKEN=abc'rest", "GITHUB_TOKEN=***REDACTED***"),
        (["A", "B"], "A=1 B=2 C=3", "A=***REDACTED*** B=***REDACTED*** C=3"),
        (["API", "API_KEY"], "API_KEY=x API=y", "API_KEY=***REDACTED*** API=***REDACTED***"),
        (["A.B"], "A.B=1 AxB=2", "A.B=***REDACTED*** AxB=2"),
        ([], "OPENAI_API_KEY=abc", "OPENAI_API_KEY=abc"),
    ])
    func assignments(_ names: [String], _ input: String, _ expected: String) {
        #expect(Redactor(secretNames: names, environment: [:]).redact(input) == expected)
    }

    /// Token shapes: the reference's three and the added ones.
    @Test(arguments: [
        ("sk-abc-", "***REDACTED***-"),
        ("key sk-abc123XYZ_-9 end", "key ***REDACTED*** end"),
        ("task-123", "task-123"),
        ("ask-me", "ask-me"),
        ("ghp_abc_def", "ghp_abc_def"),
        ("ghp_abcDEF123", token),
        ("(ghp_abcDEF123)", "(***REDACTED***)"),
        ("gho_abc123", token),
        ("ghu_abc123", token),
        ("ghs_abc123", token),
        ("ghr_abc123", token),
        ("gho_abc_def", "gho_abc_def"),
        ("github_pat_11ABCDEFG0_abcdefXYZ", token),
        ("sk-ant-api03-AbC_dEf-123", token),
        ("sk-proj-AbC123_x-y", token),
        ("xoxb-123-456-abc", token),
        ("xoxa-2-abc", token),
        ("xoxp-1-2-3", token),
        ("xoxr-refresh-1", token),
        ("xoxq-1", "xoxq-1"),
        ("AKIAIOSFODNN7EXAMPLE", token),
        ("id=ASIAIOSFODNN7EXAMPLE.", "id=***REDACTED***."),
        ("AKIAIOSFODNN7EXAMPL", "AKIAIOSFODNN7EXAMPL"),  // 15 characters after the prefix
        ("AKIAIOSFODNN7EXAMPLEX", "AKIAIOSFODNN7EXAMPLEX"),  // 17: no word boundary after 16
        ("akiaiosfodnn7example", "akiaiosfodnn7example"),
        ("Authorization: Bearer abc.def-ghi_jkl~mn+/==", "Authorization: Bearer ***REDACTED***"),
        ("Bearer abcdefgh12== next", "Bearer ***REDACTED*** next"),
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.SflKxwRJ", "Authorization: Bearer ***REDACTED***"),
        ("bearer abcdefgh1234", "bearer ***REDACTED***"),
        ("BEARER abcdefgh1234", "BEARER ***REDACTED***"),
        ("Bearer short", "Bearer short"),
        ("the bearer of news", "the bearer of news"),
        ("ésk-abc123", "ésk-abc123"),  // Unicode-aware word boundary: é is a word character
        ("é sk-abc123", "é ***REDACTED***"),
        ("nothing secret here", "nothing secret here"),
        ("", ""),
    ])
    func shapes(_ input: String, _ expected: String) {
        #expect(Redactor.shapesOnly.redact(input) == expected)
    }

    @Test func literalValuesFromEnvironment() {
        let redactor = Redactor(
            secretNames: ["OPENAI_API_KEY", "OTHER"],
            environment: ["OPENAI_API_KEY": "abcd1234efgh", "OTHER": "zz", "UNLISTED": "unlisted-value-123"])
        #expect(
            redactor.redact("the key abcd1234efgh appears twice: abcd1234efgh")
                == "the key \(token) appears twice: \(token)")
        // Only names listed in secrets count.
        #expect(redactor.redact("unlisted-value-123") == "unlisted-value-123")
        // Assignment first, then the literal pass, then shapes.
        #expect(redactor.redact("OPENAI_API_KEY=\"abcd1234efgh\"") == "OPENAI_API_KEY=\"\(token)\"")
    }

    @Test func shortSecretsAreNotReplacedLiterally() {
        let redactor = Redactor(secretNames: ["PIN"], environment: ["PIN": "abc1234"])  // 7 characters
        #expect(redactor.redact("value abc1234 here") == "value abc1234 here")
        #expect(redactor.redact("PIN=abc1234") == "PIN=\(token)")
        let eight = Redactor(secretNames: ["PIN"], environment: ["PIN": "abc12345"])
        #expect(eight.redact("value abc12345 here") == "value \(token) here")
        // Length counts characters (code points), not bytes: 7 code points in 14 bytes.
        let unicode = Redactor(secretNames: ["PIN"], environment: ["PIN": "ééééééé"])
        #expect(unicode.redact("ééééééé") == "ééééééé")
    }

    @Test func overlappingSecretsLongestFirst() {
        let redactor = Redactor(
            secretNames: ["SHORT", "LONG"],
            environment: ["SHORT": "abcdefgh", "LONG": "abcdefgh-longer-part"])
        #expect(redactor.redact("abcdefgh-longer-part and abcdefgh") == "\(token) and \(token)")
        let duplicate = Redactor(
            secretNames: ["A", "B"], environment: ["A": "same-value-1", "B": "same-value-1"])
        #expect(duplicate.redact("x same-value-1 y") == "x \(token) y")
    }

    @Test func multiLineSecretValues() {
        let value = "first-line-secret\nsecond-line-secret\nshort"
        let redactor = Redactor(secretNames: ["CERT"], environment: ["CERT": value])
        #expect(redactor.redact("begin \(value) end") == "begin \(token) end")
        // Streams redacted line by line still lose each line of the value.
        #expect(redactor.redact("first-line-secret") == token)
        #expect(redactor.redact("x second-line-secret y") == "x \(token) y")
        #expect(redactor.redact("short") == "short")
        let lines = "log: first-line-secret\nlog: second-line-secret\n".split(separator: "\n").map {
            redactor.redact(String($0))
        }
        #expect(lines == ["log: \(token)", "log: \(token)"])
        let crlf = Redactor(secretNames: ["CERT"], environment: ["CERT": "windows-line-1\r\nwindows-line-2"])
        #expect(crlf.redact("windows-line-2") == token)
    }

    @Test func secretsInsideJSON() {
        let secret = "s3cr3t-value-with\"quote"
        let multiLine = "multi-line-one\nmulti-line-two"
        let redactor = Redactor(
            secretNames: ["API_KEY", "CERT"], environment: ["API_KEY": secret, "CERT": multiLine])
        let document: JSONValue = [
            "message": .string("failed with \(secret)"),
            "nested": ["items": [.string("prefix \(secret)"), .string(multiLine), "ghp_abcDEF123"]],
            "env": "API_KEY=plain",
            "lines": .string("multi-line-two only"),
        ]
        for style in [JSONStyle.compact, .pretty] {
            let text = document.serialized(style, transform: redactor.redact)
            #expect(!text.contains("s3cr3t"))
            #expect(!text.contains("multi-line-one"))
            #expect(!text.contains("multi-line-two"))
            #expect(!text.contains("ghp_abcDEF123"))
            #expect(!text.contains("plain"))
            #expect(text.contains(token))
            // Still valid JSON with the same shape.
            let parsed = try? JSONValue.parse(text)
            #expect(parsed?["nested"]?["items"]?.arrayValue?.count == 3)
            #expect(parsed?["message"] == .string("failed with \(token)"))
        }
    }
}
