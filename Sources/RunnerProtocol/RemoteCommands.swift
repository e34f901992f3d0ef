import FleetCore

/// The canonical remote command lines of cloud reference §4.10, assembled with the reference's
/// quoting rule so they match it byte for byte.
public enum RemoteCommands {
    static func q(_ value: String) -> String { ShellQuote.quote(value) }

    public static let chainLog = ".megaplan/cloud-chain.log"

    public static func ensureRepo(url: String, branch: String, workspace: String) -> String {
        "mkdir -p \(q(PosixPath.dirname(workspace))) && if [ ! -d \(q(PosixPath.join(workspace, ".git"))) ]; then git clone --branch \(q(branch)) -- \(q(url)) \(q(workspace)); else true; fi"
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
        "mkdir -p \(q(PosixPath.join(workspace, ".megaplan"))) && if tmux has-session -t \(q(session)) 2>/dev/null; then echo \(q(session + " session already running")); else tmux new-session -d -s \(q(session)) -c \(q(workspace)) \(q(chainStart(spec: spec, one: false))); echo \(q("started " + session + " session")); fi"
    }

    public static func tmuxRestart(workspace: String, spec: String, session: String) -> String {
        "mkdir -p \(q(PosixPath.join(workspace, ".megaplan"))) && tmux kill-session -t \(q(session)) 2>/dev/null; tmux new-session -d -s \(q(session)) -c \(q(workspace)) \(q(chainStart(spec: spec, one: true))); echo \(q("restarted " + session + " session"))"
    }

    /// The probes of one status read (§4.10), as templates whose `{slot}`s each take one
    /// shell-quoted value. The one table of these command lines: the client renders it here and
    /// the runner's status program (`status_read.py`) receives it in its arguments and renders it
    /// the same way, so the two cannot drift.
    public enum Probe: String, CaseIterable, Sendable {
        case runner
        case chainLogStat = "chain_log_stat"
        case planStatus = "plan_status"
        case verifyHuman = "verify_human"
        case pullRequest = "pull_request"

        public var template: String {
            switch self {
            case .runner: "tmux has-session -t {session} 2>/dev/null && echo alive || echo dead"
            case .chainLogStat: "stat -c '%Y %s' {log} 2>/dev/null || echo unavailable"
            case .planStatus: "cd {workspace} && megaplan status --plan {plan}"
            case .verifyHuman:
                "cd {workspace} && MEGAPLAN_TRUSTED_CONTAINER=1 megaplan verify-human --list --plan {plan} --json"
            case .pullRequest:
                "cd {workspace} && gh pr view {number} --json state --jq .state 2>/dev/null || echo unknown"
            }
        }

        /// The command line with every `{slot}` replaced by its value quoted; the status program's
        /// `probe_command` does the same.
        public func command(_ values: [String: String]) -> String { fill(template, values, quote: q) }

        /// The table as the status program's arguments take it: name to template.
        public static var templates: JSONValue {
            .object(JSONObject(allCases.map { ($0.rawValue, JSONValue.string($0.template)) }))
        }
    }

    public static func verifyHuman(workspace: String, plan: String) -> String {
        Probe.verifyHuman.command(["workspace": workspace, "plan": plan])
    }

    public static func prProbe(workspace: String, number: Int) -> String {
        Probe.pullRequest.command(["workspace": workspace, "number": String(number)])
    }

    /// `plan` nil: the status of the workspace's current plan (the command without `--plan`).
    public static func planStatus(workspace: String, plan: String?) -> String {
        guard let plan else { return "cd \(q(workspace)) && megaplan status" }
        return Probe.planStatus.command(["workspace": workspace, "plan": plan])
    }

    /// Upload by stdin: the bytes travel base64-encoded on standard input (§7.1), never in argv.
    public static func upload(to path: String) -> String {
        "mkdir -p \(q(PosixPath.dirname(path))) && base64 -d > \(q(path))"
    }

    /// Railway's upload (§7.2): the base64 payload in a heredoc inside the command line.
    public static func heredocUpload(to path: String, base64: String) -> String {
        upload(to: path) + " <<'MEGAPLAN_UPLOAD'\n\(base64)\nMEGAPLAN_UPLOAD"
    }

    /// The supervisor's sync refresh (§6.4), `python3 -c` with a one-line program, as templates:
    /// `command`'s slots take shell-quoted values, the program's (`capture`, then `save` with its
    /// `update`s when there are any) take Python literals. The status program builds the folded
    /// tick's refresh from the same templates (they are in its arguments).
    public enum SyncRefresh {
        public static let command = "cd {workspace} && python3 -c {program}"
        public static let capture =
            "from megaplan.chain import _capture_sync_state, ChainState, save_chain_state, load_chain_state; from pathlib import Path; _capture_sync_state(Path({workspace}), Path({spec}), branch={branch}, pr_number={pr_number}, extra_repos={extra_repos}); "
        public static let save =
            "s = load_chain_state(Path({spec})); {updates}; save_chain_state(Path({spec}), s)"
        public static let update = "s.{field} = {value}"

        /// The templates as the status program's arguments take them.
        public static var templates: JSONValue {
            [
                "command": .string(command), "capture": .string(capture), "save": .string(save),
                "update": .string(update),
            ]
        }
    }

    public static func syncRefresh(
        workspace: String, spec: String, branch: String?, prNumber: Int?, extraRepos: [String]?,
        resolvedWorkspace: String?, session: String?
    ) -> String {
        let literal = { (value: String) in JSONValue.string(value).serialized() }
        let asIs = { (value: String) in value }
        var program = fill(
            SyncRefresh.capture,
            [
                "workspace": literal(workspace), "spec": literal(spec),
                "branch": branch.map(literal) ?? "None",
                "pr_number": prNumber.map(String.init) ?? "None",
                "extra_repos": extraRepos.map { "[" + $0.map(literal).joined(separator: ", ") + "]" }
                    ?? "None",
            ], quote: asIs)
        let updates = [("resolved_workspace", resolvedWorkspace), ("chain_session", session)].compactMap {
            field, value in
            value.flatMap {
                $0.isEmpty
                    ? nil : fill(SyncRefresh.update, ["field": field, "value": literal($0)], quote: asIs)
            }
        }
        if !updates.isEmpty {
            program += fill(
                SyncRefresh.save, ["spec": literal(spec), "updates": updates.joined(separator: "; ")],
                quote: asIs)
        }
        return fill(SyncRefresh.command, ["workspace": workspace, "program": program], quote: q)
    }

    /// `template` with every `{slot}` replaced, in one pass, by `quote` of its value (a slot
    /// without a value stays as it is): inserted text is never read again for slots. The status
    /// program's `fill` is the same.
    static func fill(_ template: String, _ values: [String: String], quote: (String) -> String) -> String {
        var line = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            line += rest[..<open]
            let slot = String(rest[rest.index(after: open)..<close])
            line += values[slot].map(quote) ?? String(rest[open...close])
            rest = rest[rest.index(after: close)...]
        }
        return line + rest
    }

    /// Parses `megaplan status` output (§7.1), with the Railway messages for every provider.
    public static func parseStatusPayload(_ text: String) throws(FleetError) -> JSONObject {
        try JSONObject.parse(
            text, invalid: { "megaplan status did not return JSON: \($0)" },
            notAnObject: "megaplan status did not return a JSON object")
    }
}
