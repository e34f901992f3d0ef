#!/bin/sh
# Native SSH transport benchmark: ms and CPU per remote command for a new `ssh` process per
# command (baseline), a new libssh2 session per command, one pooled session (serial) and the pool
# with 8 commands in flight; on loopback and through a 50 ms round-trip relay. Starts its own sshd
# on 127.0.0.1 (as root it logs in as the light account mpfleet-test). Pass --quick for a short run.
set -eu
cd "$(dirname "$0")/.."
swift build -c release --scratch-path .build-transport --product ssh-bench
exec .build-transport/release/ssh-bench "$@"
