/// The status program's in-process probes (see `RunnerProbes`): Python functions placed into
/// `ObservationScript`'s program at `@IN_PROCESS_PROBES@`, before its main part. They use the
/// program's `a` (its arguments), `q`, `sh`, `cut` and `LIMIT`, and give it `megaplan_probe`
/// (the plan status and the human-verification list) and `python_probe` (the sync refresh).
enum InProcessProbes {
    static let source = #"""
        # In-process probes: megaplan imported once in this interpreter and its commands' own
        # functions called here, with what the commands would print (see RunnerProbes).
        import inspect, os, shutil, signal, sys, tempfile, traceback
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
                if late:
                    raise Late()
                return {'rc': 124, 'out': '', 'err': 'probe timed out after %ss: %s' % (a['timeout'], cmd)}
            out.seek(0)
            err.seek(0)
            return {'rc': rc, 'out': cut(out.read(LIMIT + 1)).decode('utf-8', 'replace'),
                    'err': cut(err.read(LIMIT + 1)).decode('utf-8', 'replace')}
        def megaplan_probe(ws, plan, which):
            # `megaplan status --plan P` or `megaplan verify-human --list --plan P --json` in ws
            # (§4.4, §4.5), called in process when it can, else run; within one run, a probe of
            # the same workspace and plan is read once (the re-read reuses it: see RunnerProbes).
            key = (ws, plan, which)
            if key in FACTS:
                return FACTS[key]
            if which == 'status':
                args, env = ['status', '--plan', plan], {}
                cmd = 'cd %s && megaplan status --plan %s' % (q(ws), q(plan))
            else:
                args, env = ['verify-human', '--list', '--plan', plan, '--json'], {'MEGAPLAN_TRUSTED_CONTAINER': '1'}
                cmd = 'cd %s && MEGAPLAN_TRUSTED_CONTAINER=1 megaplan verify-human --list --plan %s --json' % (q(ws), q(plan))
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
                    and cmd == 'cd %s && python3 -c %s' % (q(words[1]), q(words[5]))
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
        """#
}
