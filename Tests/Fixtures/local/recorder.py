#!/usr/bin/python3
"""Stand-in for docker, docker-compose and railway on this machine, for the CLI tests.

Every call is appended to $STUB_LOG as one JSON line {"program", "argv", "stdin", "cwd"}.
Behaviour (all optional, from the environment):
  STUB_NO_COMPOSE=1        `docker compose ...` fails like a docker 20.10 without the compose plugin
                           (=28: like docker 28)
  STUB_FOLLOW_SLEEP=N      follow-mode logs stay open N seconds after their lines
  STUB_SERVICES=TEXT       what `railway service status` prints
  STUB_FAIL=WORD           any call whose argv contains WORD exits 1 with "stub failure: WORD"
`exec ... bash -lc CMD` (compose) and `railway ssh ... -- CMD` run CMD with bash, as a runner would.
"""
import json
import os
import subprocess
import sys
import time

program = os.path.basename(sys.argv[0])
args = sys.argv[1:]
data = ""
try:
    if not os.isatty(0):
        data = sys.stdin.read()
except OSError:
    pass
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps({"program": program, "argv": args, "stdin": data, "cwd": os.getcwd()}) + "\n")


def run(command):
    result = subprocess.run(["bash", "-c", command], input=data, capture_output=True, text=True)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    sys.exit(result.returncode)


fail = os.environ.get("STUB_FAIL")
if fail and fail in args:
    sys.stderr.write("stub failure: %s\n" % fail)
    sys.exit(1)

if program == "docker" and args[:1] == ["compose"] and os.environ.get("STUB_NO_COMPOSE") == "28":
    sys.stderr.write("docker: unknown command: docker compose\n\nRun 'docker --help' for more information\n")
    sys.exit(1)
if program == "docker" and args[:1] == ["compose"] and os.environ.get("STUB_NO_COMPOSE"):
    sys.stderr.write("unknown shorthand flag: 'p' in -p\nSee 'docker --help'.\n")
    sys.exit(125)

if program in ("docker", "docker-compose"):
    if "exec" in args and "bash" in args and args[args.index("bash") + 1] == "-lc":
        run(args[args.index("bash") + 2])
    if "logs" in args:
        for line in ["compose line one", "key MPF_LOCAL_A=" + os.environ.get("MPF_LOCAL_A", ""), "tail line"]:
            print(line, flush=True)
        if "-f" in args:
            time.sleep(float(os.environ.get("STUB_FOLLOW_SLEEP", "0")))
    sys.exit(0)

if program == "railway":
    if args[:1] == ["ssh"] and "--" in args:
        run(args[args.index("--") + 1])
    if args[:2] == ["service", "status"]:
        sys.stdout.write(os.environ.get("STUB_SERVICES", "[]"))
    if args[:1] == ["logs"]:
        print("railway log " + os.environ.get("MPF_RW_SECRET", ""), flush=True)
        if "--lines" not in args:
            time.sleep(float(os.environ.get("STUB_FOLLOW_SLEEP", "0")))
    sys.exit(0)
