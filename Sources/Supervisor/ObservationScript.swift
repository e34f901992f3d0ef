import FleetCore
import Transport

/// Everything one status read needs, gathered by ONE remote command instead of the reference's
/// six or seven: a small Python program (the runner has Python, core megaplan is Python) reads
/// the state, spec and runtime-policy files and runs the reference's probe command lines (§4.10,
/// built with `shlex.quote`, the rule our quoting copies) against the workspace and session it
/// resolves with the §5.3 precedence. It can also run the supervisor's sync refresh and observe
/// again, so a whole tick's reads (observe, refresh, re-read) cost one command.
enum ObservationScript {
    /// What one run does besides the observation.
    enum Mode: Equatable {
        /// Observe only (a status read, a dry-run tick).
        case observe
        /// Run this sync refresh (§6.4), then observe again.
        case refresh(String)
        /// Observe, then build the sync refresh from what was observed and run it, then observe
        /// again: a whole tick's reads in one command. The runner resolves the refresh's arguments
        /// from the state it just read, with the repositories the client knows (cloud.yaml's
        /// before the state's, the marker's after). It declines (runs nothing) unless the status
        /// read will succeed on the client (the state has the types `ChainState` accepts, the spec
        /// has the digest of one the client parsed) and its resolution cannot differ from the
        /// client's; the client checks the command it ran.
        case observeAndRefresh(RepoCandidates, specDigest: String?)
    }

    /// Arguments for one run, serialized as a JSON literal inside the program.
    struct Request {
        var spec: String
        var fallbackWorkspace: String
        var fallbackSession: String
        var mode: Mode
        var probeTimeout: Int
        /// Seconds the whole run may take (the project's deadline, less a margin), or nil: no
        /// bound but each probe's. Past it the program stops its probe (the probe's whole
        /// process group), runs no refresh, and exits 124.
        var budget: Double? = nil
        /// The same end as a wall-clock time (seconds since 1970), so time the command spent
        /// waiting for a connection is not granted twice; used only when the runner's clock
        /// makes it fall within `budget`.
        var until: Double? = nil
        var probes = RunnerProbes.inProcess

        var json: JSONValue {
            var refresh: String?
            var fold: JSONValue = .null
            switch mode {
            case .observe: break
            case .refresh(let command): refresh = command
            case .observeAndRefresh(let repos, let digest):
                fold = [
                    "before": .strings(repos.beforeState), "after": .strings(repos.afterState),
                    "spec_sha256": .optional(digest),
                ]
            }
            return .object([
                "spec": .string(spec),
                "state": .string(ChainPaths.stateFile(spec: spec)),
                "policy": .string(ChainPaths.runtimePolicyFile(spec: spec)),
                "fallback_workspace": .string(fallbackWorkspace),
                "fallback_session": .string(fallbackSession),
                "refresh": .optional(refresh),
                "fold": fold,
                "timeout": .int(probeTimeout),
                "budget": budget.map(JSONValue.double) ?? .null,
                "until": until.map(JSONValue.double) ?? .null,
                "in_process": .bool(probes == .inProcess),
                "limit": .int(OutputLimits.remoteText),
            ])
        }
    }

    /// The line prefix that marks the result, so login-shell noise before it is skipped.
    static let resultPrefix = "MEGAPLAN-FLEET-OBSERVATION "

    static func command(_ request: Request) -> String {
        // Base64 keeps any byte of any path out of the program's own syntax.
        let program = source.replacingAll("@IN_PROCESS_PROBES@", with: InProcessProbes.source)
            .replacingAll("@ARGS@", with: Base64.encode(Array(request.json.serialized().utf8)))
        // Shipped deflated in base64: a command free of quotes stays small however deeply it is
        // wrapped (`bash -lc`, `timeout … sh -c`), where every wrapping multiplies the quotes of
        // a program text, which then outgrew what sshd takes in one request.
        guard let packed = Deflate.zlib(Array(program.utf8)) else {
            return "python3 -c \(ShellQuote.quote(program))"
        }
        let loader =
            "import base64, zlib; exec(zlib.decompress(base64.b64decode('\(Base64.encode(packed))')))"
        return "python3 -c \(ShellQuote.quote(loader))"
    }

    private static let source = #"""
        import base64, hashlib, json, os, re, shlex, signal, subprocess, sys, time, unicodedata
        a = json.loads(base64.b64decode('@ARGS@'))
        q = shlex.quote
        LIMIT = a['limit']
        # The project's deadline on this clock: the budget from now, or the wall-clock end when
        # this clock puts it sooner (the command waited for a connection) but not in the past.
        END = None
        if a.get('budget') is not None:
            w = a['until'] - time.time() if a.get('until') is not None else a['budget']
            END = time.monotonic() + (w if 0 < w < a['budget'] else a['budget'])
        # A refresh needs about a second: with less left, it is skipped rather than cut.
        REFRESH_RESERVE = 1.0
        class Late(Exception):
            pass
        def left():
            return None if END is None else END - time.monotonic()
        # Each probe runs in a process group of its own, stopped whole (sh, megaplan, whatever
        # they started) at its timeout, at the deadline, and when this program is told to stop.
        CHILD = [None]
        def killgroup():
            if CHILD[0] is not None:
                try:
                    os.killpg(CHILD[0], signal.SIGKILL)
                except OSError:
                    pass
        def stop(signum, frame):
            killgroup()
            os._exit(124)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGHUP, stop)
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
        def probe_time():
            # The probe timeout, or what is left of the deadline when that comes sooner (late:
            # running out is then the deadline's, not the probe's); past the deadline, Late.
            t, late = a['timeout'], False
            remaining = left()
            if remaining is not None:
                if remaining <= 0:
                    raise Late()
                t, late = min(t, remaining), remaining < t
            return t, late
        def sh(cmd):
            t, late = probe_time()
            p = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
            CHILD[0] = p.pid
            try:
                out, err = p.communicate(timeout=t)
            except subprocess.TimeoutExpired:
                killgroup()
                p.wait()
                if late:
                    raise Late()
                return {'rc': 124, 'out': '', 'err': 'probe timed out after %ss: %s' % (a['timeout'], cmd)}
            finally:
                CHILD[0] = None
            return {'rc': p.returncode, 'out': cut(out).decode('utf-8', 'replace'),
                    'err': cut(err).decode('utf-8', 'replace')}
        def text(value):
            return value if isinstance(value, str) and value.strip() else None
        def norm(p):
            # PosixPath.normalize (§0.6): '//' and '.' segments collapse, '..' stays.
            body = '/'.join(s for s in p.split('/') if s and s != '.')
            return '/' + body if p.startswith('/') else body or '.'
        def workspace(st):
            ws = text(st.get('resolved_workspace'))
            return norm(ws) if ws else a['fallback_workspace']
        def observe(probe_pr):
            o = {'state': read(a['state'])}
            o['spec'] = read(a['spec'])
            o['policy'] = read(a['policy'])
            try:
                st = json.loads(o['state']['text'])
            except Exception:
                return o, None
            if not isinstance(st, dict):
                return o, None
            ws = workspace(st)
            n = text(st.get('chain_session')) or a['fallback_session']
            plan = st.get('current_plan_name')
            plan = plan if isinstance(plan, str) and plan else None
            o['context'] = {'workspace': ws, 'session': n}
            if plan:
                o['plan_status'] = megaplan_probe(ws, plan, 'status')
            o['runner'] = sh('tmux has-session -t %s 2>/dev/null && echo alive || echo dead' % q(n))
            o['stat'] = sh("stat -c '%%Y %%s' %s 2>/dev/null || echo unavailable" % q(ws.rstrip('/') + '/.megaplan/cloud-chain.log'))
            if plan:
                o['verify'] = megaplan_probe(ws, plan, 'verify')
            pr = st.get('pr_number')
            if probe_pr and st.get('last_state') == 'awaiting_pr_merge' and pr is not None:
                try:
                    o['pr_probe'] = sh('cd %s && gh pr view %d --json state --jq .state 2>/dev/null || echo unknown' % (q(ws), int(pr)))
                except (TypeError, ValueError):
                    pass
            return o, st
        # The sync refresh of a folded tick, built exactly as the client's RemoteCommands.syncRefresh
        # from the state as the client's ChainState and ChainContext read it. Wherever Python and
        # Swift could read a value differently (exotic whitespace, Unicode-equal names, integers
        # out of range), it returns None and the client runs the refresh itself.
        ASCII_SPACE = ' \t\n\r\x0b\x0c'
        def plain(s):
            return s.strip() == s.strip(ASCII_SPACE)
        def integer(v):
            if v is None or isinstance(v, (bool, int)):
                n = None if v is None else int(v)
            elif isinstance(v, float) and v == v and abs(v) < 1e18:
                n = int(v)
            elif isinstance(v, str) and plain(v) and re.fullmatch('[+-]?[0-9]+', v.strip()):
                n = int(v.strip())
            else:
                raise ValueError(v)
            if n is not None and not -(1 << 63) <= n < (1 << 63):
                raise ValueError(v)
            return n
        def comparable(v):
            # The client's ChainState.comparableIndex: an index that is only compared may be any
            # integer, a finite float, a boolean or plain digits; it saturates there beyond 64 bits.
            if isinstance(v, (bool, int)):
                return True
            if isinstance(v, float):
                return v == v and abs(v) != float('inf')
            return isinstance(v, str) and plain(v) and re.fullmatch('[+-]?[0-9]+', v.strip()) is not None
        def shallow(v):
            # The client's JSON reader refuses nesting of 512 levels (JSONValue.maximumDepth);
            # level by level, since recursion this deep would exhaust Python's stack.
            level = [v]
            for _ in range(500):
                level = [x for y in level for x in (y.values() if isinstance(y, dict) else y if isinstance(y, list) else ())]
                if not level:
                    return True
            return False
        def accepted(st):
            # The types the client's ChainState requires; anything else fails its status read.
            if not shallow(st):
                return False
            try:
                if 'current_milestone_index' in st and not comparable(st['current_milestone_index']):
                    return False
                integer(st.get('pr_number'))
            except ValueError:
                return False
            keys = ('current_plan_name', 'last_state', 'pr_state', 'branch_head', 'pr_head', 'last_pushed_commit', 'sync_state')
            return all(st.get(k) is None or isinstance(st.get(k), str) for k in keys) and isinstance(st.get('completed', []), (list, type(None)))
        def refresh_command(o, st):
            spec_text = o['spec'].get('text')
            if spec_text is None or a['fold']['spec_sha256'] != hashlib.sha256(spec_text.encode('utf-8')).hexdigest():
                return None
            if not accepted(st):
                return None
            texts = [v for v in (st.get('resolved_workspace'), st.get('chain_session')) if isinstance(v, str)]
            xs = st.get('extra_repos')
            listed = xs if isinstance(xs, list) and all(isinstance(x, str) and x for x in xs) else []
            if not all(plain(s) for s in texts + listed):
                return None
            pr = integer(st.get('pr_number'))
            repos, keys = [], []
            for r in a['fold']['before'] + [x for x in listed if x.strip()] + a['fold']['after']:
                k = unicodedata.normalize('NFC', r)
                if (r in repos) != (k in keys):
                    return None
                if r not in repos:
                    repos.append(r)
                    keys.append(k)
            ws = workspace(st)
            n = text(st.get('chain_session')) or a['fallback_session']
            spec = json.dumps(a['spec'])
            program = ('from megaplan.chain import _capture_sync_state, ChainState, save_chain_state, load_chain_state; '
                'from pathlib import Path; _capture_sync_state(Path(%s), Path(%s), branch=None, pr_number=%s, extra_repos=%s); '
                % (json.dumps(ws), spec, 'None' if pr is None else str(pr),
                   '[' + ', '.join(json.dumps(r) for r in repos) + ']' if repos else 'None'))
            updates = ['s.%s = %s' % (key, json.dumps(value))
                       for key, value in (('resolved_workspace', ws), ('chain_session', n)) if value]
            if updates:
                program += 's = load_chain_state(Path(%s)); %s; save_chain_state(Path(%s), s)' % (spec, '; '.join(updates), spec)
            return 'cd %s && python3 -c %s' % (q(ws), q(program))
        def refresh(cmd):
            # Never after the client stopped waiting: with too little of the deadline left, the
            # refresh does not start (and one that overruns is stopped at the deadline).
            remaining = left()
            if remaining is not None and remaining < REFRESH_RESERVE:
                result['refresh_skipped'] = 'less than %gs of the deadline left' % REFRESH_RESERVE
                return
            result['refresh'] = dict(python_probe(cmd), cmd=cmd)
            if result['refresh']['rc'] == 0:
                result['reread'] = observe(True)[0]
        @IN_PROCESS_PROBES@
        result = {}
        try:
            if a['refresh']:
                refresh(a['refresh'])
            else:
                result['observation'], st = observe(False)
                cmd = refresh_command(result['observation'], st) if a['fold'] and st is not None else None
                if cmd:
                    refresh(cmd)
        except Late:
            sys.stderr.write('megaplan-fleet: the deadline passed on the runner; probes stopped\n')
            sys.exit(124)
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
    /// For megaplan's probes: whether the runner called megaplan in its status program or ran
    /// the command (`probe_mode`).
    var mode: RunnerProbes? = nil

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

/// The sync refresh one script run performed: the command it ran and how it ended.
struct RefreshRun: Sendable, Equatable {
    var command: String
    var outcome: ProbeOutcome
}

/// The decoded result of one script run.
struct ObservationResult: Sendable, Equatable {
    /// The first observation (absent when the run was a refresh and re-read only).
    var observation: Observation?
    var refresh: RefreshRun?
    /// Why the runner did not start the refresh (too little of the deadline left), if so.
    var refreshSkipped: String?
    /// The observation after a successful refresh.
    var reread: Observation?

    /// Decodes the script's stdout; anything else (a runner without python3, garbage, truncated
    /// output) is a clear `provider_failed` error naming the runner.
    static func decode(_ output: RunnerOutput, host: String) throws(FleetError) -> ObservationResult {
        // Bytes, not Characters: a reply is up to `OutputLimits.statusReply` of untrusted text.
        let prefix = ObservationScript.resultPrefix.utf8
        guard output.status == 0,
            let line = output.stdout.utf8.split(separator: UInt8(ascii: "\n")).last(where: {
                $0.starts(with: prefix)
            })
        else {
            let detail = output.stderr.trimmed.isEmpty ? output.stdout.trimmed : output.stderr.trimmed
            throw FleetError(
                .providerFailed,
                "runner \(host) did not answer the status read (exit \(output.status)): \(TextCut.excerpt(detail))",
                kind: "remote_error")
        }
        guard case .object(let object)? = try? JSONValue.parse(utf8: line.dropFirst(prefix.count)) else {
            throw FleetError(
                .providerFailed, "runner \(host) returned an unreadable status read", kind: "remote_error")
        }
        var result = ObservationResult()
        result.observation = observation(object["observation"])
        if let outcome = probe(object["refresh"]), let command = object["refresh"]?["cmd"]?.stringValue {
            result.refresh = RefreshRun(command: command, outcome: outcome)
        }
        result.reread = observation(object["reread"])
        result.refreshSkipped = object["refresh_skipped"]?.stringValue
        return result
    }

    private static func observation(_ value: JSONValue?) -> Observation? {
        guard case .object(let observed)? = value else { return nil }
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
        return observation
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
            stderr: value["err"]?.stringValue ?? "",
            mode: value["probe_mode"]?.stringValue.flatMap(RunnerProbes.init(rawValue:)))
    }
}
