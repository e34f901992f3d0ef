#!/bin/sh
# The whole test suite under a sanitizer: scripts/sanitize.sh thread | address
# Builds into .build-tsan or .build-asan (debug, every target instrumented, the binary the CLI
# tests start included) and runs it. ThreadSanitizer reads scripts/tsan-suppressions.txt (false
# positives of Synchronization.Mutex, which TSan cannot see); AddressSanitizer runs with leak
# detection on and scripts/lsan-suppressions.txt (XCTest's own leaks). Heavy: run one at a time.
set -eu
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
sanitizer="${1:-}"
case "$sanitizer" in
    thread)
        scratch=.build-tsan
        export TSAN_OPTIONS="suppressions=$PWD/scripts/tsan-suppressions.txt ${TSAN_OPTIONS:-}"
        ;;
    address)
        scratch=.build-asan
        export ASAN_OPTIONS="detect_leaks=1 ${ASAN_OPTIONS:-}"
        export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt ${LSAN_OPTIONS:-}"
        ;;
    *)
        echo "usage: scripts/sanitize.sh thread|address" >&2
        exit 64
        ;;
esac
shift
swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"
swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" "$@"
