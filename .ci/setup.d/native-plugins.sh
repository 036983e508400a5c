#!/usr/bin/env bash
# Native plugin tests: zlib's shared library stands in for "a library that is not a
# writeback plugin" (it is on every Debian system; checked here so a missing one is
# a clear setup error, not a test failure). The plugins themselves are built by the
# tests with cargo. Idempotent.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
apt_install --no-recommends zlib1g
