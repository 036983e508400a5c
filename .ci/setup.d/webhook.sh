#!/usr/bin/env bash
# Standard Webhooks reference library (PyPI `standardwebhooks`) for /usr/bin/python3:
# the webhook source and notifier tests check that what the reference signs writeback
# accepts, and that what writeback signs the reference accepts. The tests run exactly
# /usr/bin/python3 (override with WRITEBACK_TEST_PYTHON). Idempotent.
set -euo pipefail
PY=/usr/bin/python3
if ! "$PY" -c 'import standardwebhooks' 2>/dev/null; then
  if ! "$PY" -m pip --version >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3-pip
  fi
  # Debian marks its Python as externally managed; this is a throwaway test machine.
  "$PY" -m pip install --quiet --break-system-packages 'standardwebhooks>=1.0,<2'
fi
"$PY" -c 'import standardwebhooks; print("standardwebhooks for", "'"$PY"'")'
