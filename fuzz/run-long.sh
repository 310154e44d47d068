#!/usr/bin/env bash
# The long fuzzing campaign: each target until 10 million executions or
# 30 minutes, whichever comes first, at low priority. Results (executions,
# crashes) are printed per target; record them in RELIABILITY.md
# ("Fuzzing"). A crash: copy its input to fuzz/corpus/<target>/ (it becomes
# a regression test of `cargo test -p salon-fuzz`), then fix the code.
#
# Usage: fuzz/run-long.sh [target ...]   (default: all five)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/afl"
TARGETS="${*:-client_msg sdp datagram avatar schedule}"
OUT="${FUZZ_OUT:-$PWD/fuzz/out}"
MAX_SECS="${FUZZ_SECS:-1800}"
cargo afl --version >/dev/null || { echo "needs cargo-afl: cargo install cargo-afl; and Debian's afl++"; exit 1; }
# First use: cargo-afl builds its AFL++ runtime once.
cargo afl build -p salon-fuzz --features afl --bins || {
  cargo afl config --build --force
  cargo afl build -p salon-fuzz --features afl --bins
}
for t in $TARGETS; do
  mkdir -p "$OUT"
  AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
    nice -n 19 cargo afl fuzz -i "fuzz/corpus/$t" -o "$OUT/$t" -V "$MAX_SECS" -E 10000000 \
    "$CARGO_TARGET_DIR/debug/fuzz_$t" >"$OUT/$t.log" 2>&1 || true
  stats="$OUT/$t/default/fuzzer_stats"
  echo "fuzz $t: $(sed -n 's/^execs_done *: *//p' "$stats") executions, \
$(sed -n 's/^saved_crashes *: *//p' "$stats") crashes, $(sed -n 's/^run_time *: *//p' "$stats") s"
done
