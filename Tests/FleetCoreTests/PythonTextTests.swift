import Testing

@testable import FleetCore

@Suite struct PythonTextTests {
    /// Python's `repr(str)` (§0.2), checked against CPython 3.
    @Test(arguments: [
        ("bogus", "'bogus'"),
        ("", "''"),
        ("it's", #""it's""#),
        (#"both ' and ""#, #"'both \' and "'"#),
        (#"say "hi""#, #"'say "hi"'"#),
        ("back\\slash", #"'back\\slash'"#),
        ("a\r\nb", #"'a\r\nb'"#),
        ("tab\tend", #"'tab\tend'"#),
        ("\u{1B}[31m", #"'\x1b[31m'"#),
        ("\u{7F}", #"'\x7f'"#),
        ("\u{85}", #"'\x85'"#),
        ("\u{A0}", #"'\xa0'"#),
        ("\u{200B}", #"'\u200b'"#),
        ("\u{2028}", #"'\u2028'"#),
        ("\u{E000}", #"'\ue000'"#),
        ("\u{E0001}", #"'\U000e0001'"#),
        ("é 日本 😀", "'é 日本 😀'"),
    ])
    func repr(_ value: String, _ expected: String) {
        #expect(pythonRepr(value) == expected)
    }

    @Test func tuple() {
        #expect(pythonTuple(["claude", "codex"]) == "('claude', 'codex')")
        #expect(pythonTuple(["stop_chain"]) == "('stop_chain',)")
        #expect(pythonTuple([]) == "()")
    }

    @Test func trimmedAndBlank() {
        #expect("  a b \n".trimmed == "a b")
        #expect(" \t\n".trimmed == "")
        #expect(" \u{3000} ".isBlank)
        #expect("".isBlank)
        #expect(!" x ".isBlank)
    }

    @Test func controlCharactersInValuesAreEscapedInMessages() {
        let error = failure {
            try CloudSpec.parse(text: "provider: \"\\e[31mx\\r\\n\"\nrepo:\n  url: u\n", path: "/c.yaml")
        }
        #expect(
            error
                == FleetError(
                    .invalidSpec,
                    "/c.yaml:1:11: provider must be one of railway, local, ssh, fly; got '\\x1b[31mx\\r\\n'"))
    }
}
