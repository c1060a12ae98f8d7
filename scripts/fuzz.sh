#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets of test/fuzz/ with clang (-fsanitize=fuzzer,address,
# undefined, in their own build dir) and runs each for SECONDS seconds over its seed corpus.
# Stops with a non-zero status at the first crash (the input is kept in
# $FUZZ_BUILD/artifacts/<target>/) and prints libFuzzer's final line for every target.
#   scripts/fuzz.sh SECONDS [TARGET...]      (no target: all of them)
# Environment: FUZZ_BUILD (default build-fuzz), JOBS (build parallelism, default 2),
# FUZZ_ARGS (more libFuzzer options, e.g. "-jobs=2" or "-runs=1000000").
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-10}
shift || true
build=${FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-2}

for tool in clang clang++; do
    command -v "$tool" >/dev/null || { echo "fuzz: $tool not found; run 'make deps-fuzz' first" >&2; exit 1; }
done

if [[ ! -f "$build/CMakeCache.txt" ]]; then
    CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FUZZ=ON \
        -DSLUICE_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j"$jobs" >/dev/null

if (($# > 0)); then
    targets=("$@")
else
    targets=()
    for source in test/fuzz/*.cpp; do
        name=$(basename "$source" .cpp)
        [[ "$name" == replay_main ]] || targets+=("$name")
    done
fi

printf '%-14s %s\n' target "libFuzzer's last line (runs, coverage, exec/s)"
for target in "${targets[@]}"; do
    binary="$build/fuzz_$target"
    [[ -x "$binary" ]] || { echo "fuzz: no target '$target' ($binary)" >&2; exit 1; }
    case "$target" in
        proto_* | scram | prepared) dict=test/fuzz/protocol.dict ;;
        *) dict=test/fuzz/text.dict ;;
    esac
    # New inputs go to the build dir's corpus; the repository's seeds are only read.
    work="$build/corpus/$target"
    artifacts="$build/artifacts/$target/"
    log="$build/logs/$target.log"
    mkdir -p "$work" "$artifacts" "$(dirname "$log")"
    status=0
    # shellcheck disable=SC2086
    "$binary" -max_total_time="$seconds" -timeout=25 -dict="$dict" -artifact_prefix="$artifacts" \
        -print_final_stats=1 ${FUZZ_ARGS:-} "$work" "test/fuzz/corpus/$target" >"$log" 2>&1 || status=$?
    summary=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    [[ -n "$summary" ]] || summary=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    printf '%-14s %s\n' "$target" "$summary"
    if ((status != 0)); then
        echo "fuzz: $target failed (exit $status); log: $log" >&2
        grep -E 'ERROR|SUMMARY|invariant|Test unit written|artifact_prefix|^    #[0-9] ' "$log" | head -30 |
            cut -c1-240 >&2 || true
        exit 1
    fi
done
echo "fuzz: ${#targets[@]} target(s) ran (up to ${seconds}s each) without a crash"
