import BenchSupport
import FleetCore
import FuzzHarness
import PropertyBased
import TestSupport
import Testing
import Transport

/// Every remote command template, built from hostile values for every field, must give each value
/// to its program as exactly one literal argument: checked by splitting the command (the fuzz
/// target's check) and by running it through real `sh` and `bash` with recording programs.
@Suite struct RemoteCommandShellTests {
    /// Values that break naive quoting, one family each.
    static let hostileValues = [
        "x';touch mpf-pwned;echo '", "bob's-chain", "$(touch mpf-pwned)", "`touch mpf-pwned`", "${HOME}",
        "\"; touch mpf-pwned; \"", "a;touch mpf-pwned", "a && touch mpf-pwned", "a|touch mpf-pwned",
        "two words", "tab\there", "line\ntouch mpf-pwned", "*", "~root", "{a,b}",
        "--upload-pack=touch mpf-pwned",
        "", "\\", "#hash", "MEGAPLAN_UPLOAD", "x\nMEGAPLAN_UPLOAD\ntouch mpf-pwned", "caf\u{e9} \u{202e}",
        "\u{1}\u{1f}\u{7f}", "'\"'\"'",
    ]

    /// Characters a shell treats specially, plus letters and multi-byte text.
    static let interesting: [Character] =
        Array(" '\"$\\`!*?~#&;|<>(){}[]\t\n\r%=:,./-_@+^") + ["é", "日", "🙂", "\u{202E}", "a", "Z", "0"]

    @Test func theComparisonCatchesAnUnquotedValue() {
        // The restart line as it was: the session pasted inside single quotes.
        let broken = { (session: String) in "tmux kill-session -t x; echo 'restarted \(session) session'" }
        let session = "x';touch mpf-pwned;echo '"
        let problems = RemoteCommandComparison.problems(
            harmless: broken(RemoteCommandTemplate.harmless(0)), hostile: broken(session),
            values: [(RemoteCommandTemplate.harmless(0), session)])
        #expect(!problems.isEmpty)
        let doubleQuoted = { (value: String) in "cd \"\(value)\"" }
        #expect(
            !RemoteCommandComparison.problems(
                harmless: doubleQuoted("H"), hostile: doubleQuoted("$(id)"), values: [("H", "$(id)")]
            ).isEmpty)
    }

    @Test(arguments: RemoteCommandTemplate.all.map(\.name))
    func hostileValuesSplitLikeHarmlessOnes(_ name: String) throws {
        let template = try #require(RemoteCommandTemplate.all.first { $0.name == name })
        for value in Self.hostileValues {
            let built = template.instances(hostile: [value])
            let problems = RemoteCommandComparison.problems(
                harmless: built.harmless, hostile: built.hostile, values: built.values)
            #expect(problems.isEmpty, "\(value.debugDescription): \(problems)")
        }
    }

    @Test func generatedValuesSplitLikeHarmlessOnes() async {
        let text = Gen<Character?>.element(of: Self.interesting).map { $0! }.string(of: 0...16)
        await propertyCheck(count: 100, input: text, text, text) { first, second, third in
            for template in RemoteCommandTemplate.all {
                let built = template.instances(hostile: [first, second, third])
                let problems = RemoteCommandComparison.problems(
                    harmless: built.harmless, hostile: built.hostile, values: built.values)
                #expect(problems.isEmpty, "\(template.name) \([first, second, third]): \(problems)")
            }
        }
    }

    /// One case per shell, each on a thread of its own: about 1 300 processes are spawned and
    /// waited for, which must not hold the cooperative pool.
    @Test(arguments: ["/bin/sh", "/bin/bash"])
    func realShellsGiveEachValueAsOneArgument(_ shell: String) async throws {
        let problems = try await onOwnThread { try Self.runThroughShell(shell) }
        #expect(problems.isEmpty, "\(problems)")
    }

    /// Every template, harmless then with each hostile value, through `shell`: what went wrong.
    static func runThroughShell(_ shell: String) throws -> [String] {
        let bench = try ShellBench()
        defer { TemporaryDirectory.remove(bench.root) }
        var problems: [String] = []
        for template in RemoteCommandTemplate.all {
            let expected = try bench.run(
                template.instances(hostile: [], root: bench.paths).harmless, shell: shell)
            if expected.isEmpty { problems.append("\(template.name): nothing recorded") }
            for value in hostileValues {
                let built = template.instances(hostile: [value], root: bench.paths)
                let actual = try bench.run(built.hostile, shell: shell)
                let context = "\(template.name) \(value.debugDescription)"
                problems += RemoteCommandComparison.callProblems(
                    harmless: expected, hostile: actual, values: built.values
                ).map { "\(context): \($0)" }
                problems += bench.planted().map { "\(context) ran a value: \($0)" }
                if template.name.hasSuffix("pload") {
                    let field = RemoteCommandTemplate.Field.pathSegment
                    let path = field.embed(field.admit(value), root: bench.paths)
                    if FileSystem.readText(path) != "hi" {
                        problems.append("\(context): nothing uploaded to \(path)")
                    }
                }
            }
        }
        return problems
    }
}

/// A working directory and recording stand-ins for every program the templates call. Each
/// stand-in appends its name and arguments (NUL-separated, with their count) to a record file;
/// `mkdir`, `cat` and `base64` also do their real work, so redirections and uploads land.
struct ShellBench {
    let root: String
    /// Where path fields point: the uploads land here.
    var paths: String { root + "/paths" }
    static let programs = [
        "git", "tmux", "megaplan", "gh", "stat", "base64", "python3", "docker", "timeout", "mkdir", "cat",
        "chmod", "rm", "tail", "sh", "bash",
    ]

    init() throws {
        root = try TemporaryDirectory.make(prefix: "mpf-shell-bench-")
        try FileSystem.makeDirectories(root + "/bin")
        let stub = """
            #!/bin/sh
            { printf '%s\\0%s\\0' "${0##*/}" "$#"; for a in "$@"; do printf '%s\\0' "$a"; done; } >> "$MPF_RECORD"
            case "${0##*/}" in
              mkdir) exec /bin/mkdir "$@" ;;
              cat) exec /bin/cat "$@" ;;
              base64) exec /usr/bin/base64 "$@" ;;
            esac
            exit 0

            """
        for program in Self.programs {
            try FileSystem.writeAtomically(root + "/bin/" + program, text: stub, mode: 0o755)
        }
        try FileSystem.writeAtomically(root + "/stdin", text: "aGk=\n")
    }

    /// Builtins the templates use are recorded by functions (`cd` also stays where it is).
    static let preamble = """
        cd "$MPF_WORK" || exit 99
        exec 0<"$MPF_STDIN"
        __mpf_record() { { command printf '%s\\0%s\\0' "$1" "$(($# - 1))"; shift; for a in "$@"; do command printf '%s\\0' "$a"; done; } >> "$MPF_RECORD"; }
        cd() { __mpf_record cd "$@"; }
        echo() { __mpf_record echo "$@"; }
        printf() { __mpf_record printf "$@"; }

        """

    /// Runs `command` in a fresh working directory, with no path of an earlier run left, and
    /// returns every recorded call, name first.
    func run(_ command: String, shell: String) throws -> [[String]] {
        let work = root + "/work"
        TemporaryDirectory.remove(work)
        TemporaryDirectory.remove(paths)
        // The chain log is redirected into `.megaplan/`, which a runner's workspace has.
        try FileSystem.makeDirectories(work + "/.megaplan")
        let record = root + "/record"
        try FileSystem.writeAtomically(record, text: "")
        let started = ContinuousClock.now
        let pid = try BenchProcess.spawn(
            [shell, "-c", Self.preamble + command],
            environment: [
                "PATH": root + "/bin", "MPF_RECORD": record, "MPF_WORK": work, "MPF_STDIN": root + "/stdin",
                "HOME": work,
            ], stdoutPath: root + "/out", stderrPath: root + "/err")
        _ = BenchProcess.wait(pid, started: started)
        let fields = (FileSystem.readBytes(record) ?? []).split(
            separator: 0, omittingEmptySubsequences: false
        )
        .map { String(decoding: $0, as: UTF8.self) }
        var calls: [[String]] = []
        var index = 0
        while index + 1 < fields.count, let count = Int(fields[index + 1]) {
            let end = min(fields.count, index + 2 + count)
            calls.append([fields[index]] + fields[(index + 2)..<end])
            index = end
        }
        return calls
    }

    /// What a value ran as a command left in the working directory (every hostile value that
    /// runs anything runs `touch mpf-pwned`).
    func planted() -> [String] {
        FileSystem.readBytes(root + "/work/mpf-pwned") == nil ? [] : [root + "/work/mpf-pwned"]
    }
}
