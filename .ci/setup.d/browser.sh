#!/usr/bin/env bash
# Headless browser for the password page's end-to-end tests (and the status page's):
# Debian's chromium and its WebDriver, chromium-driver (crates/testkit/src/browser.rs runs
# `chromedriver`; override with WRITEBACK_TEST_CHROMEDRIVER). Debian ships one version of
# each at a time (bookworm-security), always matched to each other. Idempotent.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
apt_install --no-recommends chromium chromium-driver fonts-dejavu-core
chromium --version
chromedriver --version
