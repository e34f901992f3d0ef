#!/usr/bin/env bash
# A demo fleet on loopback: three real sshd hosts, nine projects whose runners are the test
# stand-ins of Tests/Fixtures/runner (a fake core megaplan; real tmux, git, bash, python3), and
# two `megaplan-fleet tick --all` runs over them, one after the other as cron would run them.
# Everything lives in a temporary directory that is removed at the end, with the sshd processes
# and tmux sessions it started.
#
# Usage: scripts/demo.sh [path/to/megaplan-fleet]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$here/.build/release/megaplan-fleet}
fixtures=$here/Tests/Fixtures/runner
[ -x "$binary" ] || { echo "demo: build first (no $binary)" >&2; exit 1; }

demo=$(mktemp -d /tmp/megaplan-fleet-demo-XXXXXX)
chmod 755 "$demo"
pids=()
account=$(id -un)
run_as() { if [ "$(id -u)" = 0 ]; then runuser -u "$account" -- /bin/sh -c "$1"; else /bin/sh -c "$1"; fi; }

cleanup() {
    for pid in "${pids[@]}"; do pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
    run_as "tmux ls -F '#S' 2>/dev/null | grep '^demo-' | xargs -r -n1 tmux kill-session -t" 2>/dev/null || true
    run_as "rm -rf \"\$HOME/megaplan-fleet-demo\"" 2>/dev/null || true
    rm -rf "$demo"
}
trap cleanup EXIT

# As root, log in as a light account: root's shell start-up (pyenv) costs ~100 ms a command.
if [ "$(id -u)" = 0 ]; then
    account=mpfleet-demo
    id "$account" >/dev/null 2>&1 || useradd -m -s /bin/sh "$account"
    usermod -p '*' "$account"
    mkdir -p /run/sshd
fi
home=$(getent passwd "$account" | cut -d: -f6)

# Runner stand-ins in the account's home; ~/.profile puts them on PATH for login shells.
run_as "rm -rf ~/.megaplan-stub && mkdir -p ~/.local/bin ~/.megaplan-stub/python/megaplan/cli ~/megaplan-fleet-demo"
for tool in megaplan gh docker; do run_as "cat > ~/.local/bin/$tool && chmod 755 ~/.local/bin/$tool" < "$fixtures/$tool"; done
# The stand-in package with core megaplan's layout (the status program imports megaplan.cli).
for module in __init__.py chain.py profiles.py cli/__init__.py; do
    run_as "cat > ~/.megaplan-stub/python/megaplan/$module" < "$fixtures/python/megaplan/$module"
done
run_as 'printf "%s\n" "export PATH=\"\$HOME/.local/bin:\$PATH\"" "export PYTHONPATH=\"\$HOME/.megaplan-stub/python\"" > ~/.profile'

ssh-keygen -q -t ed25519 -N '' -C demo-client -f "$demo/client_key"
cp "$demo/client_key.pub" "$demo/authorized_keys"
chmod 644 "$demo/authorized_keys"
: > "$demo/known_hosts"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ports=()
for h in 1 2 3; do
    port=$(free_port)
    ssh-keygen -q -t ed25519 -N '' -C "demo-host-$h" -f "$demo/host_$h"
    cat > "$demo/sshd_$h.conf" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $demo/host_$h
AuthorizedKeysFile $demo/authorized_keys
UsePAM no
StrictModes no
PidFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
PrintMotd no
LogLevel ERROR
SetEnv PATH=$home/.local/bin:/usr/local/bin:/usr/bin:/bin PYTHONPATH=$home/.megaplan-stub/python
CONF
    /usr/sbin/sshd -D -e -f "$demo/sshd_$h.conf" 2>"$demo/sshd_$h.log" &
    pids+=($!)
    disown $!
    echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$demo/host_$h.pub")" >> "$demo/known_hosts"
    ports+=("$port")
done
for port in "${ports[@]}"; do
    for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break; sleep 0.05; done
done

# Nine projects in different states: the state file sits at the hashed path of the reference.
state_path() { python3 -c 'import hashlib, os, sys; s = sys.argv[1]; d = hashlib.sha1(s.encode()).hexdigest()[:12]; print(os.path.join(os.path.dirname(s), ".megaplan/plans/.chains", os.path.splitext(os.path.basename(s))[0] + "-" + d + ".json"))' "$1"; }
states=(
    '{"current_milestone_index": 0, "current_plan_name": "plan-m1"}'
    '{"current_milestone_index": 1, "current_plan_name": null}'
    '{"current_milestone_index": 3, "current_plan_name": null}'
    '{"current_milestone_index": 1, "current_plan_name": "plan-m2", "last_state": "awaiting_pr_merge", "pr_number": 42, "pr_state": "open"}'
)
echo "version: 1" > "$demo/fleet.yaml"
printf 'defaults:\n  deadline: 20\n  known_hosts: %s\nprojects:\n' "$demo/known_hosts" >> "$demo/fleet.yaml"
for p in $(seq 1 9); do
    name="demo-$p"
    port=${ports[$(( (p - 1) % 3 ))]}
    ws="$home/megaplan-fleet-demo/$name"
    run_as "mkdir -p '$ws/.stub' && cd '$ws' && git init -q -b main && git -c user.email=demo@example.com -c user.name=demo commit -q --allow-empty -m init && printf '.stub/\n.megaplan/\nchain.yaml\n' > .git/info/exclude && echo 5 > .stub/chain_sleep"
    run_as "printf 'milestones:\n  - {label: m1, idea: ideas/m1.md}\n  - {label: m2, idea: ideas/m2.md}\n  - {label: m3, idea: ideas/m3.md}\n' > '$ws/chain.yaml'"
    state=$(state_path "$ws/chain.yaml")
    run_as "mkdir -p '$(dirname "$state")' && cat > '$state'" <<< "${states[$(( p % 4 ))]}"
    [ $(( p % 3 )) = 0 ] && run_as "tmux new-session -d -s '$name' -c '$ws' 'sleep 30'"
    mkdir -p "$demo/projects/$name"
    cat > "$demo/projects/$name/cloud.yaml" <<YAML
provider: ssh
repo:
  url: https://github.com/example/$name.git
  workspace: $ws
mode: chain
chain:
  spec: $ws/chain.yaml
  chain_session: $name
ssh:
  host: 127.0.0.1
  port: $port
  user: $account
  identity_file: $demo/client_key
  runtime: host
YAML
    printf '  - name: %s\n    cloud_yaml: projects/%s/cloud.yaml\n    tags: [demo, host-%s]\n' "$name" "$name" $(( (p - 1) % 3 + 1 )) >> "$demo/fleet.yaml"
done

echo "demo: 9 projects on 3 sshd hosts (127.0.0.1:${ports[*]}); running: megaplan-fleet tick --all" >&2
status=0
"$binary" tick --all --fleet "$demo/fleet.yaml" || status=$?
echo "demo: tick exited with status $status (0 = every project observed)" >&2
# The next cron tick: the chains restarted above are running now and are left alone, and each
# chain's spec has been validated, so a tick that does not act costs one remote command.
echo "demo: the next tick, as cron would run it" >&2
second=0
"$binary" tick --all --fleet "$demo/fleet.yaml" || second=$?
echo "demo: tick exited with status $second" >&2
[ "$status" = 0 ] && status=$second
exit "$status"
