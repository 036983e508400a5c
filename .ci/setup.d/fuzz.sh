#!/usr/bin/env bash
# Fuzzing (scripts/fuzz.sh): cargo-fuzz from crates.io, which drives libFuzzer. It runs
# on the stable toolchain with `--sanitizer none` (no nightly needed); libfuzzer-sys
# compiles libFuzzer's C++ sources, so a C++ compiler must be there. Version pinned so
# a new cargo-fuzz cannot change what CI does without a commit. Idempotent.
set -euo pipefail
want=0.13.2
if ! command -v c++ >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends g++
fi
have=$(cargo fuzz --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  cargo install --locked --version "$want" cargo-fuzz
fi
cargo fuzz --version
