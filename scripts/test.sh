#!/usr/bin/env bash
# Runs every test: unit tests and the end-to-end suite against real servers (slapd,
# Samba AD, SMTP, HTTP) that the test kit starts on loopback. Installs what is missing
# first. Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --workspace --locked "$@"
