#!/bin/sh
# Fleet tick benchmark: `megaplan-fleet tick --all` over N = 10, 50, 200 projects on 3 sshd hosts
# on loopback, directly and through a relay adding 50 ms round trip, against the same supervise
# ticks done one project at a time in fresh `megaplan-fleet supervise --chain` processes (a cron
# loop over the single-project command). Prints tick wall time, SSH handshakes, remote commands
# per project, CPU and peak RSS of the tick process, and the speed-up over the loop.
# Needs sshd, ssh-keygen, git, tmux and python3; as root it logs in as the light account
# mpfleet-test (created if missing). Options: --quick, --sizes 10,50,200, --loop-sample 50,
# --direct-only, --no-library, --runners replay|live, --service-ms 100, --workload running|complete
# (live only), --concurrency 144, --per-host 48, --connections 6, --import-cpu 0.5 (CPU seconds the
# runners' megaplan stand-in burns per import, as the real one costs), --compare 10 and
# --compare-ticks 3 (the runner side per tick with the runner's megaplan probes in process and as
# commands, MEGAPLAN_FLEET_RUNNER_PROBES=command). Default: replayed runners (see RunnerReplay.swift).
set -eu
cd "$(dirname "$0")/.."
scripts/build-release.sh --scratch-path .build-bench >/dev/null
swift build -c release --scratch-path .build-bench --product fleet-bench
exec .build-bench/release/fleet-bench --fixtures "$PWD/Tests/Fixtures/runner" "$@"
