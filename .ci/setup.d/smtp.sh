#!/usr/bin/env bash
# SMTP test server for the notification tests: aiosmtpd (PyPI) for /usr/bin/python3.
# The test kit (crates/testkit/src/smtp.rs) runs exactly /usr/bin/python3 (override with
# WRITEBACK_TEST_PYTHON), so install into that interpreter. Idempotent.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
"$PY" -c 'import aiosmtpd' 2>/dev/null || pip_install "$PY" 'aiosmtpd>=1.4,<2'
"$PY" -c 'import aiosmtpd; print("aiosmtpd", aiosmtpd.__version__, "for", "'"$PY"'")'
