#!/usr/bin/env bash
# One command from a fresh machine: install the system packages, build megaplan-fleet in release
# mode, and run it on a demo fleet of nine projects on three loopback sshd hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh
swift build -c release --product megaplan-fleet
scripts/demo.sh .build/release/megaplan-fleet
