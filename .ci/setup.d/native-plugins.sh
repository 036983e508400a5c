#!/usr/bin/env bash
# Native plugin tests: zlib's shared library stands in for "a library that is not a
# writeback plugin" (it is on every Debian system; checked here so a missing one is
# a clear setup error, not a test failure). The plugins themselves are built by the
# tests with cargo. Idempotent.
set -euo pipefail
if ! dpkg-query -W -f='${Status}' zlib1g 2>/dev/null | grep -q 'install ok installed'; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends zlib1g
fi
