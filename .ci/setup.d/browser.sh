#!/usr/bin/env bash
# Headless browser for the password page's end-to-end tests (and the status page's):
# Debian's chromium and its WebDriver, chromium-driver (crates/testkit/src/browser.rs runs
# `chromedriver`; override with WRITEBACK_TEST_CHROMEDRIVER). Debian ships one version of
# each at a time (bookworm-security), always matched to each other. Idempotent.
set -euo pipefail
missing=()
for p in chromium chromium-driver fonts-dejavu-core; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
chromium --version
chromedriver --version
