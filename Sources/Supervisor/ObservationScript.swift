import FleetCore
import Transport

/// Everything one status read needs, gathered by ONE remote command instead of the reference's
/// six or seven: a small Python program (the runner has Python, core megaplan is Python) reads
/// the state, spec and runtime-policy files and runs the reference's probe command lines (§4.10,
/// built with `shlex.quote`, the rule our quoting copies) against the workspace and session it
/// resolves with the §5.3 precedence. With a refresh command it first runs the supervisor's sync
/// refresh and then observes again, so a tick's refresh and re-read also cost one command.
enum ObservationScript {
    /// Arguments for one run, serialized as a JSON literal inside the program.
    struct Request {
        var spec: String
        var fallbackWorkspace: String
        var fallbackSession: String
        var refreshCommand: String?
        var probePullRequest: Bool
        var probeTimeout: Int

        var json: JSONValue {
            .object([
                "spec": .string(spec),
                "state": .string(ChainPaths.stateFile(spec: spec)),
                "policy": .string(ChainPaths.runtimePolicyFile(spec: spec)),
                "fallback_workspace": .string(fallbackWorkspace),
                "fallback_session": .string(fallbackSession),
                "refresh": .optional(refreshCommand),
                "probe_pr": .bool(probePullRequest),
                "timeout": .int(probeTimeout),
            ])
        }
    }

    /// The line prefix that marks the result, so login-shell noise before it is skipped.
    static let resultPrefix = "MEGAPLAN-FLEET-OBSERVATION "

    static func command(_ request: Request) -> String {
        // Base64 keeps any byte of any path out of the program's own syntax.
        let program = source.replacingAll(
            "@ARGS@", with: Base64.encode(Array(request.json.serialized().utf8)))
        return "python3 -c \(ShellQuote.quote(program))"
    }

    private static let source = #"""
        import base64, json, shlex, subprocess
        a = json.loads(base64.b64decode('@ARGS@'))
        q = shlex.quote
        LIMIT = 8 << 20
        def read(path):
            try:
                with open(path, 'rb') as f:
                    data = f.read(LIMIT + 1)
                if len(data) > LIMIT:
                    return {'error': 'cat: %s: file larger than %d bytes' % (path, LIMIT)}
                return {'text': data.decode('utf-8', 'replace')}
            except OSError as e:
                return {'error': 'cat: %s: %s' % (path, e.strerror or e)}
        def cut(data):
            # Past the limit, also drop the word the cut splits: a secret cut in two could not be
            # recognised by redaction on the client.
            if len(data) <= LIMIT:
                return data
            data = data[:LIMIT]
            return data[:max(data.rfind(c) for c in (b' ', b'\n', b'\t', b'\r', b'\x0b', b'\x0c')) + 1]
        def sh(cmd):
            try:
                r = subprocess.run(cmd, shell=True, capture_output=True, timeout=a['timeout'])
                return {'rc': r.returncode, 'out': cut(r.stdout).decode('utf-8', 'replace'),
                        'err': cut(r.stderr).decode('utf-8', 'replace')}
            except subprocess.TimeoutExpired:
                return {'rc': 124, 'out': '', 'err': 'probe timed out after %ss: %s' % (a['timeout'], cmd)}
        def text(value):
            return value if isinstance(value, str) and value.strip() else None
        def observe():
            o = {'state': read(a['state'])}
            o['spec'] = read(a['spec'])
            o['policy'] = read(a['policy'])
            try:
                st = json.loads(o['state']['text'])
            except Exception:
                return o
            if not isinstance(st, dict):
                return o
            ws = text(st.get('resolved_workspace')) or a['fallback_workspace']
            n = text(st.get('chain_session')) or a['fallback_session']
            plan = st.get('current_plan_name')
            plan = plan if isinstance(plan, str) and plan else None
            o['context'] = {'workspace': ws, 'session': n}
            if plan:
                o['plan_status'] = sh('cd %s && megaplan status --plan %s' % (q(ws), q(plan)))
            o['runner'] = sh('tmux has-session -t %s 2>/dev/null && echo alive || echo dead' % q(n))
            o['stat'] = sh("stat -c '%%Y %%s' %s 2>/dev/null || echo unavailable" % q(ws + '/.megaplan/cloud-chain.log'))
            if plan:
                o['verify'] = sh('cd %s && MEGAPLAN_TRUSTED_CONTAINER=1 megaplan verify-human --list --plan %s --json' % (q(ws), q(plan)))
            pr = st.get('pr_number')
            if a['probe_pr'] and st.get('last_state') == 'awaiting_pr_merge' and pr is not None:
                try:
                    o['pr_probe'] = sh('cd %s && gh pr view %d --json state --jq .state 2>/dev/null || echo unknown' % (q(ws), int(pr)))
                except (TypeError, ValueError):
                    pass
            return o
        result = {}
        if a['refresh']:
            result['refresh'] = sh(a['refresh'])
            if result['refresh']['rc'] == 0:
                result['observation'] = observe()
        else:
            result['observation'] = observe()
        print('MEGAPLAN-FLEET-OBSERVATION ' + json.dumps(result))
        """#
}

/// A file read on the runner: its text or the error `cat` would have printed.
struct RemoteRead: Sendable, Equatable {
    var text: String?
    var error: String?
}

/// One probe command's outcome on the runner.
struct ProbeOutcome: Sendable, Equatable {
    var status: Int32
    var stdout: String
    var stderr: String

    /// The reference's provider error for a non-zero probe (§0.5).
    var failureMessage: String? {
        guard status != 0 else { return nil }
        let trimmed = stderr.trimmed
        return trimmed.isEmpty ? "Command failed (exit \(status))" : trimmed
    }
}

/// What one observation saw on the runner, before any interpretation.
struct Observation: Sendable, Equatable {
    var state = RemoteRead()
    var spec = RemoteRead()
    var policy = RemoteRead()
    var workspace: String?
    var session: String?
    var planStatus: ProbeOutcome?
    var runner: ProbeOutcome?
    var stat: ProbeOutcome?
    var verify: ProbeOutcome?
    var pullRequest: ProbeOutcome?
}

/// The decoded result of one script run.
struct ObservationResult: Sendable, Equatable {
    var refresh: ProbeOutcome?
    var observation: Observation?

    /// Decodes the script's stdout; anything else (a runner without python3, garbage, truncated
    /// output) is a clear `provider_failed` error naming the runner.
    static func decode(_ output: RunnerOutput, host: String) throws(FleetError) -> ObservationResult {
        guard output.status == 0,
            let line = output.stdout.split(separator: "\n").last(where: {
                $0.hasPrefix(ObservationScript.resultPrefix)
            })
        else {
            let detail = output.stderr.trimmed.isEmpty ? output.stdout.trimmed : output.stderr.trimmed
            throw FleetError(
                .providerFailed,
                "runner \(host) did not answer the status read (exit \(output.status)): \(excerpt(detail))",
                kind: "remote_error")
        }
        let body = String(line.dropFirst(ObservationScript.resultPrefix.count))
        guard case .object(let object)? = try? JSONValue.parse(body) else {
            throw FleetError(
                .providerFailed, "runner \(host) returned an unreadable status read", kind: "remote_error")
        }
        var result = ObservationResult()
        result.refresh = probe(object["refresh"])
        if case .object(let observed)? = object["observation"] {
            var observation = Observation()
            observation.state = read(observed["state"])
            observation.spec = read(observed["spec"])
            observation.policy = read(observed["policy"])
            observation.workspace = observed["context"]?["workspace"]?.stringValue
            observation.session = observed["context"]?["session"]?.stringValue
            observation.planStatus = probe(observed["plan_status"])
            observation.runner = probe(observed["runner"])
            observation.stat = probe(observed["stat"])
            observation.verify = probe(observed["verify"])
            observation.pullRequest = probe(observed["pr_probe"])
            result.observation = observation
        }
        return result
    }

    /// The first `limit` characters of remote text for a message. Redaction happens later, on the
    /// whole line, so a cut must not leave the first part of a secret that the redactor would no
    /// longer recognise: a word the cut splits is dropped whole.
    static func excerpt(_ text: String, limit: Int = 500) -> String {
        guard let end = text.index(text.startIndex, offsetBy: limit, limitedBy: text.endIndex),
            end < text.endIndex
        else { return text }
        if text[end].isWhitespace { return String(text[..<end]) + " …" }
        guard let space = text[..<end].lastIndex(where: \.isWhitespace) else { return "…" }
        return String(text[..<space]) + " …"
    }

    private static func read(_ value: JSONValue?) -> RemoteRead {
        RemoteRead(
            text: value?["text"]?.stringValue,
            error: value?["error"]?.stringValue ?? (value == nil ? "not read" : nil))
    }

    private static func probe(_ value: JSONValue?) -> ProbeOutcome? {
        guard let value, case .int(let status)? = value["rc"] else { return nil }
        return ProbeOutcome(
            status: Int32(clamping: status), stdout: value["out"]?.stringValue ?? "",
            stderr: value["err"]?.stringValue ?? "")
    }
}
