"""Stand-in for `megaplan.cli`, core megaplan's command line: `main(argv)` answers the
sub-commands megaplan-fleet calls with the shapes of the cloud reference (§4.4, §4.5, §11.1) and
records every call, so tests can assert what the runner was asked. The `megaplan` command is
`cli_entry` (as core megaplan's console script is), and the supervisor's status program may call
`main` in its own interpreter instead: both must answer alike. Answers come from files in
`<cwd>/.stub/` (the workspace), written by the tests:
  status.json     what `megaplan status` prints (default: an executing plan)
  status_exit     exit status of `megaplan status` (default 0)
  status_sleep    seconds `megaplan status` waits before answering (default 0)
  status_stderr   what `megaplan status` writes to stderr (default nothing)
  status_raise    `megaplan status` fails with an uncaught exception carrying this text
  verify.json     what `megaplan verify-human --list --json` prints
  chain_sleep     seconds `megaplan chain start` stays alive in its tmux session (default 300)
Every call is appended to `<cwd>/.stub/calls.jsonl` as {"argv": [...], "cwd": ...}.
"""
import json
import os
import sys
import time


def _stub_directory():
    stub = os.path.join(os.getcwd(), ".stub")
    if not os.path.isdir(stub):
        stub = os.path.join(os.path.expanduser("~"), ".megaplan-stub")
        os.makedirs(stub, exist_ok=True)
    return stub


def _read(stub, name, default=None):
    try:
        with open(os.path.join(stub, name)) as handle:
            return handle.read()
    except OSError:
        return default


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    stub = _stub_directory()
    with open(os.path.join(stub, "calls.jsonl"), "a") as log:
        log.write(json.dumps({"argv": args, "cwd": os.getcwd()}) + "\n")
    if not args:
        print("usage: megaplan <command>", file=sys.stderr)
        return 2

    if args[0] == "status":
        time.sleep(float((_read(stub, "status_sleep", "0") or "0").strip()))
        failure = _read(stub, "status_raise")
        if failure is not None:
            raise RuntimeError(failure.strip())
        plan = args[args.index("--plan") + 1] if "--plan" in args else None
        sys.stdout.write(
            _read(stub, "status.json", json.dumps({"state": "executing", "next_step": "execute", "plan": plan})))
        sys.stderr.write(_read(stub, "status_stderr", ""))
        return int((_read(stub, "status_exit", "0") or "0").strip())

    if args[0] == "verify-human":
        default = {"success": True, "step": "verify-human", "plan": None, "semantics": "latest_verdict",
                   "pending": 1, "verified": 0, "all_deferred_must_verified": False, "rows": []}
        sys.stdout.write(_read(stub, "verify.json", json.dumps(default)))
        return 0

    if args[:2] == ["chain", "start"]:
        time.sleep(float((_read(stub, "chain_sleep", "300") or "300").strip()))
        return 0

    print("megaplan " + " ".join(args))
    return 0


def cli_entry():
    sys.exit(main())
