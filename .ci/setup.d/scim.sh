#!/usr/bin/env bash
# SCIM conformance checker for the SCIM source's end-to-end test: scim2-tester and the
# httpx2 engine of scim2-client (PyPI), for /usr/bin/python3 (the test runs exactly that
# interpreter; override with WRITEBACK_TEST_PYTHON). Versions pinned so a new checker
# release cannot change what CI checks without a commit. Idempotent.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
if ! "$PY" -c 'import importlib.metadata as m, sys; sys.exit(0 if (m.version("scim2-tester"), m.version("httpx2")) == ("0.5.2", "2.16.2") else 1)' 2>/dev/null; then
  pip_install "$PY" scim2-tester==0.5.2 scim2-client==0.13.2 scim2-models==0.12.3 httpx2==2.16.2
fi
"$PY" -c 'import importlib.metadata as m; print("scim2-tester", m.version("scim2-tester"), "httpx2", m.version("httpx2"), "for", "'"$PY"'")'
