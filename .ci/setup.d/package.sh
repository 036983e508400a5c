#!/usr/bin/env bash
# Packaging (scripts/build-deb.sh, scripts/package-check.sh): dpkg-deb, objdump and strip
# to build the .deb; curl and openssl for the start-up check. Idempotent.
set -euo pipefail
missing=()
for tool in dpkg-deb objdump strip curl openssl python3; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dpkg binutils curl openssl python3
fi
