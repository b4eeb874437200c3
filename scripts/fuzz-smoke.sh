#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/, its own workspace) and runs each for a short fixed
# time over its committed corpus and the inputs of past findings (fuzz/regressions/),
# failing on the first crash, panic, timeout or out-of-memory. New inputs go to a
# temporary folder, so the committed corpus is not touched; a crashing input is saved
# under fuzz/artifacts/TARGET/.
#
#   scripts/fuzz-smoke.sh                 every target, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=300 scripts/fuzz-smoke.sh wire bencode
#
# Needs cargo-fuzz (scripts/install-test-deps.sh installs it). Runs on the stable
# toolchain: `--sanitizer none` makes cargo-fuzz use no nightly-only flag.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-20}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

# -a: debug assertions and overflow checks, so arithmetic overflow is a finding too.
cargo fuzz build --sanitizer none -a

scratch="$(mktemp -d /tmp/ccbt-fuzz-smoke.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target" "corpus/$target" "regressions/$target"
    dict=()
    if [ -f "dict/$target.dict" ]; then dict=("-dict=dict/$target.dict"); fi
    echo "fuzz-smoke: $target for ${seconds}s"
    # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a leak or an
    # allocation the input only claims ends the run instead of the machine.
    if ! cargo fuzz run "$target" --sanitizer none -a "$scratch/$target" "corpus/$target" "regressions/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "${dict[@]}" >"$scratch/$target.log" 2>&1; then
        # The panic message first (a long backtrace can push it out of the tail).
        grep -E -A4 "panicked at" "$scratch/$target.log" >&2 || true
        tail -n 40 "$scratch/$target.log" >&2
        echo "fuzz-smoke: $target FAILED (crashing input in fuzz/artifacts/$target/)" >&2
        exit 1
    fi
    grep -E '^stat::number_of_executed_units' "$scratch/$target.log" | sed "s/^/fuzz-smoke: $target /" || true
done
echo "fuzz-smoke: every target ran ${seconds}s without a crash"
echo "fuzz: ${#targets[@]} passed, 0 failed"
