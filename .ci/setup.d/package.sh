#!/usr/bin/env bash
# Packaging check (scripts/package-check.sh): cargo-deb from crates.io (pinned), dpkg-dev
# for its helpers, curl and openssl for the start-up check. Idempotent.
set -euo pipefail
CARGO_DEB_VERSION=3.8.0
missing=()
for tool in dpkg-deb curl openssl python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y dpkg-dev curl openssl python3
fi
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
  cargo install --locked cargo-deb --version "$CARGO_DEB_VERSION"
fi
cargo deb --version
