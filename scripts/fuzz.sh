#!/usr/bin/env bash
# Fuzzes FleetCore's readers with libFuzzer (address sanitizer on): cloud.yaml, chain specs,
# fleet.yaml, chain_state.json, JSON round trips with shell quoting, the redactor, every remote
# command builder (hostile values must not change how the shell splits the command), and the
# known_hosts parser and matcher.
#
# Usage: scripts/fuzz.sh [--ci] [SECONDS] [TARGET...]
#   SECONDS  budget per target (default 60)
#   TARGET   cloud chain fleet state json redact commands knownhosts (default: all)
#   --ci     4 s per target (about 25 s in all) on a scratch copy of the corpus, which stays as it is
#
# Each target starts from Tests/Fuzz/seeds/TARGET (hand-written) and Tests/Fuzz/corpus/TARGET (what
# earlier runs found). Without --ci, the run's new inputs are merged into Tests/Fuzz/corpus/TARGET,
# minimized by `-merge=1 -set_cover_merge=1` (commit them). A crash, hang (-timeout), memory blow-up (-rss_limit_mb) or
# broken harness invariant leaves its input in .build-fuzz/artifacts/ and makes the script exit 1;
# replay one with `FUZZ_TARGET=TARGET .build-fuzz/release/fuzz-fleetcore FILE`, or through the
# ordinary build: `swift run fuzz-fleetcore --target TARGET FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

ci=0
seconds=60
targets=()
for arg in "$@"; do
    case $arg in
        --ci) ci=1 ;;
        [0-9]*) seconds=$arg ;;
        cloud | chain | fleet | state | json | redact | commands | knownhosts) targets+=("$arg") ;;
        -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(cloud chain fleet state json redact commands knownhosts)
[ "$ci" = 1 ] && seconds=4

work=$(mktemp -d /tmp/megaplan-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
scratch=.build-fuzz
echo "building fuzz-fleetcore with libFuzzer and the address sanitizer ($scratch)"
# Whole-module builds split across threads (what SwiftPM does in release) lose the coverage that
# -sanitize=fuzzer implies, so the coverage kinds are named explicitly.
if ! swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -DFUZZING \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp --product fuzz-fleetcore --scratch-path "$scratch" >"$work/build.log" 2>&1; then
    grep -E 'error' "$work/build.log" | head -20 >&2
    echo "fuzz.sh: build failed" >&2
    exit 1
fi
binary=$scratch/release/fuzz-fleetcore
artifacts=$scratch/artifacts
mkdir -p "$artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
# Swift's own crash backtracer would fight libFuzzer's and ASan's signal handlers.
export SWIFT_BACKTRACE=enable=no

failed=()
total=0
printf '%-10s %7s %10s %8s %6s %8s %8s\n' target seconds execs exec/s saved corpus bytes
for target in "${targets[@]}"; do
    case $target in
        cloud | chain | fleet) dict=Tests/Fuzz/dict/yaml.dict; max_len=4096 ;;
        state | json) dict=Tests/Fuzz/dict/json.dict; max_len=4096 ;;
        redact) dict=Tests/Fuzz/dict/redact.dict; max_len=2048 ;;
        commands) dict=Tests/Fuzz/dict/commands.dict; max_len=1024 ;;
        knownhosts) dict=Tests/Fuzz/dict/knownhosts.dict; max_len=4096 ;;
    esac
    seeds=Tests/Fuzz/seeds/$target
    corpus=Tests/Fuzz/corpus/$target
    mkdir -p "$corpus"
    found=$work/$target-found
    mkdir -p "$found"
    log=$work/$target.log
    status=0
    FUZZ_TARGET=$target "$binary" "$found" "$corpus" "$seeds" \
        -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -dict="$dict" -print_final_stats=1 \
        -artifact_prefix="$artifacts/$target-" >"$log" 2>&1 || status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    if [ "$status" != 0 ]; then
        failed+=("$target")
        echo "== $target: libFuzzer exited $status; log tail:" >&2
        grep -v '^#' "$log" | tail -40 >&2
    fi
    new=$(find "$found" -type f | wc -l)
    if [ "$ci" = 0 ] && [ "$status" = 0 ]; then
        # Minimize: starting from the seeds, the smallest set of inputs from the committed corpus
        # and this run's finds that covers every edge reached (edges only: counter and comparison
        # features would keep several times more files for little more reach).
        merged=$work/$target-merged
        mkdir -p "$merged"
        cp "$seeds"/* "$merged"/
        if FUZZ_TARGET=$target "$binary" -merge=1 -set_cover_merge=1 -use_counters=0 -use_cmp=0 \
            -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
            "$merged" "$corpus" "$found" >"$work/$target-merge.log" 2>&1; then
            for seed in "$seeds"/*; do rm -f "$merged/$(basename "$seed")"; done
            rm -rf "$corpus"
            mkdir -p "$corpus"
            cp "$merged"/* "$corpus"/ 2>/dev/null || true
        else
            echo "fuzz.sh: merging the $target corpus failed; it is left as it was" >&2
        fi
    fi
    files=$(find "$corpus" -type f | wc -l)
    bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    total=$((total + ${execs:-0}))
    printf '%-10s %7s %10s %8s %6s %8s %8s\n' "$target" "$seconds" "${execs:-?}" "${rate:-?}" "$new" "$files" \
        "$bytes"
done
echo "total executions: $total; corpus: $(find Tests/Fuzz/corpus -type f | wc -l) files" \
    "+ $(find Tests/Fuzz/seeds -type f | wc -l) seeds (saved: inputs libFuzzer kept this run; corpus: after minimizing)"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: findings in: ${failed[*]} (inputs in $artifacts/)" >&2
    exit 1
fi
