#!/usr/bin/env bash
# 389 Directory Server for the tests: the test kit (crates/testkit/src/ds389.rs) builds its
# own throwaway instance under a private prefix (no systemd, 127.0.0.1 only) and copies it
# per test run on free ports. It needs dscreate, dsctl (lib389) and ns-slapd from
# Debian's 389-ds-base, certutil (libnss3-tools) for its TLS database, and ldapmodify
# (ldap-utils) to seed the template.
# The package creates no instance and starts nothing. Idempotent.
set -euo pipefail

missing=()
for p in 389-ds-base libnss3-tools ldap-utils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update
  export DEBIAN_FRONTEND=noninteractive
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  status=0
  apt-get install -y --no-install-recommends "${missing[@]}" || status=$?
  if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  [ "$status" = 0 ] || exit "$status"
fi
/usr/sbin/ns-slapd -v 2>&1 | grep -m1 -i '389-Directory' || true
