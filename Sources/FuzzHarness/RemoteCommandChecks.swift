import FleetCore
import RunnerProtocol
import Transport

/// Every builder of a remote command line, with the fields it takes from configuration, runner
/// state or the command line. The checks build each one twice, from harmless values and from
/// hostile ones, and require the two to split alike (see `ShellStructure`).
public struct RemoteCommandTemplate: Sendable {
    public enum Field: Sendable {
        /// Any text (a name, a URL, a branch).
        case text
        /// Text where empty means "none" and leaves a part of the command out.
        case nonEmptyText
        /// One segment of an absolute path, `<root>/<segment>/app`: a `/` inside the value would move
        /// the parent directory some commands derive, so the segment never holds one.
        case pathSegment

        /// The field's value from `value`: paths under `root`.
        public func embed(_ value: String, root: String = "/srv") -> String {
            switch self {
            case .text, .nonEmptyText: value
            case .pathSegment: root + "/" + value + "/app"
            }
        }

        /// What of a hostile value this field can carry: no NUL (argv cannot hold one), no `/` in
        /// a path segment.
        public func admit(_ value: String) -> String {
            let kept = String(
                String.UnicodeScalarView(
                    value.unicodeScalars.filter { $0 != "\0" && (self == .text || $0 != "/") }))
            switch self {
            case .text: return kept
            case .nonEmptyText: return kept.isEmpty ? "x" : kept
            // An empty, `.` or `..` segment changes what the path means, not how it is quoted.
            case .pathSegment: return ["", ".", ".."].contains(kept) ? "x" + kept : kept
            }
        }
    }

    public var name: String
    public var fields: [Field]
    public var build: @Sendable ([String]) -> String

    public init(_ name: String, _ fields: [Field], _ build: @escaping @Sendable ([String]) -> String) {
        self.name = name
        self.fields = fields
        self.build = build
    }

    /// The harmless value of field `index`: letters and digits only, unlike any hostile value.
    public static func harmless(_ index: Int) -> String { "Hz\(index)qHarmless" }

    public static let all: [RemoteCommandTemplate] = [
        .init("ensureRepo", [.text, .text, .pathSegment]) {
            RemoteCommands.ensureRepo(url: $0[0], branch: $0[1], workspace: $0[2])
        },
        .init("dependencyProbe", [.text, .text]) { RemoteCommands.dependencyProbe($0) },
        .init("repoHead", [.pathSegment]) { RemoteCommands.repoHead(workspace: $0[0]) },
        .init("chainStart", [.pathSegment]) { RemoteCommands.chainStart(spec: $0[0], one: true) },
        .init("tmuxLaunch", [.pathSegment, .pathSegment, .text]) {
            RemoteCommands.tmuxLaunch(workspace: $0[0], spec: $0[1], session: $0[2])
        },
        .init("tmuxRestart", [.pathSegment, .pathSegment, .text]) {
            RemoteCommands.tmuxRestart(workspace: $0[0], spec: $0[1], session: $0[2])
        },
        .init("runnerProbe", [.text]) { RemoteCommands.Probe.runner.command(["session": $0[0]]) },
        .init("chainLogStat", [.pathSegment]) { RemoteCommands.Probe.chainLogStat.command(["log": $0[0]]) },
        .init("verifyHuman", [.pathSegment, .text]) {
            RemoteCommands.verifyHuman(workspace: $0[0], plan: $0[1])
        },
        .init("prProbe", [.pathSegment]) { RemoteCommands.prProbe(workspace: $0[0], number: 42) },
        .init("planStatus", [.pathSegment, .text]) {
            RemoteCommands.planStatus(workspace: $0[0], plan: $0[1])
        },
        .init("upload", [.pathSegment]) { RemoteCommands.upload(to: $0[0]) },
        .init("heredocUpload", [.pathSegment]) { RemoteCommands.heredocUpload(to: $0[0], base64: "aGk=") },
        .init("syncRefresh", [.pathSegment, .pathSegment, .text, .text, .text, .pathSegment, .nonEmptyText]) {
            RemoteCommands.syncRefresh(
                workspace: $0[0], spec: $0[1], branch: $0[2], prNumber: 7, extraRepos: [$0[3], $0[4]],
                resolvedWorkspace: $0[5], session: $0[6])
        },
        .init("inContainer", [.text, .text]) {
            HostCommands.inContainer(
                RemoteCommands.Probe.runner.command(["session": $0[1]]), container: $0[0],
                interactiveInput: true)
        },
        .init("inLoginShell", [.pathSegment, .text]) {
            HostCommands.inLoginShell(RemoteCommands.planStatus(workspace: $0[0], plan: $0[1]))
        },
        .init("build", [.text, .pathSegment]) { HostCommands.build(container: $0[0], remoteDir: $0[1]) },
        .init("writeEnvFile", [.pathSegment]) { HostCommands.writeEnvFile(remoteDir: $0[0]) },
        .init("runContainer", [.text, .pathSegment]) {
            HostCommands.runContainer($0[0], remoteDir: $0[1], port: 8080)
        },
        .init("stopContainer", [.text]) { HostCommands.stopContainer($0[0]) },
        .init("removeTree", [.pathSegment]) { HostCommands.removeTree($0[0]) },
        .init("replaceDirectory", [.pathSegment, .pathSegment, .pathSegment]) {
            HostCommands.replaceDirectory($0[0], with: $0[1], aside: $0[2])
        },
        .init("destroy", [.text, .pathSegment]) { HostCommands.destroy(container: $0[0], remoteDir: $0[1]) },
        .init("attach", [.text]) { HostCommands.attach(container: $0[0]) },
        .init("containerLogs", [.text]) { HostCommands.containerLogs($0[0], follow: true) },
        .init("chainLog", [.pathSegment]) { HostCommands.chainLog(workspace: $0[0], follow: true) },
    ]

    /// The command from the harmless values, the one from `hostile` (admitted per field), and the
    /// pairs that turn the first into the second.
    public func instances(hostile: [String], root: String = "/srv") -> (
        harmless: String, hostile: String, values: [(String, String)]
    ) {
        var harmlessValues: [String] = []
        var hostileValues: [String] = []
        var pairs: [(String, String)] = []
        for (index, field) in fields.enumerated() {
            let harmless = Self.harmless(index)
            let value = field.admit(hostile.isEmpty ? "" : hostile[index % hostile.count])
            harmlessValues.append(field.embed(harmless, root: root))
            hostileValues.append(field.embed(value, root: root))
            pairs.append((harmless, value))
        }
        return (build(harmlessValues), build(hostileValues), pairs)
    }
}

extension FuzzHarness {
    /// Every remote command builder, fed the NUL-separated values of `data`: the hostile command
    /// must split exactly as the harmless one, each value one literal piece of one word.
    static func checkRemoteCommands(_ data: [UInt8], _ findings: inout Findings) {
        let values = data.split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        for template in RemoteCommandTemplate.all {
            let built = template.instances(hostile: values)
            for problem in RemoteCommandComparison.problems(
                harmless: built.harmless, hostile: built.hostile, values: built.values)
            {
                findings.expect(false, "\(template.name): \(problem)")
            }
        }
    }
}

/// Compares a command built from harmless values with the same command built from hostile ones.
public enum RemoteCommandComparison {
    /// Empty when `hostile` splits like `harmless` with every harmless value replaced by its
    /// hostile twin, as written or JSON-escaped (inside a Python program's string literal), and
    /// every program handed to `sh -c`, `bash -lc` or `tmux new-session` does the same.
    public static func problems(harmless: String, hostile: String, values: [(String, String)]) -> [String] {
        let expected: [ShellToken]
        do {
            expected = try ShellStructure.tokens(harmless)
        } catch {
            return ["the harmless command does not parse (\(error)): \(harmless)"]
        }
        let actual: [ShellToken]
        do {
            actual = try ShellStructure.tokens(hostile)
        } catch {
            return ["the hostile command does not parse (\(error)): \(hostile)"]
        }
        guard expected.count == actual.count else {
            return ["\(actual.count) tokens instead of \(expected.count): \(actual) for \(expected)"]
        }
        var problems: [String] = []
        var command: [String] = []
        for (index, (want, got)) in zip(expected, actual).enumerated() {
            guard want.kind == got.kind else {
                problems.append("token \(index) is \(got) where \(want) was expected")
                continue
            }
            guard want.isWord else {
                if !["<<", ">", ">>", "<", ">&", "<&", ">|"].contains(want.text), Int(want.text) == nil {
                    command = []
                }
                continue
            }
            let endsCommand = index + 1 == expected.count || !expected[index + 1].isWord
            problems += wordProblems(
                want.text, got.text, values: values,
                program: isProgram(preceding: command, isLast: endsCommand)
            ).map { "word \(index): \($0)" }
            command.append(want.text)
        }
        return problems
    }

    /// The calls recorded from the harmless command against those from the hostile one: the same
    /// programs with the same number of arguments, each as `problems` requires of a word.
    public static func callProblems(harmless: [[String]], hostile: [[String]], values: [(String, String)])
        -> [String]
    {
        guard harmless.count == hostile.count else { return ["\(hostile) for \(harmless)"] }
        var problems: [String] = []
        for (want, got) in zip(harmless, hostile) {
            guard want.count == got.count else {
                problems.append("\(got) for \(want)")
                continue
            }
            for index in want.indices {
                problems += wordProblems(
                    want[index], got[index], values: values,
                    program: isProgram(preceding: Array(want[..<index]), isLast: index == want.count - 1)
                ).map { "argument \(index) of \(want[0]): \($0)" }
            }
        }
        return problems
    }

    /// A program handed to another shell splits like its harmless twin; any other word is its twin
    /// with every value replaced, as written or JSON-escaped (a Python string literal).
    static func wordProblems(_ want: String, _ got: String, values: [(String, String)], program: Bool)
        -> [String]
    {
        if program { return problems(harmless: want, hostile: got, values: values) }
        let raw = substitute(want, values)
        let json = substitute(want, values.map { ($0.0, jsonInner($0.1)) })
        return got == raw || got == json ? [] : ["«\(got)» where «\(raw)» was expected"]
    }

    /// A word the shell hands to another shell: after `sh -c` or `bash -lc`, or the command that
    /// ends a `tmux new-session`.
    static func isProgram(preceding command: [String], isLast: Bool) -> Bool {
        if let flag = command.last, ["-c", "-lc"].contains(flag), command.count >= 2,
            ["sh", "bash"].contains(command[command.count - 2])
        {
            return true
        }
        return isLast && command.contains("tmux") && command.contains("new-session") && command.last != "-c"
    }

    /// Replaces every harmless value in one pass, so a hostile value is never replaced again.
    public static func substitute(_ text: String, _ pairs: [(String, String)]) -> String {
        var out = ""
        var rest = Substring(text)
        while !rest.isEmpty {
            if let (from, to) = pairs.first(where: { !$0.0.isEmpty && rest.hasPrefix($0.0) }) {
                out += to
                rest = rest.dropFirst(from.count)
            } else {
                out.append(rest.removeFirst())
            }
        }
        return out
    }

    /// A value as it stands inside a JSON string literal, without the quotes.
    public static func jsonInner(_ value: String) -> String {
        String(JSONValue.string(value).serialized().dropFirst().dropLast())
    }
}
