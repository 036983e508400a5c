#!/usr/bin/env bash
# Tools the scripts use: curl (demo health checks), python3 (the demo's config
# rendering and the SMTP test server). Idempotent.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
apt_install --no-recommends curl ca-certificates
command -v python3 >/dev/null || { echo "base.sh: python3 is required" >&2; exit 1; }
