#!/usr/bin/env bash
# The whole test suite: unit tests, and end-to-end tests against real sshd hosts on loopback
# (started by the tests themselves), real tmux and git on the runner side, a private Docker engine
# for the ssh provider's docker runtime and the local provider, and the release binary alone in a
# Debian 12 root file system without Swift (debootstrap, cached in /var/cache).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh --tests
swift build --build-tests
# The release binary and the Debian root (without Swift) that the standalone test runs it in;
# StandaloneBinaryTests makes both itself when missing, making them first keeps that time out of
# the tests' own (the root is cached across runs).
scripts/build-release.sh --scratch-path "$PWD/.build-release" >/dev/null
Tests/Fixtures/debian/rootfs.sh >/dev/null
swift test --skip-build
