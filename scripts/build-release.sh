#!/usr/bin/env bash
# Builds the release binary: one file that needs nothing at run time but libc, libssh2, libcrypto
# and libcurl (URLSession's transport, for notification webhooks): the Swift standard library and
# Foundation linked statically, the deploy templates compiled in, so it can be installed on its own.
# Extra arguments go to `swift build` (for instance --scratch-path DIR). Prints the binary's path
# on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
flags=(-c release --static-swift-stdlib --product megaplan-fleet "$@")
swift build "${flags[@]}" >&2
echo "$(swift build "${flags[@]}" --show-bin-path)/megaplan-fleet"
