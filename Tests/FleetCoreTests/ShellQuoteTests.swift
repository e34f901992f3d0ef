import PropertyBased
import TestSupport
import Testing

@testable import FleetCore

@Suite struct ShellQuoteTests {
    /// Cloud reference §0.1 examples plus edge cases of Python's `shlex.quote`.
    @Test(arguments: [
        ("/workspace/app", "/workspace/app"),
        ("/workspace/my app", "'/workspace/my app'"),
        ("chain b", "'chain b'"),
        ("it's", #"'it'"'"'s'"#),
        ("agent name $HOME", "'agent name $HOME'"),
        ("", "''"),
        ("ABCxyz019_@%+=:,./-", "ABCxyz019_@%+=:,./-"),
        ("'", #"''"'"''"#),
        ("''", #"''"'"''"'"''"#),
        ("a\"b", "'a\"b'"),
        ("back\\slash", "'back\\slash'"),
        ("line\nbreak", "'line\nbreak'"),
        ("tab\there", "'tab\there'"),
        ("~", "'~'"),
        ("~/x", "'~/x'"),
        ("*", "'*'"),
        ("a;b", "'a;b'"),
        ("$(rm -rf /)", "'$(rm -rf /)'"),
        ("`id`", "'`id`'"),
        ("!", "'!'"),
        ("#", "'#'"),
        ("é", "'é'"),
        ("日本", "'日本'"),
        ("--flag=value", "--flag=value"),
        ("key=value,other", "key=value,other"),
    ])
    func quote(_ input: String, _ expected: String) {
        #expect(ShellQuote.quote(input) == expected)
    }

    @Test func join() {
        #expect(ShellQuote.join([]) == "")
        #expect(
            ShellQuote.join(["megaplan", "chain", "start", "--spec", "/w/my chain.yaml", ""])
                == "megaplan chain start --spec '/w/my chain.yaml' ''")
        #expect(ShellQuote.join(["echo", "it's"]) == #"echo 'it'"'"'s'"#)
    }

    @Test func replacingAll() {
        #expect("aXbXc".replacingAll("X", with: "--") == "a--b--c")
        #expect("aaa".replacingAll("aa", with: "b") == "ba")
        #expect("abc".replacingAll("", with: "x") == "abc")
        #expect("é".replacingAll("e", with: "x") == "é")
    }

    /// Characters a shell treats specially, plus letters and multi-byte text.
    static let interesting: [Character] =
        Array(
            " '\"$\\`!*?~#&;|<>(){}[]\t\n\r%=:,./-_@+^") + ["é", "日", "🙂", "\u{7F}", "\u{1B}", "a", "Z", "0"]

    /// For any string without NUL, `sh -c "printf %s <quoted>"` prints the string back unchanged.
    @Test func quotedStringsSurviveTheShell() async {
        let special = Gen<Character?>.element(of: Self.interesting).map { $0! }.string(of: 0...12)
        let printable = Gen<Character>.ascii.compactMap { $0 == "\0" ? nil : $0 }.string(of: 0...12)
        let unicode = Gen<UnicodeScalar>.unicodeScalar(in: "\u{01}"..."\u{2FFF}").map { Character($0) }
            .string(of: 0...6)
        var runs = 0
        await propertyCheck(count: 200, input: special, printable, unicode) { first, second, third in
            runs += 1
            let text = first + second + third
            // Each shell waited for on a thread of its own, never holding the cooperative pool.
            let result = try await onOwnThread { runShell("printf %s " + ShellQuote.quote(text)) }
            #expect(result.status == 0)
            #expect(result.output == Array(text.utf8), "input: \(text.debugDescription)")
        }
        #expect(runs >= 200)
    }
}
