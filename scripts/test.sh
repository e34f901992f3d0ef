#!/usr/bin/env bash
# The whole test suite: unit tests, and end-to-end tests against real sshd hosts on loopback
# (started by the tests themselves), real tmux and git on the runner side, and a private Docker
# engine for the ssh provider's docker runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh --tests
swift build --build-tests
swift test --skip-build
