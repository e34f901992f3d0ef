"""Stand-in for `megaplan.chain`: chain-state files at the hashed paths of the cloud reference
(§4.1, §4.2) and the sync capture of §6.4, with real git. Calls are recorded in
<root>/.stub/calls.jsonl so tests can assert the refresh ran with the right arguments. Stub files:
<root>/.stub/refresh_fail makes the refresh raise; <root>/.stub/refresh_sets.json (an object) names
state fields the refresh sets too, as a chain moving on meanwhile would."""
import dataclasses
import hashlib
import json
import os
import posixpath
import subprocess
from pathlib import Path


@dataclasses.dataclass
class ChainState:
    current_milestone_index: int = -1
    current_plan_name: object = None
    last_state: object = None
    pr_number: object = None
    pr_state: object = None
    completed: list = dataclasses.field(default_factory=list)
    branch_head: object = None
    pr_head: object = None
    last_pushed_commit: object = None
    dirty_flag: bool = False
    sync_state: object = None
    extra_repos: list = dataclasses.field(default_factory=list)
    chain_session: object = None
    resolved_workspace: object = None
    extra_repo_sync: list = dataclasses.field(default_factory=list)


def _state_path(spec):
    spec = posixpath.normpath(str(spec))
    digest = hashlib.sha1(spec.encode("utf-8")).hexdigest()[:12]
    stem = os.path.splitext(os.path.basename(spec))[0]
    return Path(os.path.dirname(spec)) / ".megaplan" / "plans" / ".chains" / ("%s-%s.json" % (stem, digest))


def load_chain_state(spec):
    path = _state_path(spec)
    if not path.exists():
        legacy = Path(os.path.dirname(str(spec))) / "chain_state.json"
        path = legacy if legacy.exists() else None
    if path is None:
        return ChainState()
    data = json.loads(path.read_text())
    known = {field.name for field in dataclasses.fields(ChainState)}
    return ChainState(**{key: value for key, value in data.items() if key in known})


def save_chain_state(spec, state):
    path = _state_path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(dataclasses.asdict(state), indent=2) + "\n")
    os.replace(temporary, path)


def _git(root, *args):
    result = subprocess.run(["git", "-C", str(root)] + list(args), capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def _classify(dirty, branch_head, pr_head, last_pushed):
    if dirty:
        return "dirty"
    if branch_head and last_pushed and branch_head != last_pushed:
        return "dirty"
    if pr_head and last_pushed and pr_head != last_pushed:
        return "stale"
    if branch_head and pr_head and branch_head != pr_head:
        return "stale"
    return "clean"


def _record(root, entry):
    stub = Path(str(root)) / ".stub"
    if stub.is_dir():
        with open(stub / "calls.jsonl", "a") as log:
            log.write(json.dumps(entry) + "\n")


def _capture_sync_state(root, spec, branch=None, pr_number=None, extra_repos=None):
    _record(root, {"sync_refresh": {"root": str(root), "spec": str(spec), "branch": branch,
                                    "pr_number": pr_number, "extra_repos": extra_repos}})
    if (Path(str(root)) / ".stub" / "refresh_fail").exists():
        raise RuntimeError("sync refresh failed (stub)")
    state = load_chain_state(spec)
    # The chain moving on while the refresh runs: these fields are set with the sync fields.
    moved = Path(str(root)) / ".stub" / "refresh_sets.json"
    if moved.exists():
        for key, value in json.loads(moved.read_text()).items():
            setattr(state, key, value)
    head = _git(root, "rev-parse", "HEAD")
    pr_head = None
    if branch:
        remote = _git(root, "ls-remote", "--heads", "origin", branch)
        pr_head = remote.split()[0] if remote else None
    dirty = bool(_git(root, "status", "--porcelain"))
    state.branch_head = head
    state.pr_head = pr_head
    state.last_pushed_commit = head
    state.dirty_flag = dirty
    state.sync_state = _classify(dirty, head, pr_head, head)
    if extra_repos:
        entries = []
        for repo in extra_repos:
            if not os.path.exists(repo):
                entries.append({"path": repo, "status": "missing"})
                continue
            repo_head = _git(repo, "rev-parse", "HEAD")
            if repo_head is None:
                entries.append({"path": repo, "status": "not_a_git_repo"})
                continue
            repo_dirty = bool(_git(repo, "status", "--porcelain"))
            entries.append({"path": repo, "branch_head": repo_head, "dirty": repo_dirty,
                            "sync_state": _classify(repo_dirty, repo_head, None, repo_head)})
        state.extra_repo_sync = entries
    save_chain_state(spec, state)
    return state
