#!/usr/bin/env bash
# OpenLDAP for the tests: the test kit (crates/testkit/src/slapd.rs) runs its own
# throwaway slapd with ppolicy and TLS on free 127.0.0.1 ports; it needs slapd, slapadd,
# the back_mdb and ppolicy modules and the schema files from these packages.
# Debian starts a system slapd on install (0.0.0.0:389), which would stop Samba from
# binding 127.0.0.2:389: it is kept from starting, or stopped and disabled. Idempotent.
set -euo pipefail

missing=()
for p in slapd ldap-utils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update
  export DEBIAN_FRONTEND=noninteractive
  # Where policy-rc.d is honoured, the install starts no service.
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

# The system instance: stopped and disabled, whichever service manager there is.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl stop slapd 2>/dev/null || true
  systemctl disable slapd 2>/dev/null || true
elif command -v service >/dev/null 2>&1; then
  service slapd stop >/dev/null 2>&1 || true
fi
# Without a service manager it may still run from the install: stop it by its pid file
# (never by name: a test kit instance must survive).
if [ -f /run/slapd/slapd.pid ]; then
  kill "$(cat /run/slapd/slapd.pid)" 2>/dev/null || true
  rm -f /run/slapd/slapd.pid
fi
if command -v ss >/dev/null 2>&1 && ss -ltnH | awk '{print $4}' | grep -Eq '^(0\.0\.0\.0|\*|\[::\]):(389|636)$'; then
  echo "ldap.sh: something still listens on a wildcard address on 389/636:" >&2
  ss -ltnp | grep -E ':(389|636) ' >&2 || true
  exit 1
fi
/usr/sbin/slapd -VV 2>&1 | head -1
