#!/usr/bin/env bash
# A demo fleet on loopback: three real sshd hosts, nine projects whose runners are the test
# stand-ins of Tests/Fixtures/runner (a fake core megaplan; real tmux, git, bash, python3), and
# two `megaplan-fleet tick --all` runs over them, one after the other as cron would run them.
# The `fleet-demo` executable (Sources/fleet-demo, on the sshd harness the tests and benchmarks
# use) does the work and removes everything it started; this script only finds the binaries.
#
# Usage: scripts/demo.sh [path/to/megaplan-fleet]   (fleet-demo is looked for beside it)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$here/.build/release/megaplan-fleet}
demo=$(dirname "$binary")/fleet-demo
[ -x "$binary" ] || { echo "demo: build first (no $binary)" >&2; exit 1; }
[ -x "$demo" ] || { echo "demo: build first (no $demo: swift build --product fleet-demo)" >&2; exit 1; }
exec "$demo" --binary "$binary" --fixtures "$here/Tests/Fixtures/runner"
