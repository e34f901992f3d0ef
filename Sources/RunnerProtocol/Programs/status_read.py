# The supervisor's status read, run on the runner as `python3 -c` (see ObservationScript in
# RunnerProtocol, which embeds this file at build time and ships it deflated). Everything one status
# read needs, in one remote command: the state, spec and runtime-policy files, the probes of cloud
# reference section 4.10 (their command lines come from RemoteCommands.Probe, in the arguments),
# and, when asked, the sync refresh of section 6.4 and the re-read after it. The arguments are
# base64-encoded JSON, put in place of the placeholder on the next line before the program is sent.
import base64, hashlib, inspect, json, os, re, shlex, shutil, signal, subprocess, sys, tempfile, time, traceback, unicodedata
a = json.loads(base64.b64decode('@ARGS@'))
q = shlex.quote
LIMIT = a['limit']
# The project's deadline (`--deadline BUDGET UNTIL` after the program) on this clock: the
# budget from now, or the wall-clock end when this clock puts it sooner (the command waited
# for a connection) but not in the past.
END = None
if sys.argv[1:2] == ['--deadline']:
    budget, until = float(sys.argv[2]), float(sys.argv[3])
    w = until - time.time()
    END = time.monotonic() + (w if 0 < w < budget else budget)
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
def expired(cmd, late):
    # A probe that ran out of time, run as a command or in process: its answer, or Late when the
    # deadline (not the probe timeout) is what ran out.
    if late:
        raise Late()
    return {'rc': 124, 'out': '', 'err': 'probe timed out after %ss: %s' % (a['timeout'], cmd)}
def fill(template, quote, **values):
    # A template of RemoteCommands with every {slot} replaced, in one pass, by quote(value): the
    # client's RemoteCommands.fill.
    return re.sub(r'\{(\w+)\}', lambda m: quote(values[m.group(1)]), template)
def probe_command(name, **values):
    # A probe's canonical command line, from RemoteCommands.Probe, its values shell-quoted.
    return fill(a['probes'][name], q, **values)
def sh(cmd):
    t, late = probe_time()
    p = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    CHILD[0] = p.pid
    try:
        out, err = p.communicate(timeout=t)
    except subprocess.TimeoutExpired:
        killgroup()
        p.wait()
        return expired(cmd, late)
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
        o['plan_status'] = megaplan_probe(ws, plan, 'plan_status')
    o['runner'] = sh(probe_command('runner', session=n))
    o['stat'] = sh(probe_command('chain_log_stat', log=ws.rstrip('/') + '/' + a['chain_log']))
    if plan:
        o['verify'] = megaplan_probe(ws, plan, 'verify_human')
    pr = st.get('pr_number')
    if probe_pr and st.get('last_state') == 'awaiting_pr_merge' and pr is not None:
        try:
            o['pr_probe'] = sh(probe_command('pull_request', workspace=ws, number=str(int(pr))))
        except (TypeError, ValueError):
            pass
    return o, st
# The sync refresh of a folded tick, built from the client's templates (RemoteCommands.SyncRefresh)
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
    t = a['sync_refresh']
    program = fill(t['capture'], str, workspace=json.dumps(ws), spec=spec, branch='None',
                   pr_number='None' if pr is None else str(pr),
                   extra_repos='[' + ', '.join(json.dumps(r) for r in repos) + ']' if repos else 'None')
    updates = [fill(t['update'], str, field=key, value=json.dumps(value))
               for key, value in (('resolved_workspace', ws), ('chain_session', n)) if value]
    if updates:
        program += fill(t['save'], str, spec=spec, updates='; '.join(updates))
    return fill(t['command'], q, workspace=ws, program=program)
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
# In-process probes: megaplan imported once in this interpreter and its commands' own
# functions called here, with what the commands would print (see RunnerProbes).
ENTRY, FACTS = {}, {}
class ProbeTimeout(BaseException):
    pass
def runs_here(script):
    # Whether the command `script` runs under this interpreter: its #! line names it,
    # directly or through env (the same directory: the same environment's packages).
    try:
        with open(script, 'rb') as f:
            line = f.readline(512).decode()
    except (OSError, UnicodeDecodeError):
        return False
    words = line[2:].split() if line.startswith('#!') else []
    if len(words) == 2 and os.path.basename(words[0]) == 'env':
        words = [shutil.which(words[1]) or '']
    return (len(words) == 1 and os.path.dirname(words[0]) == os.path.dirname(sys.executable)
            and os.path.realpath(words[0]) == os.path.realpath(sys.executable))
def megaplan_entry():
    # megaplan's console entry (`megaplan = "megaplan.cli:cli_entry"`, which exits with
    # `main()`) and the command's path, imported once; None (run the command) when
    # in-process probes are off, the `megaplan` on PATH runs another interpreter, or
    # megaplan.cli.main is missing or takes other arguments.
    if 'main' not in ENTRY:
        ENTRY['main'] = None
        script = shutil.which('megaplan') if a.get('in_process') else None
        if script and runs_here(script):
            # As the command: its packages, not modules in the working directory.
            sys.path[:] = [p for p in sys.path if p not in ('', '.')]
            try:
                from megaplan.cli import main
                first, *rest = list(inspect.signature(main).parameters.values()) or [None]
            except Exception:
                first, rest = None, []
            if (first is not None and first.kind in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD)
                    and all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in rest)):
                ENTRY['main'] = (main, script)
    return ENTRY['main']
def exit_status(code):
    # The exit status of a process ending with sys.exit(code).
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xff
    print(code, file=sys.stderr)
    return 1
def captured(ws, env, cmd, call, program):
    # Runs call() as `cd ws && cmd` would: in ws, with env added, fds 1 and 2 (and so those
    # of any process it starts) in files, the probe timeout as an alarm; cwd, environment,
    # argv and streams restored afterwards. None when it did not run (no such ws) or, for a
    # command, failed with an exception (the command then runs and prints its own
    # traceback); an exception of `program` (the code call() runs) is printed as
    # python3 -c prints it.
    t, late = probe_time()
    try:
        here = os.open('.', os.O_RDONLY)
    except OSError:
        return None
    try:
        os.chdir(ws)
    except OSError:
        os.close(here)
        return None
    saved = dict(os.environ), sys.argv, sys.stdout, sys.stderr
    os.environ.update(env)
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    sys.stdout.flush()
    sys.stderr.flush()
    fds = os.dup(1), os.dup(2)
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    def expire(signum, frame):
        raise ProbeTimeout()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, t)
    rc, timed_out = None, False
    try:
        try:
            rc = exit_status(call())
        except SystemExit as e:
            rc = exit_status(e.code)
        except ProbeTimeout:
            rc, timed_out = 124, True
        except Exception as e:
            if program:
                tb = e.__traceback__
                while tb is not None and tb.tb_frame.f_code is not program:
                    tb = tb.tb_next
                traceback.print_exception(type(e), e, tb, file=sys.stderr)
                rc = 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        os.close(fds[0])
        os.close(fds[1])
        os.environ.clear()
        os.environ.update(saved[0])
        sys.argv, sys.stdout, sys.stderr = saved[1], saved[2], saved[3]
        os.fchdir(here)
        os.close(here)
    if rc is None:
        return None
    if timed_out:
        return expired(cmd, late)
    out.seek(0)
    err.seek(0)
    return {'rc': rc, 'out': cut(out.read(LIMIT + 1)).decode('utf-8', 'replace'),
            'err': cut(err.read(LIMIT + 1)).decode('utf-8', 'replace')}
def megaplan_call(cmd):
    # The arguments and environment of the megaplan command in a `cd WS && [NAME=VALUE...]
    # megaplan ARGS...` probe line (its first three words are cd, WS and &&): what the
    # in-process call passes, read from the one template.
    words = shlex.split(cmd)[3:]
    env = {}
    while words[0] != 'megaplan':
        name, value = words.pop(0).split('=', 1)
        env[name] = value
    return words[1:], env
def megaplan_probe(ws, plan, which):
    # `megaplan status --plan P` or `megaplan verify-human --list --plan P --json` in ws
    # (§4.4, §4.5), called in process when it can, else run; within one run, a probe of
    # the same workspace and plan is read once (the re-read reuses it: see RunnerProbes).
    key = (ws, plan, which)
    if key in FACTS:
        return FACTS[key]
    cmd = probe_command(which, workspace=ws, plan=plan)
    args, env = megaplan_call(cmd)
    entry = megaplan_entry()
    probe = None
    if entry:
        def call():
            sys.argv = [entry[1]] + args
            return entry[0](list(args))
        probe = captured(ws, env, cmd, call, None)
    probe = dict(probe, probe_mode='in_process') if probe else dict(sh(cmd), probe_mode='command')
    if a.get('in_process'):
        FACTS[key] = probe
    return probe
def python_probe(cmd):
    # A `cd WS && python3 -c PROGRAM` command (the sync refresh) with its program run in
    # this interpreter, compiled and printing as `python3 -c` would; the command itself
    # when in-process probes are off, the command has another shape, or WS holds modules
    # of the names the program imports (which python3 there would import instead).
    try:
        words = shlex.split(cmd)
    except ValueError:
        words = []
    if (a.get('in_process') and len(words) == 6 and words[0] == 'cd' and words[2:5] == ['&&', 'python3', '-c']
            and cmd == fill(a['sync_refresh']['command'], q, workspace=words[1], program=words[5])
            and not any(os.path.lexists(os.path.join(words[1], n)) for n in ('megaplan', 'megaplan.py', 'pathlib', 'pathlib.py'))):
        sys.path[:] = [p for p in sys.path if p not in ('', '.')]
        try:
            program = compile(words[5], '<string>', 'exec')
        except (SyntaxError, ValueError):
            program = None
        def call():
            sys.argv = ['-c']
            exec(program, {'__name__': '__main__', '__builtins__': __builtins__})
        probe = captured(words[1], {}, cmd, call, program) if program else None
        if probe:
            return dict(probe, probe_mode='in_process')
    return dict(sh(cmd), probe_mode='command')
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
