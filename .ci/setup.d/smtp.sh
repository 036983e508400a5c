#!/usr/bin/env bash
# SMTP test server for the notification tests: aiosmtpd (PyPI) for /usr/bin/python3.
# The test kit (crates/testkit/src/smtp.rs) runs exactly /usr/bin/python3 (override with
# WRITEBACK_TEST_PYTHON), so install into that interpreter. Idempotent.
set -euo pipefail
PY=/usr/bin/python3
if ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
  if ! "$PY" -m pip --version >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3-pip
  fi
  # Debian marks its Python as externally managed; this is a throwaway test machine.
  "$PY" -m pip install --quiet --break-system-packages 'aiosmtpd>=1.4,<2'
fi
"$PY" -c 'import aiosmtpd; print("aiosmtpd", aiosmtpd.__version__, "for", "'"$PY"'")'
