#!/usr/bin/env bash
# 389 Directory Server for the tests: the test kit (crates/testkit/src/ds389.rs) builds its
# own throwaway instance under a private prefix (no systemd, 127.0.0.1 only) and copies it
# per test run on free ports. It needs dscreate, dsctl (lib389) and ns-slapd from
# Debian's 389-ds-base, certutil (libnss3-tools) for its TLS database, and ldapmodify
# (ldap-utils) to seed the template.
# The package creates no instance and starts nothing. Idempotent.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
apt_install --no-recommends 389-ds-base libnss3-tools ldap-utils
/usr/sbin/ns-slapd -v 2>&1 | grep -m1 -i '389-Directory' || true
