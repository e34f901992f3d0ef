import FuzzHarness
import PropertyBased
import TestSupport
import Testing

@testable import FleetCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `Tests/Fuzz`, found from this file's path.
private let fuzzDirectory: String = {
    let file = #filePath
    let testsDirectory = file[..<file.range(of: "/FleetCoreTests/")!.lowerBound]
    return String(testsDirectory) + "/Fuzz"
}()

/// The fuzzing corpus (hand-written seeds and what `scripts/fuzz.sh` found) replayed through the
/// same harness the libFuzzer driver runs, so CI checks every saved input without building the
/// fuzzer: every input through every target.
@Suite struct FuzzCorpusTests {
    static let targets = FuzzTarget.allCases

    /// On a thread of its own: a minute of CPU on a busy machine that must not hold the
    /// cooperative pool while timing-sensitive tests wait for it.
    @Test(arguments: targets)
    func corpusReplaysCleanly(_ target: FuzzTarget) async throws {
        let files = ["seeds", "corpus"].flatMap {
            FuzzFiles.list(fuzzDirectory + "/\($0)/\(target.rawValue)")
        }
        #expect(files.count >= 10, "too few corpus files for \(target)")
        let problems = try await onOwnThread {
            var problems: [String] = []
            let clock = ContinuousClock()
            for file in files {
                guard let data = FuzzFiles.read(file) else {
                    problems.append("\(file): unreadable")
                    continue
                }
                // Each file through every target: the YAML readers also see the JSON and redactor
                // inputs, and the reverse.
                var findings: [String] = []
                let elapsed = clock.measure { findings = FuzzHarness.checkAll(data) }
                if !findings.isEmpty { problems.append("\(file): \(findings)") }
                // A hang, not a slow machine: generous for a debug build beside a busy suite.
                if elapsed >= .seconds(120) { problems.append("\(file) took \(elapsed)") }
            }
            return problems
        }
        #expect(problems.isEmpty, "\(problems)")
    }

    /// The dictionaries the fuzzer uses are well formed (one quoted token a line, or a comment).
    @Test func dictionariesAreWellFormed() throws {
        for name in ["yaml", "json", "redact", "commands", "knownhosts"] {
            let text = try #require(FileSystem.readText(fuzzDirectory + "/dict/\(name).dict"))
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                #expect(
                    line.hasPrefix("\"") && line.hasSuffix("\"") && line.count >= 3, "\(name).dict: \(line)")
            }
        }
    }
}

/// Regressions the fuzzer found, kept as plain tests with the expected message.
@Suite struct FuzzRegressionTests {
    private let path = FuzzHarness.yamlPath

    /// A non-string scalar was echoed raw into a message: `!!float "1\n2"` split the one-line
    /// message and let a terminal escape through.
    @Test func taggedScalarInMessageIsQuoted() {
        let yaml = "driver:\n  stall_threshold: !!float \"1\\n2\\e[31m\"\n"
        #expect(
            throws: FleetError(
                .invalidSpec, "\(path):2:20: driver.stall_threshold must be an integer; got '1\\n2\\x1b[31m'")
        ) {
            try ChainSpec.parse(text: yaml, path: path)
        }
        #expect(
            throws: FleetError(
                .invalidSpec, "\(path):2:20: driver.stall_threshold must be an integer; got 1.5e")
        ) {
            try ChainSpec.parse(text: "driver:\n  stall_threshold: !!float 1.5e\n", path: path)
        }
    }

    /// Duplicated keys were quoted without escaping: a tab or line break in a key reached the message.
    @Test func duplicatedKeyInMessageIsEscaped() {
        let yaml = "\"a\\tb\\nc\": 1\n\"a\\tb\\nc\": 2\n"
        #expect(
            throws: FleetError(
                .invalidFleet,
                "\(path): YAML parse error: line 2, column 1: duplicated key 'a\\tb\\nc', first at line 1")
        ) {
            try FleetFile.parse(text: yaml, path: path)
        }
    }
}

extension FuzzRegressionTests {
    /// A fleet project's cloud_yaml path was printed raw: line breaks read from the file split the
    /// message.
    @Test func missingCloudYAMLPathIsQuotedWhenNotPrintable() {
        #expect(
            throws: FleetError(
                .invalidFleet, "\(path):2:27: project 'a': cloud.yaml not found: '/nowhere/a\\nb'")
        ) {
            try FleetFile.parse(
                text: "projects:\n  - {name: a, cloud_yaml: \"/nowhere/a\\nb\"}\n", path: path)
        }
        #expect(
            throws: FleetError(.invalidFleet, "\(path):2:27: project 'a': cloud.yaml not found: /nowhere/é b")
        ) {
            try FleetFile.parse(text: "projects:\n  - {name: a, cloud_yaml: /nowhere/é b}\n", path: path)
        }
    }

    /// Nested aliases ("billion laughs"): 485 bytes that expand to a million values made
    /// `ChainSpec.parse` run for minutes (the `bakeoff` block is converted to JSON, aliases
    /// expanded), and an alias used as a mapping key made the YAML library then in use (Yams) hash
    /// the expanded key (34 s for a million values, ten times longer per level). Both are now
    /// refused as the events arrive, before the work grows with them.
    @Test(arguments: ["chain/regression-billion-laughs.yaml", "cloud/regression-alias-key-bomb.yaml"])
    func aliasExpansionIsBounded(_ name: String) throws {
        let text = try #require(FileSystem.readText(fuzzDirectory + "/seeds/" + name))
        let start = ContinuousClock.now
        let chainError = #expect(throws: FleetError.self) { try ChainSpec.parse(text: text, path: path) }
        let cloudError = #expect(throws: FleetError.self) { try CloudSpec.parse(text: text, path: path) }
        for error in [chainError, cloudError] {
            #expect(error?.message.contains("YAML aliases expand to more than 100000 values") == true)
        }
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    /// Aliases are still fine in moderation, and expand as before.
    @Test func moderateAliasesStillWork() throws {
        let yaml =
            "milestones:\n  - {label: a, idea: b, bakeoff: &b {x: &l [1, 2], y: *l}}\n  - {label: c, idea: d, bakeoff: *b}\n"
        let spec = try ChainSpec.parse(text: yaml, path: path)
        #expect(
            spec.milestones.map(\.bakeoff) == [["x": [1, 2], "y": [1, 2]], ["x": [1, 2], "y": [1, 2]]])
        let limit = YAMLComposer.maximumExpandedNodes
        let big =
            "a: &a [" + Array(repeating: "1", count: 999).joined(separator: ", ") + "]\nb: ["
            + Array(repeating: "*a", count: limit / 1000 - 2).joined(separator: ", ") + "]\n"
        #expect(throws: FleetError(.invalidSpec, "\(path):1:1: `repo.url` is required")) {
            try CloudSpec.parse(text: big, path: path)
        }
    }
}

extension FuzzRegressionTests {
    /// Objects were built key by key with a linear search each: 20,000 keys (250 KB of a runner's
    /// chain_state.json) took 24 s to parse in a debug build, four times as long for twice the keys.
    @Test func jsonObjectsParseInLinearTime() throws {
        let count = 40_000
        var text = "{"
        for index in 0..<count { text += "\"k\(index)\": \(index), " }
        text += "\"k0\": \"last\", \"pr_number\": 7}"
        let start = ContinuousClock.now
        let value = try JSONValue.parse(text)
        let object = try #require(value.objectValue)
        #expect(ContinuousClock.now - start < .seconds(10))
        // A repeated key keeps its first position and takes the last value.
        #expect(object.count == count + 1)
        #expect(object.entries.first?.key == "k0" && object["k0"] == "last")
        #expect(try ChainState.parse(text).prNumber == 7)
    }
}

/// Property tests of the redactor with generated secrets and text (the fuzz harness's invariants).
@Suite struct RedactorPropertyTests {
    /// Pieces that make secrets and text collide: assignment syntax, shapes, boundaries, unicode.
    static let pieces: [String] = [
        "NAME", "KEY", "=", ": ", " ", "\n", "\"", "'", "sk-", "ghp_", "AKIA", "Bearer ", "x", "Z9", "_", "-",
        "é", "日本", "\u{301}", "*", "REDACTED", "abcdefgh", "12345678", "\r\n", ".",
    ]

    /// Why the harness does not assert idempotence: as with the reference's regular expressions, the
    /// token that replaces a literal secret puts a word boundary before the text that follows it,
    /// so a second pass can see an assignment the first one could not.
    @Test func secondPassCanRedactMore() {
        let redactor = Redactor(secretNames: ["NAME"], environment: ["NAME": "zzzzzzzz"])
        let once = redactor.redact("zzzzzzzzNAME=foo")
        #expect(once == "***REDACTED***NAME=foo")
        #expect(redactor.redact(once) == "***REDACTED***NAME=***REDACTED***")
    }

    @Test func generatedSecretsNeverSurvive() async {
        let piece = Gen<String?>.element(of: Self.pieces).map { $0! }
        let text = piece.array(of: 0...24).map { $0.joined() }
        let secret = piece.array(of: 2...8).map { $0.joined() }
        var runs = 0
        await propertyCheck(count: 300, input: secret, secret, text) { first, second, body in
            runs += 1
            // Secrets and text are built from the same pieces, so the secrets really occur in it.
            let input =
                "NAME=\(first.replacingAll("\n", with: "\u{2}"))\nKEY=\(second.replacingAll("\n", with: "\u{2}"))"
                + "\u{1}" + body + first + body + second
            let findings = FuzzHarness.check(.redact, Array(input.utf8))
            #expect(findings.isEmpty, "\(findings)")
        }
        #expect(runs >= 300)
    }
}
