#!/usr/bin/env bash
# Fuzzes every parser that reads outside input (fuzz/, one libFuzzer target each) for
# a bounded time, starting from the seeds kept in fuzz/seeds/. A crash, a panic, a
# broken invariant or a slow input fails the run and leaves the input in
# fuzz/artifacts/<target>/ (reproduce: cargo fuzz run -s none <target> <file>).
#
# Usage: scripts/fuzz.sh [target ...]    (default: every target in fuzz/Cargo.toml)
#   FUZZ_SECONDS   time per target (default 12: about three minutes for all fifteen)
#   FUZZ_CORPUS    where new inputs go (default: a temporary directory, removed after)
# Needs cargo-fuzz (.ci/setup.d/fuzz.sh installs it). docs/fuzzing.md has the details.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-12}
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz is missing; run bash .ci/setup.d/fuzz.sh (or scripts/setup.sh)" >&2
  exit 1
fi
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi
corpus_root=${FUZZ_CORPUS:-}
if [ -z "$corpus_root" ]; then
  corpus_root=$(mktemp -d)
  trap 'rm -rf "$corpus_root"' EXIT
fi

# Stable toolchain, no sanitizer (they need nightly); debug assertions and overflow
# checks are on through fuzz/Cargo.toml's release profile. 16 codegen units keep the
# build within CI's budget at some cost in executions per second.
build_start=$(date +%s)
cargo fuzz build --sanitizer none --codegen-units 16
echo "fuzz: built ${#targets[@]} targets in $(( $(date +%s) - build_start )) s"

passed=0
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$corpus_root/$t"
  log="$corpus_root/$t.log"
  status=0
  # -timeout: one input taking over 10 s is a finding; -rss_limit_mb: so is 2 GiB.
  cargo fuzz run --sanitizer none --codegen-units 16 "$t" "$corpus_root/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -oE '(cov|ft): [0-9]+' "$log" | tail -2 | tr '\n' ' ')
  if [ "$status" = 0 ]; then
    passed=$((passed + 1))
    echo "fuzz: $t ok: ${runs:-?} executions in ${seconds} s, ${cov}"
  else
    failed=$((failed + 1))
    echo "fuzz: $t FAILED (exit $status) after ${runs:-?} executions:" >&2
    # The panic (or libFuzzer's timeout / out-of-memory report), then the log's end.
    grep -m3 -A2 -E 'panicked at|==ERROR: libFuzzer|ALARM: working on' "$log" >&2 || true
    echo "fuzz: the end of the $t log:" >&2
    tail -25 "$log" >&2
    ls fuzz/artifacts/"$t"/ 2>/dev/null | sed "s|^|fuzz: reproducer fuzz/artifacts/$t/|" >&2 || true
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
