#!/usr/bin/env bash
# Installs what writeback's build, tests and demo need on a fresh Debian machine
# (run as root): every snippet in .ci/setup.d/ (apt packages, rustup targets, Python
# tools). Idempotent: a second run does nothing it does not need to.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing; install Rust with rustup first" >&2
  exit 1
fi
for snippet in .ci/setup.d/*.sh; do
  [ -e "$snippet" ] || continue
  echo "setup: $snippet" >&2
  bash "$snippet"
done
