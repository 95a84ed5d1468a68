#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of outside bytes
# (kinko_core::parsers, targets in fuzz/fuzz_targets), with cargo-fuzz and
# libFuzzer. cargo-fuzz needs nightly flags: RUSTC_BOOTSTRAP=1 lets this
# stable toolchain accept them.
#   bash scripts/fuzz.sh            every target for 20 s (the test command)
#   bash scripts/fuzz.sh 600 object one target for ten minutes
# New inputs go to a temporary corpus; the seeds in fuzz/corpus are only
# read. A crash is saved under fuzz/artifacts/<target>/ and fails the run:
# copy it into fuzz/regressions/<target>/, where the core's replay test
# (`crates/kinko-core/tests/core/fuzz.rs`) keeps it fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(object keyslots session backup package signed inbox recovery_code statements)

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz --version 0.13.2 -j2
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# No AddressSanitizer: the targets are safe Rust (a panic or an abort is
# what is looked for), and it would double the build and run time here.
cargo fuzz build --sanitizer none --fuzz-dir fuzz
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    echo "fuzz: $t for ${seconds}s"
    if ! cargo fuzz run --sanitizer none --fuzz-dir fuzz "$t" "$work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=262144 \
        -print_final_stats=1 >"$work/$t.log" 2>&1; then
        tail -40 "$work/$t.log" >&2
        echo "fuzz: $t failed; a failing input is in fuzz/artifacts/$t/: copy it into fuzz/regressions/$t/ and fix the parser" >&2
        exit 1
    fi
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")"
    if [ -z "$runs" ] || [ "$runs" -lt 1000 ]; then
        tail -20 "$work/$t.log" >&2
        echo "fuzz: $t barely ran (${runs:-0} inputs)" >&2
        exit 1
    fi
    echo "fuzz: $t: $runs inputs, $(sed -n 's/^stat::new_units_added: *//p' "$work/$t.log") new"
done
echo "fuzz: every target ran ${seconds}s without a failure"
