#!/usr/bin/env bash
# Tools the scripts use: curl (demo health checks), python3 (the demo's config
# rendering and the SMTP test server). Idempotent.
set -euo pipefail
missing=()
for p in curl ca-certificates; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
command -v python3 >/dev/null || { echo "base.sh: python3 is required" >&2; exit 1; }
