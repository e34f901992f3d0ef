#!/bin/sh
# Load run: 500 projects on 5 sshd hosts on loopback, ticked 20 times in a row in one process
# (FleetScheduler, a fresh SSH pool per tick) and then in 20 separate `megaplan-fleet tick --all`
# processes. Prints wall time per tick, RSS and peak RSS, and descriptor and thread counts after
# each in-process tick (and the largest seen during each separate process); exits 1 when the
# descriptors or threads grow from tick to tick. Runners are replayed by default (recorded once,
# then answered after --service-ms without CPU); --runners live runs every command for real.
# Options: --projects 500, --hosts 5, --ticks 20, --runners replay|live, --service-ms 50,
# --concurrency 16, --per-host 8, --in-process-only, --processes-only.
# --hostile instead: one healthy `tick --all` process, then one where every runner answers every
# command with a 15.7 MB reply and one with the densest JSON under the status read's cap; prints
# peak RSS and CPU against the healthy tick and exits 1 past 3x its RSS or 5x its CPU.
# Needs sshd, ssh-keygen, git, tmux and python3; as root it logs in as the account mpfleet-test.
set -eu
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
scripts/build-release.sh --scratch-path .build-load >/dev/null
swift build -c release --scratch-path .build-load --product fleet-load
exec .build-load/release/fleet-load --fixtures "$PWD/Tests/Fixtures/runner" "$@"
