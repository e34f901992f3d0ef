"""Stand-in for `megaplan.profiles`: `apply_profile_expansion(args, project_dir)` with the real
function's contract (cloud reference §10 step 2.1): the profile's `phase=spec` entries are appended
to `args.phase_model`, skipping phases it already names; an unknown profile raises a CliError
`unknown_profile`. A workspace holding `.stub/no_profiles` plays a megaplan without this module.
Calls are recorded in `<cwd>/.stub/profiles.jsonl` when the workspace has a `.stub` directory."""
import json
import os

if os.path.exists(os.path.join(os.getcwd(), ".stub", "no_profiles")):
    raise ImportError("megaplan.profiles is not available in this megaplan")

PHASES = ("plan", "prep", "critique", "revise", "gate", "feedback", "finalize", "execute",
          "loop_plan", "loop_execute", "review", "tiebreaker_researcher", "tiebreaker_challenger")


def _every(spec):
    return {phase: spec for phase in PHASES}


BUILT_IN = {
    "all-claude": _every("claude:medium"),
    "all-codex": _every("codex:medium"),
    "all-deepseek-flash": _every("hermes:deepseek:deepseek-v4-flash"),
    "all-deepseek-pro": _every("hermes:deepseek:deepseek-v4-pro"),
    "all-deepseek-pro-direct": _every("hermes:deepseek:deepseek-v4-pro"),
    "all-fireworks-deepseek": _every("hermes:fireworks:accounts/fireworks/models/deepseek-v4-pro"),
    "all-open": _every("hermes:fireworks:accounts/fireworks/models/kimi-k2p6"),
    "apex": _every("claude:high"),
    "directed": dict(_every("codex:low"), plan="claude:medium"),
    "partnered": dict(_every("codex:medium"), critique="claude:low", review="claude:low"),
    "premium": _every("claude:low"),
    "solo": _every("codex:low"),
}


class CliError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def apply_profile_expansion(args, project_dir, state=None):
    if getattr(args, "_profile_applied", False):
        return args
    stub = os.path.join(os.getcwd(), ".stub")
    if os.path.isdir(stub):
        with open(os.path.join(stub, "profiles.jsonl"), "a") as log:
            log.write(json.dumps({"profile": args.profile, "phase_model": list(args.phase_model or []),
                                  "project_dir": None if project_dir is None else str(project_dir)}) + "\n")
    cli = list(getattr(args, "phase_model", None) or [])
    named = {entry.split("=", 1)[0] for entry in cli if "=" in entry}
    if args.profile:
        if args.profile not in BUILT_IN:
            raise CliError("unknown_profile", "Unknown profile '%s'. Known profiles: %s"
                           % (args.profile, ", ".join(sorted(BUILT_IN))))
        cli += ["%s=%s" % (phase, spec) for phase, spec in BUILT_IN[args.profile].items() if phase not in named]
    args.phase_model = cli
    args._profile_applied = True
    return args
