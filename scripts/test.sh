#!/usr/bin/env bash
# The whole test suite: unit tests, and end-to-end tests against real sshd hosts on loopback
# (started by the tests themselves), real tmux and git on the runner side, a private Docker engine
# for the ssh provider's docker runtime and the local provider, and the release binary alone in a
# Debian 12 root file system without Swift (debootstrap, cached in /var/cache).
# --stress N: run the suite N times in a row with two CPU-burning processes beside it (a busy
# machine); stops at the first failing run, and the burners end with the script.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

runs=0
case "${1:-}" in
    --stress)
        runs="${2:-}"
        if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
            echo "usage: scripts/test.sh [--stress N]" >&2
            exit 2
        fi
        ;;
    "") ;;
    *)
        echo "usage: scripts/test.sh [--stress N]" >&2
        exit 2
        ;;
esac

scripts/install-deps.sh --tests
swift build --build-tests
# swift-argument-parser's man page generator, which InstallDocsTests hands to scripts/install-docs.sh
# (a `swift build` nested in `swift test` would wait on the build directory's lock).
swift build --product generate-manual
# The release binary and the Debian root (without Swift) that the standalone test runs it in;
# StandaloneBinaryTests makes both itself when missing, making them first keeps that time out of
# the tests' own (the root is cached across runs).
scripts/build-release.sh --scratch-path "$PWD/.build-release" >/dev/null
Tests/Fixtures/debian/rootfs.sh >/dev/null
if [ "$runs" -eq 0 ]; then
    exec swift test --skip-build
fi

burners=()
stop_burners() {
    for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${burners[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_burners EXIT
trap 'exit 130' INT TERM
for _ in 1 2; do
    nice -n 0 sh -c 'while :; do :; done' &
    burners+=("$!")
done
echo "test.sh: $runs run(s) of the suite beside 2 CPU burners (pids ${burners[*]})" >&2
for run in $(seq 1 "$runs"); do
    started=$(date +%s)
    if swift test --skip-build; then
        echo "test.sh: stress run $run/$runs passed in $(($(date +%s) - started)) s" >&2
    else
        echo "test.sh: stress run $run/$runs FAILED after $(($(date +%s) - started)) s" >&2
        exit 1
    fi
done
echo "test.sh: all $runs stress runs passed" >&2
