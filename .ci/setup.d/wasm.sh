#!/usr/bin/env bash
# WASM plugins (issue 7): the tests build the example and test guests for
# wasm32-wasip2, whose output is a component directly (no extra tools needed).
set -euo pipefail
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi
