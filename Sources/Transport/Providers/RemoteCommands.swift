import FleetCore

/// The canonical remote command lines of cloud reference §4.10, assembled with the reference's
/// quoting rule so they match it byte for byte.
public enum RemoteCommands {
    static func q(_ value: String) -> String { ShellQuote.quote(value) }

    public static let chainLog = ".megaplan/cloud-chain.log"

    public static func ensureRepo(url: String, branch: String, workspace: String) -> String {
        "mkdir -p \(q(PosixPath.dirname(workspace))) && if [ ! -d \(q(workspace + "/.git")) ]; then git clone --branch \(q(branch)) -- \(q(url)) \(q(workspace)); else true; fi"
    }

    public static func dependencyProbe(_ commands: [String]) -> String {
        "missing=''; for cmd in \(commands.map(q).joined(separator: " ")); do if ! command -v \"$cmd\" >/dev/null 2>&1; then missing=\"$missing $cmd\"; fi; done; printf \"%s\\n\" \"$missing\""
    }

    public static func repoHead(workspace: String) -> String {
        "git -C \(q(workspace)) rev-parse --abbrev-ref HEAD 2>/dev/null && git -C \(q(workspace)) rev-parse HEAD 2>/dev/null"
    }

    public static func chainStart(spec: String, one: Bool) -> String {
        "MEGAPLAN_TRUSTED_CONTAINER=1 megaplan chain start --spec \(q(spec))\(one ? " --one" : "") >> \(chainLog) 2>&1"
    }

    public static func tmuxLaunch(workspace: String, spec: String, session: String) -> String {
        "mkdir -p \(q(workspace + "/.megaplan")) && if tmux has-session -t \(q(session)) 2>/dev/null; then echo \(q(session + " session already running")); else tmux new-session -d -s \(q(session)) -c \(q(workspace)) \(q(chainStart(spec: spec, one: false))); echo \(q("started " + session + " session")); fi"
    }

    public static func tmuxRestart(workspace: String, spec: String, session: String) -> String {
        "mkdir -p \(q(workspace + "/.megaplan")) && tmux kill-session -t \(q(session)) 2>/dev/null; tmux new-session -d -s \(q(session)) -c \(q(workspace)) \(q(chainStart(spec: spec, one: true))); echo \(q("restarted " + session + " session"))"
    }

    public static func runnerProbe(session: String) -> String {
        "tmux has-session -t \(q(session)) 2>/dev/null && echo alive || echo dead"
    }

    public static func chainLogStat(workspace: String) -> String {
        "stat -c '%Y %s' \(q(workspace + "/.megaplan/cloud-chain.log")) 2>/dev/null || echo unavailable"
    }

    public static func verifyHuman(workspace: String, plan: String) -> String {
        "cd \(q(workspace)) && MEGAPLAN_TRUSTED_CONTAINER=1 megaplan verify-human --list --plan \(q(plan)) --json"
    }

    public static func prProbe(workspace: String, number: Int) -> String {
        "cd \(q(workspace)) && gh pr view \(number) --json state --jq .state 2>/dev/null || echo unknown"
    }

    public static func planStatus(workspace: String, plan: String?) -> String {
        "cd \(q(workspace)) && megaplan status" + (plan.map { " --plan \(q($0))" } ?? "")
    }

    /// Upload by stdin: the bytes travel base64-encoded on standard input (§7.1), never in argv.
    public static func upload(to path: String) -> String {
        "mkdir -p \(q(PosixPath.dirname(path))) && base64 -d > \(q(path))"
    }

    /// Railway's upload (§7.2): the base64 payload in a heredoc inside the command line.
    public static func heredocUpload(to path: String, base64: String) -> String {
        upload(to: path) + " <<'MEGAPLAN_UPLOAD'\n\(base64)\nMEGAPLAN_UPLOAD"
    }

    /// The supervisor's sync refresh (§6.4): a one-line Python program run with `python3 -c`.
    public static func syncRefresh(
        workspace: String, spec: String, branch: String?, prNumber: Int?, extraRepos: [String]?,
        resolvedWorkspace: String?, session: String?
    ) -> String {
        let json = { (value: String) in JSONValue.string(value).serialized() }
        let repos = extraRepos.map { "[" + $0.map(json).joined(separator: ", ") + "]" } ?? "None"
        var program =
            "from megaplan.chain import _capture_sync_state, ChainState, save_chain_state, load_chain_state; from pathlib import Path; _capture_sync_state(Path(\(json(workspace))), Path(\(json(spec))), branch=\(branch.map(json) ?? "None"), pr_number=\(prNumber.map(String.init) ?? "None"), extra_repos=\(repos)); "
        var updates: [String] = []
        if let resolvedWorkspace, !resolvedWorkspace.isEmpty {
            updates.append("s.resolved_workspace = \(json(resolvedWorkspace))")
        }
        if let session, !session.isEmpty { updates.append("s.chain_session = \(json(session))") }
        if !updates.isEmpty {
            program +=
                "s = load_chain_state(Path(\(json(spec)))); " + updates.joined(separator: "; ")
                + "; save_chain_state(Path(\(json(spec))), s)"
        }
        return "cd \(q(workspace)) && python3 -c \(q(program))"
    }

    /// Parses `megaplan status` output (§7.1), with the Railway messages for every provider.
    public static func parseStatusPayload(_ text: String) throws(FleetError) -> JSONObject {
        try JSONObject.parse(
            text, invalid: { "megaplan status did not return JSON: \($0)" },
            notAnObject: "megaplan status did not return a JSON object")
    }
}
