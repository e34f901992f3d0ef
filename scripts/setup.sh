#!/usr/bin/env bash
# One command from a fresh machine: install the system packages, build megaplan-fleet in release
# mode (one self-contained file, scripts/build-release.sh) and the demo driver beside it, and run
# it on a demo fleet of nine projects on three loopback sshd hosts.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
scripts/install-deps.sh
binary=$(scripts/build-release.sh)
# The same flags as build-release.sh, so nothing built there is built again.
swift build -c release --static-swift-stdlib --product fleet-demo >&2
scripts/demo.sh "$binary"
# The man page and the shell completions, under PREFIX (default /usr/local; needs write access).
scripts/install-docs.sh "$binary" "${PREFIX:-/usr/local}"
