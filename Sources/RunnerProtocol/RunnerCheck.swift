import FleetCore

/// What `doctor` asks a runner: whether each program a chain needs is there (and its version),
/// and whether the workspace exists. One remote command; one line per check on stdout,
/// `name<TAB>ok|missing<TAB>detail`.
public enum RunnerCheck {
    /// A program the runner must have, with the arguments that print its version.
    public struct Program: Sendable, Equatable {
        public var name: String
        public var versionArguments: String

        public init(_ name: String, _ versionArguments: String) {
            self.name = name
            self.versionArguments = versionArguments
        }
    }

    /// What every runner needs: megaplan runs in Python, the chain in tmux, the work in git.
    public static let programs: [Program] = [
        Program("python3", "--version"), Program("megaplan", "--version"), Program("tmux", "-V"),
        Program("git", "--version"),
    ]

    /// The command line (with `workspace`, also whether that directory exists): each program's presence (`command -v`) decides ok or missing; the detail
    /// is the first line of its version output, or its path when that fails (a megaplan without
    /// `--version` is still a megaplan).
    public static func command(programs: [Program], workspace: String?) -> String {
        let q = ShellQuote.quote
        let checks = programs.map { program in
            "if p=$(command -v \(q(program.name)) 2>/dev/null); then "
                + "v=$(\(q(program.name)) \(program.versionArguments) 2>&1 </dev/null | head -n 1) || v=; "
                + "printf '%s\\tok\\t%s\\n' \(q(program.name)) \"${v:-$p}\"; "
                + "else printf '%s\\tmissing\\tnot on PATH\\n' \(q(program.name)); fi"
        }
        let workspaceCheck = workspace.map { workspace in
            "if [ -d \(q(workspace)) ]; then printf 'workspace\\tok\\t%s\\n' \(q(workspace)); "
                + "else printf 'workspace\\tmissing\\t%s does not exist yet\\n' \(q(workspace)); fi"
        }
        return (checks + (workspaceCheck.map { [$0] } ?? [])).joined(separator: "; ")
    }

    /// One check's answer.
    public struct Result: Sendable, Equatable {
        public var name: String
        public var ok: Bool
        public var detail: String
    }

    /// The checks in a run's output, in the order asked; a name the runner did not answer is missing,
    /// with the command's failure when it failed (a login shell that prints noise first is
    /// skipped over).
    public static func parse(stdout: String, status: Int32, stderr: String, names: [String]) -> [Result] {
        let unanswered =
            status == 0
            ? "no answer" : "the check exited \(status): \(TextCut.excerpt(stderr.trimmed, limit: 200))"
        var answers: [String: Result] = [:]
        for line in stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, names.contains(String(fields[0])),
                fields[1] == "ok" || fields[1] == "missing"
            else { continue }
            let name = String(fields[0])
            answers[name] = Result(
                name: name, ok: fields[1] == "ok", detail: TextCut.excerpt(String(fields[2]), limit: 200))
        }
        return names.map { answers[$0] ?? Result(name: $0, ok: false, detail: unanswered) }
    }
}
