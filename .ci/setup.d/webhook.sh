#!/usr/bin/env bash
# Standard Webhooks reference library (PyPI `standardwebhooks`) for /usr/bin/python3:
# the webhook source and notifier tests check that what the reference signs writeback
# accepts, and that what writeback signs the reference accepts. The tests run exactly
# /usr/bin/python3 (override with WRITEBACK_TEST_PYTHON). Idempotent.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import standardwebhooks' 2>/dev/null || pip_install "$PY" 'standardwebhooks>=1.0,<2'
"$PY" -c 'import standardwebhooks; print("standardwebhooks for", "'"$PY"'")'
