#!/usr/bin/env bash
# Smoke run of every fuzz target: a few seconds of AFL each when cargo-afl
# and afl++ are installed (under a minute in all); otherwise (and always
# first) the corpus replay through the same harness functions as a test.
#
# Usage: fuzz/smoke.sh [seconds per target, default 8]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
SECS="${1:-8}"
TARGETS="client_msg sdp datagram avatar schedule"

# ./test.sh has replayed the corpus already with the Rust tests.
[ "${FUZZ_SKIP_REPLAY:-0}" = 1 ] || cargo test -q -p salon-fuzz
if ! cargo afl --version >/dev/null 2>&1; then
  echo "== cargo-afl not installed: corpus replayed only (cargo install cargo-afl)"
  exit 0
fi
# A separate target dir: instrumented builds must not mix with normal ones.
export CARGO_TARGET_DIR="$CARGO_TARGET_DIR/afl"
# First use: cargo-afl builds its AFL++ runtime once.
cargo afl build -p salon-fuzz --features afl --bins || {
  cargo afl config --build --force
  cargo afl build -p salon-fuzz --features afl --bins
}
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
for t in $TARGETS; do
  AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_BENCH_UNTIL_CRASH=1 \
    timeout --preserve-status -s INT "$SECS" cargo afl fuzz -i "fuzz/corpus/$t" -o "$OUT/$t" \
    "$CARGO_TARGET_DIR/debug/fuzz_$t" >"$OUT/$t.log" 2>&1 || true
  stats="$OUT/$t/default/fuzzer_stats"
  execs="$(sed -n 's/^execs_done *: *//p' "$stats" 2>/dev/null || echo 0)"
  crashes="$(sed -n 's/^saved_crashes *: *//p' "$stats" 2>/dev/null || echo 0)"
  echo "fuzz $t: $execs executions, $crashes crashes"
  if [ "${crashes:-0}" != 0 ]; then
    echo "crashing inputs in $OUT/$t/default/crashes: copy them to fuzz/corpus/$t/ and fix"
    trap - EXIT
    exit 1
  fi
done
